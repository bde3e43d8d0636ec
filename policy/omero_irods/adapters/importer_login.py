"""The importer's OMERO login: a session of the mapped user that lasts as long as one import,
opened for it by an OMERO light admin restricted to the Sudo privilege.

`omero import --sudo ADMIN -u USER` logs in with ADMIN's password from `-w` (argv) or
`OMERO_PASSWORD` (environment), and otherwise looks only for stored sessions of USER (omero-py
src/omero/plugins/sessions.py, SessionsControl.login): a session stored for the admin is never
used. So, for each import run (omero_import.ImporterLogin):

1. read the light admin's credentials file (owned by this account or root, mode 0600/0400,
   refused otherwise), here, in the rule's process;
2. create a private folder (mode 0700) and run omero_session_helper `open` in OMERO's Python
   with the credentials on its stdin: it creates the user's session in the user's group and
   stores it in that folder with omero-py's own session store;
3. run the importer with OMERO_SESSIONDIR naming the folder: its login joins that session
   (the argv carries `-s -p -u -g`, no secret);
4. whatever happened, run `close` (the session is killed) and remove the folder.

The admin's password never reaches an argv, an environment, a log or a file other than its
own. The user's session key exists in the folder and, because omero-py passes it on with
`-k`, in the Java importer's argv (src/omero/plugins/import.py set_login_arguments): it is
the mapped user's only, and valid while the importer runs: the check rule kills it when it
sees the importer end, and OMERO ends it by itself once nobody has pinged it for its idle time
(omero_import.session_lifetimes).
"""

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

from omero_irods.errors import Transient

HELPER_MODULE = "omero_irods.adapters.omero_session_helper"
SESSION_DIR_ENV = "OMERO_SESSIONDIR"
#: Opening or closing a session is a few calls; a helper that hangs longer is stopped.
HELPER_TIMEOUT_SECONDS = 120
#: A credentials file is a few lines of JSON.
MAX_CREDENTIALS_BYTES = 64 * 1024
_STDERR_TAIL_LINES = 5


@contextlib.contextmanager
def importer_session(login, environ):
    """The environment to run the importer with: `environ` as it is when `login` is None, else
    with OMERO_SESSIONDIR naming a private folder that holds the user's session."""
    if login is None:
        yield environ
        return
    folder = tempfile.mkdtemp(prefix="omero-irods-session-")
    try:
        env = open_session(login, environ, folder)  # closes the session itself if it fails
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield env
    finally:
        close_session(login, environ, folder)


def open_session(login, environ, folder):
    """Open the user's session, stored in `folder` (an empty private folder of the caller's):
    the environment the importer runs with. The session outlives this call (a detached import
    runs on after its rule returned): close_session ends it."""
    credentials = read_credentials(login.credentials_file)  # nothing runs without private ones
    env = dict(environ)
    env[SESSION_DIR_ENV] = folder
    try:
        request = {"server": login.server, "port": login.port, "admin": credentials["user"],
                   "password": credentials["password"], "user": login.user, "group": login.group,
                   "ttl_seconds": login.ttl_seconds, "idle_seconds": login.idle_seconds}
        _run_helper(login, "open", request, env)
    except BaseException:
        close_session(login, environ, folder)
        raise
    return env


def close_session(login, environ, folder):
    """Kill the session stored in `folder` (if any) and remove the folder."""
    env = dict(environ)
    env[SESSION_DIR_ENV] = folder
    try:
        _run_helper(login, "close", {"server": login.server, "port": login.port}, env)
    except Transient:
        pass  # nobody pings it any more: OMERO ends it once idle (omero_import.session_lifetimes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_credentials(path):
    """{'user', 'password'} of the light admin. Transient naming the file and the fix (never
    its content) when it is missing, not a regular file, readable or writable by group or
    others, owned by another account than root or this one, or not the expected JSON."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise Transient("the OMERO importer credentials file %s cannot be read: %s"
                        % (path, error.strerror or error))
    try:
        status = os.fstat(handle)
        _check_private(path, status)
        raw = os.read(handle, MAX_CREDENTIALS_BYTES + 1)
    finally:
        os.close(handle)
    try:
        document = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_CREDENTIALS_BYTES else None
    except ValueError:
        document = None
    if not (isinstance(document, dict) and isinstance(document.get("user"), str) and document["user"]
            and isinstance(document.get("password"), str) and document["password"]):
        raise Transient("the OMERO importer credentials file %s is not JSON like {\"user\": \"NAME\", "
                        "\"password\": \"SECRET\"}" % path)
    return {"user": document["user"], "password": document["password"]}


def _check_private(path, status):
    if not stat.S_ISREG(status.st_mode):
        raise Transient("the OMERO importer credentials file %s is not a regular file" % path)
    if status.st_mode & 0o077:
        raise Transient("the OMERO importer credentials file %s has mode %04o: group and others must have no "
                        "access (chmod 600 %s)" % (path, stat.S_IMODE(status.st_mode), path))
    if status.st_uid not in (0, os.geteuid()):
        raise Transient("the OMERO importer credentials file %s belongs to uid %d: it must belong to root or "
                        "to the account running the importer (uid %d)" % (path, status.st_uid, os.geteuid()))


def helper_argv(login, action):
    """`PYTHON -m omero_irods.adapters.omero_session_helper ACTION`: nothing secret in it."""
    return [login.python or sys.executable, "-m", HELPER_MODULE, action]


def _run_helper(login, action, request, env):
    try:
        done = subprocess.run(helper_argv(login, action), input=json.dumps(request), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                              errors="replace", timeout=HELPER_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise Transient("the OMERO Python %s (omero_import.login.python) is not installed on this server"
                        % login.python)
    except subprocess.TimeoutExpired:
        raise Transient("the OMERO session helper (%s) did not answer within %ds" % (action, HELPER_TIMEOUT_SECONDS))
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
        raise Transient("could not %s the OMERO session of %s (group %s) on %s: %s" % (
            action, login.user, login.group, login.server, " | ".join(tail) or "exit %d" % done.returncode))
