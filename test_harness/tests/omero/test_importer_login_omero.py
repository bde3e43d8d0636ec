"""The importer's login with real omero-py: the argv and environment the policy builds go
through omero-py's own `import` parser, session store and login code (and omero-cli-transfer's
`transfer unpack` parser), with only the connection (omero.client) faked
(fake_omero_connection). The session is opened by the real runner (adapters.importer_login)
running the real helper (adapters.omero_session_helper) in a subprocess.

Sources: omero-py src/omero/plugins/import.py (set_login_arguments: the session's key is
passed to the Java importer with -k), src/omero/plugins/sessions.py (SessionsControl.login:
a stored current session of the same server, user and port is attached), src/omero/util/
sessions.py (SessionsStore); ome/omero-cli-transfer src/omero_cli_transfer.py."""

import json
import os
import pathlib
import sys

import pytest

import fake_omero_connection as fake
from omero_irods.adapters import importer_login
from omero_irods.config import ImportSettings
from omero_irods.omero_import import build_import_command, build_unpack_command

pytestmark = pytest.mark.omero

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers")
VAULT = "/var/lib/irods/Vault/home/alice/omero/ingest/2026-11-22/run1"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    credentials = tmp_path / "omero_importer.json"
    credentials.write_text(json.dumps({"user": fake.ADMIN, "password": fake.ADMIN_PASSWORD}))
    credentials.chmod(0o600)
    monkeypatch.setenv("FAKE_OMERO_STATE", str(tmp_path / "omero_state.json"))
    monkeypatch.setattr(importer_login, "HELPER_MODULE", "stub_connection_helper")
    return ImportSettings(
        command=("omero", "import"), transfer="ln_s", server="omero.example.org", port=4064, sudo=None,
        extra_args=(), env={}, timeout_seconds=600, transfer_command=("omero", "transfer"),
        login={"credentials_file": str(credentials), "python": sys.executable})


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """omero-py's CLI with every plugin it finds on sys.path (import, sessions, transfer, irods),
    the connection faked and the Java importer's launch recorded instead of run. OMERODIR holds
    a lib/client/*.jar, where `omero import` looks for the importer's jars first (src/omero/
    plugins/import.py _get_classpath_logback), so nothing is downloaded."""
    import omero
    import omero.cli
    import omero.java
    from omero.cli import CLI
    from omero_ext.path import path

    omero_dir = tmp_path / "OMERODIR"
    (omero_dir / "lib" / "client").mkdir(parents=True)
    (omero_dir / "lib" / "client" / "omero-blitz.jar").write_bytes(b"")
    monkeypatch.setattr(omero.cli, "OMERODIR", path(str(omero_dir)))
    monkeypatch.setattr(omero, "client", fake.FakeClient)
    launched = []

    class _Process(object):
        def wait(self):
            return 0

    def popen(command, **kwargs):
        launched.append(list(command))
        return _Process()

    monkeypatch.setattr(omero.java, "popen", popen)
    instance = CLI()
    instance.loadplugins()
    instance.launched = launched
    yield instance
    instance.close()


def _environment(command):
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": HELPERS, "FAKE_OMERO_STATE": os.environ["FAKE_OMERO_STATE"]}
    environ.update(command.env)
    return importer_login.importer_session(command.login, environ)


def test_the_import_joins_the_users_session_that_the_light_admin_opened(settings, cli, monkeypatch, capsys):
    command = build_import_command(settings, "alice", "lab", [VAULT], depth=5)
    assert fake.ADMIN_PASSWORD not in " ".join(command.argv) and "--sudo" not in command.argv
    with _environment(command) as env:
        assert fake.ADMIN_PASSWORD not in json.dumps(env)
        (uuid,) = fake.sessions()
        monkeypatch.setenv("OMERO_SESSIONDIR", env["OMERO_SESSIONDIR"])
        assert command.argv[:2] == ["omero", "import"]
        cli.invoke(command.argv[1:], strict=True)
    (java,) = cli.launched
    assert java[java.index("-k") + 1] == uuid
    assert java[java.index("-s") + 1] == "omero.example.org" and java[java.index("-p") + 1] == "4064"
    assert VAULT in java and "--transfer=ln_s" in java and fake.ADMIN_PASSWORD not in " ".join(java)
    created = [call for call in fake.calls() if call[0] == "createSessionWithTimeouts"]
    # one session, of omero.sys.Principal alice in lab, with no time to live (the import has no
    # limit) and ended after 600 s without a ping
    assert [call[2:] for call in created] == [["alice", "lab", 0, 600 * 1000]]
    assert created[0][1].endswith(".Principal")
    joins = [call for call in fake.calls() if call[:2] == ["createSession", "join"]]
    assert joins and all(call[2] == uuid for call in joins)
    assert ["killSession", uuid] in fake.calls() and fake.sessions() == {}
    assert not os.path.exists(env["OMERO_SESSIONDIR"])
    assert "Using session for alice@omero.example.org:4064" in capsys.readouterr().err


def test_without_the_session_omero_py_would_need_a_terminal_for_a_password(settings, cli, tmp_path, monkeypatch):
    """The documented failure this login replaces: an empty session folder and no password."""
    from omero.cli import NonZeroReturnCode

    command = build_import_command(settings._replace(login=None), "alice", "lab", [VAULT])
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "empty"))
    monkeypatch.delenv("OMERO_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(NonZeroReturnCode):
        cli.invoke(command.argv[1:], strict=True)
    assert cli.launched == []


def test_a_wrong_admin_password_fails_before_the_importer_runs(settings, tmp_path):
    from omero_irods.errors import Transient

    with open(settings.login["credentials_file"], "w") as handle:
        json.dump({"user": fake.ADMIN, "password": "wrong"}, handle)
    command = build_import_command(settings, "alice", "lab", [VAULT])
    with pytest.raises(Transient) as raised:
        with _environment(command):
            pytest.fail("no import without a session")
    assert "OMERO refused: PermissionDeniedException" in str(raised.value)
    assert "wrong" not in str(raised.value) and fake.sessions() == {}


def test_the_unpack_argv_is_what_omero_cli_transfer_parses_and_its_imports_join_the_same_session(
        settings, cli, monkeypatch):
    """omero-cli-transfer's unpack imports each file with a fresh CLI and no login arguments
    (_import_files): that import must find the same stored session, not ask for a password."""
    from omero_cli_transfer import TransferControl

    command = build_unpack_command(settings, "alice", "lab", VAULT)
    seen = []

    def unpack(self, args):
        seen.append((args.filepath, args.folder, args.ln_s_import, args.merge, self.client.getSessionId()))
        # as __unpack calls it with --folder: folder = Path(args.filepath)
        self._import_files(pathlib.Path(args.filepath), ["user-2_3/a.tif"], args.ln_s_import, None, self.gateway)

    monkeypatch.setattr(TransferControl, "_TransferControl__unpack", unpack)
    monkeypatch.setattr(TransferControl, "_get_image_ids", lambda self, file_path, conn: [])
    monkeypatch.setattr("omero_cli_transfer.BlitzGateway", lambda client_obj: _Gateway())
    monkeypatch.setattr(fake.FakeClient, "getRouter", lambda self, communicator: "router -h omero.example.org",
                        raising=False)
    monkeypatch.setattr(fake.FakeClient, "getCommunicator", lambda self: None, raising=False)
    with _environment(command) as env:
        (uuid,) = fake.sessions()
        monkeypatch.setenv("OMERO_SESSIONDIR", env["OMERO_SESSIONDIR"])
        cli.invoke(command.argv[1:], strict=True)
    assert seen == [(VAULT, True, True, False, uuid)]
    (java,) = cli.launched  # the inner `omero import FOLDER/./PATH --transfer=ln_s`
    assert java[java.index("-k") + 1] == uuid
    assert VAULT + "/./user-2_3/a.tif" in java and "--transfer=ln_s" in java


class _Gateway(object):
    def close(self, hard=False):
        pass


def test_an_import_limited_by_the_admin_gets_a_session_that_ends_after_the_limit_too(settings):
    command = build_import_command(settings._replace(max_seconds=7200), "alice", "lab", [VAULT])
    with _environment(command):
        (session,) = fake.sessions().values()
    assert (session["live_ms"], session["idle_ms"]) == ((7200 + 300) * 1000, 600 * 1000)


@pytest.mark.parametrize("lifetimes, refusal", [
    ({"ttl_seconds": 30}, "ttl_seconds must be 0"), ({"ttl_seconds": 0, "idle_seconds": 0}, "idle_seconds"),
    ({"ttl_seconds": True}, "ttl_seconds"), ({"ttl_seconds": "0"}, "ttl_seconds")])
def test_the_helper_never_opens_a_session_that_could_outlive_a_lost_importer(settings, tmp_path, lifetimes, refusal):
    """No idle time and no time to live would keep a session whose importer was killed."""
    import io

    from omero_irods.adapters import omero_session_helper

    request = dict({"server": "omero.example.org", "port": 4064, "admin": fake.ADMIN,
                    "password": fake.ADMIN_PASSWORD, "user": "alice", "group": "lab"}, **lifetimes)
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o700)
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMERO_SESSIONDIR", str(folder))
        code = omero_session_helper.main(["open"], io.StringIO(json.dumps(request)), err, fake.FakeClient)
    assert code == omero_session_helper.EXIT_USAGE and refusal in err.getvalue()
    assert fake.sessions() == {} and fake.ADMIN_PASSWORD not in err.getvalue()


@pytest.mark.parametrize("ending", ["exit 0", "exit 2", "killed"])
def test_the_detached_imports_session_is_killed_when_the_check_sees_it_end(settings, tmp_path, monkeypatch, ending):
    """Whatever ended the importer (success, failure, a kill that leaves no exit status), the
    check's finish() kills the user's session in OMERO and removes its folder."""
    from omero_irods.adapters.importer_process import FINISHED, LOST, DetachedImporter

    monkeypatch.setenv("PYTHONPATH", HELPERS)
    script = {"exit 0": "import sys; sys.exit(0)", "exit 2": "import sys; sys.exit(2)",
              "killed": "import os, signal; os.killpg(os.getpgrp(), signal.SIGKILL)"}[ending]
    command = build_import_command(settings, "alice", "lab", [VAULT])._replace(argv=[sys.executable, "-c", script])
    importer, folder = DetachedImporter(wait_seconds=30), str(tmp_path / "imports" / "r1" / "import-1")
    process = importer.start(command, folder)
    (uuid,) = fake.sessions()
    status = importer.status(folder, process)
    assert status.state == (LOST if ending == "killed" else FINISHED)
    assert fake.sessions() == {uuid: fake.sessions()[uuid]}  # only the check ends it
    importer.finish(folder)
    assert fake.sessions() == {} and ["killSession", uuid] in fake.calls()
    assert not os.path.exists(os.path.join(folder, "session"))
