"""Open the service account's iRODS session from its environment file, refusing unsafe files.

The OMERO side holds ONE iRODS service account, in the files iCommands use:
`irods_environment.json` ($IRODS_ENVIRONMENT_FILE, else ~/.irods/irods_environment.json) and
the scrambled password file it names (`irods_authentication_file`, $IRODS_AUTHENTICATION_FILE,
else ~/.irods/.irodsA; see python-irodsclient irods/session.py). The OMERO.scripts see only
HOME (client/settings.py says why), so for them the files are the ~/.irods defaults. A
password that other OS accounts can read is no secret: such files are refused, with the
chmod that fixes them. Nothing here prints or logs a password.
"""

import contextlib
import json
import os
import stat
from collections import namedtuple

from omero_irods.adapters import prc
from omero_irods.client import settings

REQUIRED_ENV_KEYS = ("irods_host", "irods_port", "irods_user_name", "irods_zone_name")
# Keys under which an environment file may hold a secret inline (PRC reads `password`).
SECRET_ENV_KEYS = ("password", "irods_password")
# Schemes whose secret lives in the auth file (PRC irods/session.py _configure_account).
SCHEMES_WITH_AUTH_FILE = ("native", "pam", "pam_password")

#: The service account configured on this host: its checked environment file and landing zone.
ServiceAccount = namedtuple("ServiceAccount", "env_path landing_zone mark_key", defaults=(None,))


class CredentialsError(Exception):
    """The environment or auth file is missing, malformed or unsafe; the message says which."""


def load_environment(env_file=None):
    """(path, settings) of the irods_environment.json to use; clear errors when unusable."""
    path = os.path.abspath(os.path.expanduser(env_file or prc.default_env_file()))
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise CredentialsError(
            "%s: iRODS environment file not found (give --irods-env FILE or set "
            "IRODS_ENVIRONMENT_FILE; the OMERO.scripts read only "
            "~/.irods/irods_environment.json of the OS account running OMERO)" % path)
    except OSError as error:
        raise CredentialsError("%s: cannot read the iRODS environment file: %s" % (path, error.strerror))
    try:
        env = json.loads(text)
    except ValueError as error:
        raise CredentialsError("%s: not valid JSON: %s" % (path, error))
    if not isinstance(env, dict):
        raise CredentialsError("%s: must hold a JSON object" % path)
    missing = [key for key in REQUIRED_ENV_KEYS if key not in env]
    if missing:
        raise CredentialsError("%s: missing %s" % (path, ", ".join(missing)))
    if any(key in env for key in SECRET_ENV_KEYS):
        require_private(path, "iRODS environment file holding a password")
    return path, env


def auth_file_for(env_path, env):
    """The auth file the session will read, checked to be private; None for other schemes.

    python-irodsclient (irods/session.py _configure_account) always authenticates the native
    scheme with the auth file and ignores an inline `password`; the PAM schemes use an inline
    `password` when there is one, else the auth file (which PRC also rewrites after a PAM
    login). So the auth file is always checked when it exists, and required unless a PAM
    scheme has its password inline.
    """
    scheme = str(env.get("irods_authentication_scheme", "native")).lower()
    if scheme not in SCHEMES_WITH_AUTH_FILE:
        return None
    inline = [key for key in SECRET_ENV_KEYS if key in env]
    path = os.path.abspath(os.path.expanduser(prc.default_auth_file(env)))
    if os.path.exists(path):
        require_private(path, "iRODS authentication file")
    elif not (inline and scheme != "native"):
        raise CredentialsError(
            "%s: iRODS authentication file not found (needed by %s; create it with `iinit` "
            "as the service account)" % (path, env_path))
    if inline and scheme == "native":
        raise CredentialsError(
            "%s: holds an inline `%s`, which the native scheme does not use: python-irodsclient "
            "authenticates with the authentication file %s. Remove the key (and store the "
            "password with `iinit` if it is not there)" % (env_path, inline[0], path))
    return path


def require_private(path, what):
    """Refuse a regular file that group or others may read or write."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise CredentialsError("%s: cannot check the %s: %s" % (path, what, error.strerror))
    if not stat.S_ISREG(mode):
        raise CredentialsError("%s: the %s is not a regular file" % (path, what))
    if mode & 0o077:
        raise CredentialsError(
            "%s: the %s is accessible by group or others (mode %04o); refusing to use it. "
            "Fix with: chmod 600 %s" % (path, what, stat.S_IMODE(mode), path))


#: The scrambled password iinit writes (irods/irods lib/core/src/obf.cpp obfEncodeByKey; read
#: by python-irodsclient irods/password_obfuscation.py decode): '.', five characters, the
#: key-sequence letter 'e' + index (python-irodsclient has 16 sequences: seq_list), then
#: the scrambled password, printable ASCII, optionally ending in NUL and a newline.
_SEQUENCE_LETTERS = frozenset(chr(ord("e") + index) for index in range(16))


def checked_auth_file(env_path, env):
    """auth_file_for, and the file's content checked to be a password iinit scrambled (the
    command-line client checks this before connecting; see require_scrambled_password)."""
    path = auth_file_for(env_path, env)
    if path is not None and os.path.exists(path):
        require_scrambled_password(path)
    return path


def require_scrambled_password(path):
    """Refuse an auth file python-irodsclient could not decode (it would raise IndexError or
    UnicodeDecodeError from deep inside, or silently use a wrong key)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(4097)
    except OSError as error:
        raise CredentialsError("%s: cannot read the iRODS authentication file: %s" % (path, error.strerror))
    text = raw.rstrip(b"\n").rstrip(b"\0")
    problem = None
    if len(raw) > 4096:
        problem = "it is far too long"
    elif not text:
        problem = "it is empty"
    elif any(byte < 0x20 or byte > 0x7e for byte in text):
        problem = "it holds characters iinit never writes (binary data, or several lines)"
    elif len(text) < 8 or text[:1] != b"." or chr(text[6]) not in _SEQUENCE_LETTERS:
        problem = "it does not have the form iinit writes"
    if problem:
        raise CredentialsError(
            "%s: malformed iRODS authentication file (%s); store the service account's password "
            "again with `iinit` (as the OS account that runs the push)" % (path, problem))


def open_session(env_file=None):
    """An iRODS session for the service account (python-irodsclient); close it with close()."""
    env_path, env = load_environment(env_file)
    auth_path = auth_file_for(env_path, env)
    try:
        return prc.open_session(env_path, auth_path)
    except (ValueError, IndexError, UnicodeError, KeyError, TypeError) as error:
        # python-irodsclient reads both files while building the session; what it cannot
        # parse surfaces as one of these, never as a traceback for the user
        raise CredentialsError("%s: python-irodsclient cannot use the iRODS environment or "
                               "authentication file (%s: %s)" % (env_path, type(error).__name__, error))


def service_account(env_file=None, landing_zone=None):
    """The ServiceAccount of this host, its files checked (CredentialsError) and its landing
    zone resolved (settings.SettingsError), before anything connects."""
    env_path, env = load_environment(env_file)
    auth_file_for(env_path, env)
    landing = settings.landing_zone(env["irods_zone_name"], env["irods_user_name"],
                                    explicit=landing_zone, env=env, env_path=env_path)
    return ServiceAccount(env_path, landing, settings.mark_key(env=env, env_path=env_path))


@contextlib.contextmanager
def irods_session(env_file=None):
    """`with irods_session() as session:` -- opened from the environment file, always closed."""
    session = open_session(env_file)
    try:
        yield session
    finally:
        prc.close_session(session)
