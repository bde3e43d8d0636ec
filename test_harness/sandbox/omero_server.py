"""The sandbox's emulated OMERO server: users, groups, light admins and sessions.

One JSON file holds it, shared by every process that talks to "OMERO" in a sandbox run: the
emulated omero-py under omero_py/ (what the importer's session helper runs in) and the emulated
importer (omero_importer.py: omero-py's login before each import). Each change is made under
an exclusive lock, since several importers may log in at once.

What OMERO checks, and where (ome/omero-server):
- a password login: the user exists and the password matches, else Glacier2's
  PermissionDeniedException "Password check failed" (ome/security/auth/PasswordUtil via
  SessionManagerImpl.createFromRequest: AuthenticationException);
- joining a session by its key: the session is live (not closed, not past its time to live
  or idle time), else PermissionDeniedException (SessionManagerImpl: the key is the password);
- ISession.createSessionWithTimeouts (services/sessions/SessionBean.java): an admin (a member
  of `system`) with the Sudo privilege may create a session for anyone; any other caller only
  in the groups it leads, else SecurityViolation "Group sudo is not permitted for group G
  (gid=N)" (SessionManagerImpl.validateSessionInputs); an unknown user is
  RemovedSessionException "Cannot find a user with name U" (executeLookupUser);
- using a session: a non-admin must be a member of the session's group, else SecurityViolation
  "User N is not a member of group G and cannot login" (security/basic/
  BasicSecuritySystem.loadEventContext; a public group is not emulated: stricter).
"""

import contextlib
import fcntl
import json
import os
import time
import uuid as uuid_module

SYSTEM_GROUP = "system"
SUDO = "Sudo"
DEFAULT_PORT = 4064


class OmeroRefusal(Exception):
    """What the server answered: `kind` is the exception class OMERO raises."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message = kind, message


def write(path, host, users, port=DEFAULT_PORT):
    """A fresh server at `path`: `users` {name: {"password", "groups", "privileges", "leads"}}."""
    document = {"host": host, "port": port, "users": {}, "groups": {}, "sessions": {}}
    for name, user in sorted(users.items()):
        document["users"][name] = {"id": len(document["users"]) + 2, "password": user.get("password"),
                                   "groups": list(user.get("groups", [])),
                                   "privileges": list(user.get("privileges", [])),
                                   "leads": list(user.get("leads", []))}
        for group in user.get("groups", []):
            document["groups"].setdefault(group, len(document["groups"]) + 3)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
    os.chmod(path, 0o600)


class OmeroServer(object):
    def __init__(self, path):
        self.path = path

    @contextlib.contextmanager
    def _state(self, change=False):
        with open(self.path, "r+" if change else "r", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if change else fcntl.LOCK_SH)
            state = json.load(handle)
            yield state
            if change:
                handle.seek(0)
                handle.truncate()
                json.dump(state, handle, indent=1, sort_keys=True)

    @property
    def address(self):
        with self._state() as state:
            return state["host"], state["port"]

    def login(self, name, password):
        """A session of `name` in its default group (createSession); its uuid."""
        with self._state(change=True) as state:
            user = state["users"].get(name)
            if user is None or user["password"] is None or user["password"] != password:
                raise OmeroRefusal("PermissionDeniedException", "Password check failed")
            group = next((g for g in user["groups"] if g != "user"), "user")
            return _new_session(state, name, group, None, 0, 600)

    def join(self, uuid):
        """The live session `uuid` (joinSession: the key is both name and password)."""
        with self._state(change=True) as state:
            session = state["sessions"].get(uuid)
            if session is None or not _is_live(session):
                raise OmeroRefusal("PermissionDeniedException", "Password check failed")
            session["last"] = time.time()
            return dict(session, uuid=uuid)

    def create_session_for(self, caller_uuid, name, group, ttl_ms, idle_ms):
        """ISession.createSessionWithTimeouts called in the session `caller_uuid`."""
        with self._state(change=True) as state:
            caller = state["sessions"].get(caller_uuid)
            if caller is None or not _is_live(caller):
                raise OmeroRefusal("RemovedSessionException", "No session with uuid: %s" % caller_uuid)
            sudoer = state["users"][caller["user"]]
            if name not in state["users"]:
                raise OmeroRefusal("RemovedSessionException", "Cannot find a user with name %s" % name)
            if group not in state["groups"]:  # executeSessionContextLookup finds no group: createSession
                raise OmeroRefusal("RemovedSessionException", "No info in database for %s" % name)
            may_sudo = SYSTEM_GROUP in sudoer["groups"] and SUDO in sudoer["privileges"]
            if not may_sudo and group not in sudoer["leads"]:
                raise OmeroRefusal("SecurityViolation", "Group sudo is not permitted for group %s (gid=%s)"
                                   % (group, state["groups"][group]))
            return _new_session(state, name, group, caller["user"], ttl_ms // 1000, idle_ms // 1000)

    def check_member(self, session):
        """SecurityViolation unless the session's user may work in the session's group."""
        with self._state() as state:
            user = state["users"][session["user"]]
            if SYSTEM_GROUP not in user["groups"] and session["group"] not in user["groups"]:
                raise OmeroRefusal("SecurityViolation", "User %d is not a member of group %d and cannot login"
                                   % (user["id"], state["groups"].get(session["group"], -1)))

    def kill(self, uuid):
        with self._state(change=True) as state:
            session = state["sessions"].get(uuid)
            if session is not None:
                session["closed"] = True

    def sessions(self):
        """{uuid: session} of every session ever opened (closed ones marked)."""
        with self._state() as state:
            return state["sessions"]


def _new_session(state, name, group, sudoer, ttl_seconds, idle_seconds):
    uuid = str(uuid_module.uuid4())
    now = time.time()
    state["sessions"][uuid] = {"user": name, "group": group, "sudoer": sudoer, "ttl_seconds": ttl_seconds,
                               "idle_seconds": idle_seconds, "started": now, "last": now, "closed": False}
    return uuid


def _is_live(session):
    now = time.time()
    if session["closed"]:
        return False
    if session["ttl_seconds"] and now - session["started"] > session["ttl_seconds"]:
        return False
    return not (session["idle_seconds"] and now - session["last"] > session["idle_seconds"])


#: The light admin the sandbox's importer logs in as (docs/deploy.md section 5a).
IMPORTER_ADMIN = "omero-irods-importer"
HOST = "omero.sandbox"


def directory(scenario_data, config):
    """OMERO's users and their groups for a scenario: its `omero.users`, else every user the
    policy's user map names (and every iRODS user, for same-name mappings) in every group it
    names (and every iRODS group): OMERO knows whoever the admin mapped."""
    declared = scenario_data.get("omero", {}).get("users")
    if declared is not None:
        return declared
    irods_users = scenario_data.get("users", [])
    users = {user["name"] for user in irods_users if user.get("type", "rodsuser") == "rodsuser"}
    groups = {group for user in irods_users for group in user.get("groups", [])}
    for zone in (config.get("zones") or {}).values():
        user_map = zone.get("user_map") if isinstance(zone, dict) else None
        if not isinstance(user_map, dict):
            continue
        same_name = user_map.get("same_name") or {}
        users.update(same_name.get("users", []))
        groups.update(same_name.get("groups", []))
        try:
            with open(user_map["file"], encoding="utf-8") as handle:
                mapped = json.load(handle)
            users.update(mapped.get("users") or {})
            groups.update(mapped.get("groups") or {})
        except (KeyError, TypeError, OSError, ValueError):
            pass  # the policy reports a broken map itself
    return {name: sorted(groups) for name in users}


def install(folder, importer, users, python=None, owner=None):
    """Deploy the emulated OMERO into `folder` and point the policy config's `omero_import`
    (`importer`) at it: the importer's login through it, unless the config logs in by itself
    (`login`, or `sudo` with a password). `owner`: the account that runs the importer (the
    real tier's `irods`), given every file."""
    server_file, login = deploy(folder, users, python)
    if owner:
        import shutil

        for path in [folder] + [os.path.join(folder, name) for name in os.listdir(folder)]:
            shutil.chown(path, owner, owner)
    importer.setdefault("env", {})["OMERO_IRODS_SANDBOX_OMERO"] = server_file
    for key in ("server", "port"):
        importer.setdefault(key, login[key])
    if "login" not in importer and not importer.get("sudo"):
        importer["login"] = login["login"]
    return server_file


def deploy(folder, users, python=None):
    """The sandbox's OMERO, set up as docs/deploy.md section 5a tells an admin: a server whose
    directory is `users` ({name: [groups]}) plus a light admin restricted to Sudo, its
    credentials in a private file, and the "OMERO Python" that runs the session helper.
    The `omero_import` settings that log the importer in through it."""
    from omero_irods_sandbox import omero_python

    os.makedirs(folder, mode=0o700, exist_ok=True)
    server_file = os.path.join(folder, "omero_server.json")
    password = uuid_module.uuid4().hex
    directory = {name: {"groups": list(groups)} for name, groups in users.items()}
    directory[IMPORTER_ADMIN] = {"password": password, "groups": [SYSTEM_GROUP, "user"], "privileges": [SUDO]}
    write(server_file, HOST, directory)
    credentials = os.path.join(folder, "omero_importer.json")
    handle = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump({"user": IMPORTER_ADMIN, "password": password}, stream)
    launcher = os.path.join(folder, "omero-python")
    omero_python.write_launcher(launcher, server_file, python)
    return server_file, {"server": HOST, "port": DEFAULT_PORT,
                         "login": {"credentials_file": credentials, "python": launcher}}
