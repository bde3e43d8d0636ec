"""`omero-irods push` tells apart why nothing could be sent: iRODS unreachable (exit 4),
credentials refused or unusable (exit 3), landing zone missing (exit 3); never a traceback.

Unreachable goes through the real python-irodsclient session against a loopback port that
refuses connections (irods/connection.py raises NetworkException("Could not connect to
specified host and port: ...")). Refused credentials are python-irodsclient's own exception
classes (irods/exception.py: CAT_INVALID_AUTHENTICATION, CAT_INVALID_USER) raised from the
session layer, as its connection raises them when the server answers the login with that
code (irods/connection.py _login_native -> get_exception_by_code).
"""

import json
import socket
import time

import pytest

from faults import Faulty
from omero_irods.adapters import prc
from omero_irods.client import cli

exception = pytest.importorskip("irods.exception")
obfuscation = pytest.importorskip("irods.password_obfuscation")


def parse_and_run(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="omero-irods")
    commands = parser.add_subparsers(dest="command")
    for name in ("push", "list", "status"):
        sub = commands.add_parser(name)
        sub.set_defaults(_command=name)
        cli.add_arguments(sub, name)
    return cli.run(parser.parse_args(argv))


@pytest.fixture
def refusing_port():
    """A loopback port nothing listens on: bound (so no one else takes it), never listening,
    so a connect is refused at once."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    yield holder.getsockname()[1]
    holder.close()


def write_environment(tmp_path, port=1247, auth_text=None):
    auth = tmp_path / "irodsA"
    auth.write_text(obfuscation.encode("s3cret") if auth_text is None else auth_text)
    auth.chmod(0o600)
    env = tmp_path / "irods_environment.json"
    env.write_text(json.dumps({"irods_host": "127.0.0.1", "irods_port": port,
                               "irods_user_name": "omero-svc", "irods_zone_name": "tempZone",
                               "irods_authentication_file": str(auth)}))
    return str(env)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch, tmp_path):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the retries' backoff
    monkeypatch.setenv("OMERO_IRODS_PUSH_JOURNALS", str(tmp_path / "journals"))
    monkeypatch.delenv("OMERO_IRODS_LANDING_ZONE", raising=False)


def push_argv(run_dir, env, *extra):
    return ["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
            "--irods-env", env] + list(extra)


def test_an_unreachable_server_is_named_with_exit_4(tmp_path, run_dir, refusing_port, capsys):
    env = write_environment(tmp_path, port=refusing_port)
    status = parse_and_run(push_argv(run_dir, env))
    err = capsys.readouterr().err
    assert status == cli.EXIT_UNREACHABLE, err
    assert "iRODS is unreachable" in err and "127.0.0.1:%d" % refusing_port in err
    assert "landing zone" not in err and "Traceback" not in err
    # list and status say the same
    assert parse_and_run(["list", "--irods-env", env]) == cli.EXIT_UNREACHABLE
    assert "iRODS is unreachable" in capsys.readouterr().err


@pytest.mark.parametrize("refusal", ["CAT_INVALID_AUTHENTICATION", "CAT_INVALID_USER", "CAT_PASSWORD_EXPIRED"])
def test_refused_credentials_are_exit_3_and_not_retried(tmp_path, session, monkeypatch, run_dir, capsys, refusal):
    faulty = Faulty(session)
    faulty.fail("create_collection", getattr(exception, refusal)(), times=10)
    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: faulty)
    status = parse_and_run(push_argv(run_dir, write_environment(tmp_path)))
    err = capsys.readouterr().err
    assert status == cli.EXIT_CREDENTIALS
    assert "iRODS refused the service account's credentials (%s" % refusal in err and "iinit" in err
    assert faulty.rules[0]["times"] == 9  # one attempt: retrying a refused login cannot help


def test_a_missing_landing_zone_is_exit_3_and_named(tmp_path, irods, session, monkeypatch, run_dir, capsys):
    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: session)
    before = irods.tree()
    status = parse_and_run(push_argv(run_dir, write_environment(tmp_path),
                                     "--landing-zone", "/tempZone/home/omero-svc/no-such-landing"))
    err = capsys.readouterr().err
    assert status == cli.EXIT_CREDENTIALS
    assert "landing zone /tempZone/home/omero-svc/no-such-landing does not exist" in err
    assert irods.tree() == before


@pytest.mark.parametrize("content, problem", [
    ("", "it is empty"),
    ("scrambled", "does not have the form iinit writes"),
    (".abcde", "does not have the form iinit writes"),
    (".abcdeZxyz", "does not have the form iinit writes"),  # key letter out of range: PRC would misread it
    ("\x00\x01binary\xff", "characters iinit never writes"),
    (".abcdefgh\n.second line\n", "characters iinit never writes"),
])
def test_a_malformed_auth_file_is_exit_3_with_a_clear_message(tmp_path, run_dir, refusing_port, capsys,
                                                               content, problem):
    env = write_environment(tmp_path, port=refusing_port, auth_text=content)
    for argv in (push_argv(run_dir, env), push_argv(run_dir, env, "--dry-run"), ["list", "--irods-env", env]):
        status = parse_and_run(argv)
        err = capsys.readouterr().err
        assert status == cli.EXIT_CREDENTIALS, err
        assert "malformed iRODS authentication file (" in err and problem in err and "iinit" in err
        assert "Traceback" not in err


def test_an_auth_file_iinit_wrote_passes_and_python_irodsclient_reads_it(tmp_path):
    from omero_irods.client import credentials

    env_path, env = credentials.load_environment(write_environment(tmp_path))
    path = credentials.checked_auth_file(env_path, env)
    session = credentials.open_session(env_path)  # PRC decodes it without connecting
    try:
        assert session.pool.account.password == "s3cret" and path.endswith("irodsA")
    finally:
        session.cleanup()


def test_python_irodsclient_failing_to_read_the_files_is_a_credentials_error(tmp_path, monkeypatch):
    from omero_irods.client import credentials

    def unreadable(env_file, auth_file):
        raise IndexError("string index out of range")

    monkeypatch.setattr(prc, "open_session", unreadable)
    with pytest.raises(credentials.CredentialsError, match="python-irodsclient cannot use .*IndexError"):
        credentials.open_session(write_environment(tmp_path))


def test_ctrl_c_mid_push_keeps_the_partial_upload_and_says_how_to_resume(
        tmp_path, irods, session, monkeypatch, capsys):
    import os

    run = tmp_path / "run5"
    run.mkdir()
    (run / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # three 4 MiB chunks
    faulty = Faulty(session)
    faulty.fail("write", KeyboardInterrupt(), when=lambda path: path.endswith(".tar"), after_bytes=5 << 20)
    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: faulty)
    env = write_environment(tmp_path)
    status = parse_and_run(push_argv(run, env, "--request-id", "req-00000050"))
    err = capsys.readouterr().err
    assert status == cli.EXIT_INTERRUPTED and "Traceback" not in err
    assert "--resume req-00000050" in err and irods.payloads() == []

    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: session)
    assert parse_and_run(push_argv(run, env, "--resume", "req-00000050")) == cli.EXIT_OK
    assert "request req-00000050 committed: 1 files" in capsys.readouterr().out
    assert len(irods.payloads()) == 1
