"""Open and close the importer's OMERO session; runs in OMERO's own Python (omero-py).

    PYTHON -m omero_irods.adapters.omero_session_helper open|close  < request.json

Run by adapters.importer_login with OMERO_SESSIONDIR naming a private folder (mode 0700).

`open` reads {"server", "port", "admin", "password", "user", "group", "ttl_seconds",
"idle_seconds"} from stdin (the lifetimes: omero_import.session_lifetimes; 0 = none),
logs in as the light admin, creates a session of `user` in `group` the way omero-py's own
`--sudo` login does (src/omero/util/sessions.py SessionsStore.create: a Principal with name,
group and eventType "User", passed to ISession.createSessionWithTimeouts; a light admin needs
the Sudo privilege for it), ends the admin's own session, and stores the new one in
OMERO_SESSIONDIR with omero-py's SessionsStore, as the current session of that server, user and
port. `omero import -s SERVER -p PORT -u USER -g GROUP` (and the imports `omero transfer
unpack` starts with a fresh CLI, no arguments) then join it: omero-py
src/omero/plugins/sessions.py SessionsControl.login attaches the current stored session when
server, user and port match and the group does not conflict.

`close` reads {"server", "port"}, joins the stored session and kills it
(omero.clients.BaseClient.killSession), then removes it from the store.

Nothing secret is printed: stderr says what happened, without password or session key.
Exit codes: 0 done, 2 bad request, 3 OMERO refused (wrong password, no Sudo privilege, no such
user or group), 4 OMERO unreachable or failing.
"""

import json
import os
import sys

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 2, 3, 4
#: The idle time of a request that names none (a runner of an older version): the clients
#: that use the session ping it every 300 s (omero_import.SESSION_IDLE_SECONDS).
IDLE_SECONDS = 600
#: A session that could end by neither time nor idleness would outlive a lost importer.
MIN_IDLE_SECONDS = 60


class HelperError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def open_session(request, session_dir, client_factory):
    """Create the user's session and store it as current in `session_dir`; its uuid."""
    import omero
    import omero.sys
    from omero.util.sessions import SessionsStore

    server, port, user, group = _target(request)
    admin, password = _text(request, "admin"), _text(request, "password")
    ttl_seconds, idle_seconds = _lifetimes(request)
    client = client_factory(server, port)
    try:
        factory = client.createSession(admin, password)
        principal = omero.sys.Principal()
        principal.name = user
        principal.group = group
        principal.eventType = "User"
        session = factory.getSessionService().createSessionWithTimeouts(
            principal, ttl_seconds * 1000, idle_seconds * 1000)
        uuid = session.getUuid().getValue()
    finally:
        client.__del__()  # ends the admin's session and destroys its Ice communicator
    props = {"omero.host": server, "omero.port": str(port), "omero.group": group}
    store = SessionsStore(session_dir)
    store.add(server, user, uuid, dict(props), sudo=admin)
    store.set_current(server, user, uuid, props)
    return uuid


def close_session(request, session_dir, client_factory):
    """Kill the session stored as current in `session_dir`; False when there is none."""
    from omero.util.sessions import SessionsStore

    store = SessionsStore(session_dir)
    server, user, uuid, port = store.get_current()
    if not uuid:
        return False
    client = client_factory(server, int(port))
    try:
        client.joinSession(uuid)
        client.killSession()
    finally:
        client.__del__()
    store.remove(server, user, uuid)
    return True


def _lifetimes(request):
    """(time to live, time to idle) in seconds: the time to live 0 (none: the session lives
    while it is used) or at least 60; the idle time always bounded, so that a session nobody
    uses any more ends by itself."""
    ttl_seconds = request.get("ttl_seconds")
    idle_seconds = request.get("idle_seconds")
    idle_seconds = IDLE_SECONDS if idle_seconds is None else idle_seconds
    if not _is_int(ttl_seconds) or not (ttl_seconds == 0 or ttl_seconds >= 60):
        raise HelperError(EXIT_USAGE, "ttl_seconds must be 0 (no time to live) or at least 60 seconds")
    if not _is_int(idle_seconds) or idle_seconds < MIN_IDLE_SECONDS:
        raise HelperError(EXIT_USAGE, "idle_seconds must be at least %d seconds" % MIN_IDLE_SECONDS)
    return ttl_seconds, idle_seconds


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _target(request):
    server, port = _text(request, "server"), request.get("port") or 4064
    if not isinstance(port, int):
        raise HelperError(EXIT_USAGE, "port must be a number")
    user, group = request.get("user"), request.get("group")
    if user is None:
        return server, port, None, None
    return server, port, _text(request, "user"), _text(request, "group")


def _text(request, key):
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise HelperError(EXIT_USAGE, "%s is missing from the request" % key)
    return value


def _client(server, port):
    import omero.clients

    return omero.client(server, port)


def _omero_failure(error):
    """HelperError for an exception of omero-py or Ice, naming its class and OMERO's message
    (an omero.ServerError's str() carries the Java stack trace)."""
    import omero
    import omero.clients  # noqa: F401 -- loads the Glacier2 types too
    from Glacier2 import PermissionDeniedException

    name = type(error).__name__
    message = getattr(error, "message", "") or getattr(error, "reason", "") or ""
    text = "%s: %s" % (name, message) if isinstance(message, str) and message else name
    refused = (PermissionDeniedException, omero.SecurityViolation, omero.ApiUsageException,
               omero.RemovedSessionException)
    if isinstance(error, refused):
        return HelperError(EXIT_REFUSED, "OMERO refused: %s" % text)
    return HelperError(EXIT_UNREACHABLE, "OMERO could not be reached or failed: %s" % text)


def main(argv=None, stdin=None, stderr=None, client_factory=None):
    argv = sys.argv[1:] if argv is None else argv
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    client_factory = client_factory or _client
    try:
        if argv not in (["open"], ["close"]):
            raise HelperError(EXIT_USAGE, "usage: python -m omero_irods.adapters.omero_session_helper "
                                          "open|close < request.json")
        session_dir = os.environ.get("OMERO_SESSIONDIR")
        if not session_dir:
            raise HelperError(EXIT_USAGE, "OMERO_SESSIONDIR must name the private session folder")
        try:
            request = json.loads(stdin.read())
        except ValueError:
            raise HelperError(EXIT_USAGE, "the request on stdin is not JSON")
        if not isinstance(request, dict):
            raise HelperError(EXIT_USAGE, "the request on stdin is not a JSON object")
        try:
            if argv == ["open"]:
                server, _port, user, group = _target(request)
                open_session(request, session_dir, client_factory)
                stderr.write("OMERO session opened for %s in group %s on %s\n" % (user, group, server))
            elif close_session(request, session_dir, client_factory):
                stderr.write("OMERO session closed\n")
        except HelperError:
            raise
        except Exception as error:
            raise _omero_failure(error)
    except HelperError as error:
        stderr.write("omero_session_helper: %s\n" % error)
        return error.code
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
