"""The service account's credentials: found where iCommands put them, refused when not private."""

import json
import os

import pytest

from omero_irods.adapters import prc
from omero_irods.client import credentials
from omero_irods.client.credentials import CredentialsError

ENV = {"irods_host": "irods.example.org", "irods_port": 1247, "irods_user_name": "omero-svc",
       "irods_zone_name": "tempZone"}


@pytest.fixture
def irods_dir(tmp_path, monkeypatch):
    """~/.irods of the OMERO server's OS account: environment + scrambled password (mode 600)."""
    directory = tmp_path / ".irods"
    directory.mkdir()
    env_file = directory / "irods_environment.json"
    auth_file = directory / ".irodsA"
    env_file.write_text(json.dumps(dict(ENV, irods_authentication_file=str(auth_file))))
    auth_file.write_text(_scrambled("s3cret"))
    auth_file.chmod(0o600)
    monkeypatch.delenv("IRODS_ENVIRONMENT_FILE", raising=False)
    monkeypatch.delenv("IRODS_AUTHENTICATION_FILE", raising=False)
    return directory


def _scrambled(password):
    irods_obfuscation = pytest.importorskip("irods.password_obfuscation")
    return irods_obfuscation.encode(password)


def test_a_private_environment_opens_a_real_python_irodsclient_session(irods_dir):
    """PRC's iRODSSession reads the env + auth files without connecting (irods/session.py)."""
    pytest.importorskip("irods")
    session = credentials.open_session(str(irods_dir / "irods_environment.json"))
    try:
        assert (session.username, session.zone, session.host) == ("omero-svc", "tempZone",
                                                                  "irods.example.org")
        assert session.pool.account.password == "s3cret"
    finally:
        prc.close_session(session)


def test_IRODS_ENVIRONMENT_FILE_is_the_default_location(irods_dir, monkeypatch):
    monkeypatch.setenv("IRODS_ENVIRONMENT_FILE", str(irods_dir / "irods_environment.json"))
    path, env = credentials.load_environment()
    assert path == str(irods_dir / "irods_environment.json") and env["irods_user_name"] == "omero-svc"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_an_auth_file_readable_by_others_is_refused_with_the_fix(irods_dir, monkeypatch, mode):
    opened = []
    monkeypatch.setattr(prc, "open_session", lambda *a: opened.append(a))
    (irods_dir / ".irodsA").chmod(mode)
    with pytest.raises(CredentialsError) as raised:
        credentials.open_session(str(irods_dir / "irods_environment.json"))
    message = str(raised.value)
    assert ".irodsA: the iRODS authentication file is accessible by group or others" in message
    assert "chmod 600 %s" % (irods_dir / ".irodsA") in message
    assert "s3cret" not in message and opened == []


def test_an_environment_holding_a_password_must_be_private(irods_dir):
    env_file = irods_dir / "irods_environment.json"
    env_file.write_text(json.dumps(dict(ENV, password="inline")))
    env_file.chmod(0o644)
    with pytest.raises(CredentialsError, match="environment file holding a password is accessible"):
        credentials.load_environment(str(env_file))
    env_file.chmod(0o600)
    assert credentials.load_environment(str(env_file))[1]["password"] == "inline"


def test_missing_or_broken_files_are_named(irods_dir, tmp_path):
    with pytest.raises(CredentialsError, match="nowhere.json: iRODS environment file not found"):
        credentials.load_environment(str(tmp_path / "nowhere.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CredentialsError, match="broken.json: not valid JSON"):
        credentials.load_environment(str(broken))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"irods_host": "h"}))
    with pytest.raises(CredentialsError, match="partial.json: missing irods_port, irods_user_name"):
        credentials.load_environment(str(partial))
    os.remove(irods_dir / ".irodsA")
    with pytest.raises(CredentialsError, match=r"\.irodsA: iRODS authentication file not found"):
        credentials.open_session(str(irods_dir / "irods_environment.json"))


def test_the_session_is_closed_after_use_even_on_error(irods_dir, monkeypatch):
    closed = []

    class Session(object):
        def cleanup(self):
            closed.append(True)

    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: Session())
    with pytest.raises(RuntimeError):
        with credentials.irods_session(str(irods_dir / "irods_environment.json")):
            raise RuntimeError("boom")
    assert closed == [True]


# python-irodsclient irods/session.py _configure_account: for the native scheme the password
# always comes from the auth file (creds["password"] = get_irods_password(...)); an inline
# `password` counts only for the PAM schemes.


def test_native_reads_the_auth_file_so_it_is_checked_even_with_an_inline_password(irods_dir):
    """The environment's `password` key does not switch the auth-file check off: PRC ignores
    that key for native and authenticates with the (here world-readable) auth file."""
    from irods.session import iRODSSession

    env_file = irods_dir / "irods_environment.json"
    env_file.write_text(json.dumps(dict(ENV, irods_authentication_file=str(irods_dir / ".irodsA"),
                                        password="unused")))
    env_file.chmod(0o600)
    (irods_dir / ".irodsA").chmod(0o644)
    env_path, env = credentials.load_environment(str(env_file))
    assert iRODSSession(irods_env_file=env_path).pool.account.password == "s3cret"  # the file's
    with pytest.raises(CredentialsError, match="chmod 600 %s" % (irods_dir / ".irodsA")):
        credentials.auth_file_for(env_path, env)


@pytest.mark.parametrize("key", ["password", "irods_password"])
def test_an_inline_password_is_refused_for_native_with_what_to_do(irods_dir, key):
    env_file = irods_dir / "irods_environment.json"
    env_file.write_text(json.dumps(dict(ENV, irods_authentication_file=str(irods_dir / ".irodsA"),
                                        **{key: "hunter2-secret"})))
    env_file.chmod(0o600)
    env_path, env = credentials.load_environment(str(env_file))
    with pytest.raises(CredentialsError) as raised:
        credentials.auth_file_for(env_path, env)
    message = str(raised.value)
    assert message.startswith("%s: holds an inline `%s`" % (env_file, key))
    assert "Remove the key" in message and "hunter2" not in message


def test_pam_with_its_password_inline_needs_no_auth_file_but_a_present_one_must_be_private(irods_dir):
    env_file = irods_dir / "irods_environment.json"
    env_file.write_text(json.dumps(dict(ENV, irods_authentication_scheme="pam_password",
                                        irods_authentication_file=str(irods_dir / ".irodsA"),
                                        password="pam-secret")))
    env_file.chmod(0o600)
    env_path, env = credentials.load_environment(str(env_file))
    (irods_dir / ".irodsA").chmod(0o640)
    with pytest.raises(CredentialsError, match="accessible by group or others"):
        credentials.auth_file_for(env_path, env)
    os.remove(irods_dir / ".irodsA")
    assert credentials.auth_file_for(env_path, env) == str(irods_dir / ".irodsA")
