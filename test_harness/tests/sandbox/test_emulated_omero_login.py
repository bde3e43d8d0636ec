"""The emulated importer logs in as `omero import` does, against the sandbox's emulated OMERO
server, and fails where omero-py fails, with its exit code (modulo 256, as sys.exit passes it
on) and its message.

Sources: ome/omero-py src/omero/plugins/sessions.py (SessionsControl.login: -k, stored sessions,
-w / OMERO_PASSWORD, --sudo; ctx.die 523, 525, 554, 557, 564; _require_tty), src/omero/util/
sessions.py (SessionsStore: layout, create with --sudo), src/omero/plugins/import.py
(set_login_arguments: -f needs no connection); ome/omero-server src/main/java/ome/services/
sessions/SessionBean.java (createSessionWithTimeouts: Sudo privilege or group leader),
SessionManagerImpl.java (validateSessionInputs: "Group sudo is not permitted for group",
executeLookupUser: "Cannot find a user with name"), ome/security/basic/BasicSecuritySystem.java
(loadEventContext: "is not a member of group ... and cannot login")."""

import io
import json
import os
import subprocess
import sys

import pytest

from omero_irods_sandbox import omero_importer, omero_server
from omero_irods_sandbox.omero_py.omero.util.sessions import SessionsStore

HOST, PORT = omero_server.HOST, omero_server.DEFAULT_PORT


@pytest.fixture
def omero(tmp_path):
    """The sandbox's OMERO as deploy() sets it up: alice in lab, carol in other, the Sudo-only
    light admin; plus `plain-admin` (an admin without Sudo) and `leader` (leads lab only)."""
    server_file, settings = omero_server.deploy(str(tmp_path / "omero"), {"alice": ["lab"], "carol": ["other"]})
    with open(server_file) as handle:
        state = json.load(handle)
    state["users"]["plain-admin"] = {"id": 90, "password": "pw", "groups": ["system", "user"], "privileges": [],
                                     "leads": []}
    state["users"]["leader"] = {"id": 91, "password": "pw", "groups": ["lab"], "privileges": [], "leads": ["lab"]}
    with open(server_file, "w") as handle:
        json.dump(state, handle)
    with open(settings["login"]["credentials_file"]) as handle:
        credentials = json.load(handle)
    return server_file, credentials, settings


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "vault" / "a.tif"
    path.parent.mkdir()
    path.write_bytes(b"II*\0")
    return str(path)


def _import(tmp_path, server_file, args, environ=None):
    out, err = io.StringIO(), io.StringIO()
    log = tmp_path / "imports.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
        patch.delenv("OMERO_PASSWORD", raising=False)
        for name, value in (environ or {}).items():
            patch.setenv(name, value)
        code = omero_importer.main(["--sandbox-log", str(log), "--sandbox-omero", server_file, "import"] + args,
                                   out=out, err=err)
    return code, out.getvalue(), err.getvalue(), omero_importer.read_imports(str(log))


def _session_for(server_file, credentials, user, group):
    server = omero_server.OmeroServer(server_file)
    admin = server.login(credentials["user"], credentials["password"])
    return server.create_session_for(admin, user, group, 0, 600000)


def _refused(code, err, calls, exit_code, message):
    assert code == exit_code and message in err
    assert calls[-1]["images"] == [] and message in calls[-1]["login"]["refused"]


def test_no_session_and_no_password_needs_a_terminal_it_does_not_have(tmp_path, omero, image):
    code, out, err, calls = _import(tmp_path, omero[0], ["-s", HOST, "-p", "4064", "-u", "alice", "-g", "lab", image])
    _refused(code, err, calls, 564 % 256, "stdin is not a terminal: cannot request password")


def test_a_session_key_that_is_no_live_session_is_a_bad_key(tmp_path, omero, image):
    code, _, err, calls = _import(tmp_path, omero[0], ["-s", HOST, "-p", "4064", "-k", "not-a-session", image])
    _refused(code, err, calls, 523 % 256, "Bad session key. Cannot join not-a-session on omero.sandbox:4064.")


def test_a_killed_session_key_is_a_bad_key(tmp_path, omero, image):
    server_file, credentials, _ = omero
    uuid = _session_for(server_file, credentials, "alice", "lab")
    omero_server.OmeroServer(server_file).kill(uuid)
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "-k", uuid, image])
    _refused(code, err, calls, 523 % 256, "Bad session key. Cannot join %s on omero.sandbox." % uuid)


def test_a_live_session_key_imports_as_its_user_in_its_group(tmp_path, omero, image):
    server_file, credentials, _ = omero
    uuid = _session_for(server_file, credentials, "alice", "lab")
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "-k", uuid, "-g", "other", image])
    assert code == 0 and "Ignoring group since session key set" in err
    assert calls[-1]["login"] == {"user": "alice", "group": "lab", "session": uuid} and calls[-1]["images"] == [1]


def test_a_session_in_a_group_its_user_is_not_in_cannot_be_used(tmp_path, omero, image):
    server_file, credentials, _ = omero
    uuid = _session_for(server_file, credentials, "alice", "other")  # Sudo creates it; using it fails
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "-k", uuid, image])
    _refused(code, err, calls, 523 % 256, "Bad session key.")


def test_a_stored_session_of_the_user_is_used_without_a_password(tmp_path, omero, image):
    server_file, credentials, _ = omero
    uuid = _session_for(server_file, credentials, "alice", "lab")
    store = SessionsStore(str(tmp_path / "sessions"))
    store.add(HOST, "alice", uuid, {"omero.port": "4064", "omero.group": "lab"}, sudo=credentials["user"])
    code, _, _, calls = _import(tmp_path, server_file, ["-s", HOST, "-p", "4064", "-u", "alice", "-g", "lab", image])
    assert code == 0 and calls[-1]["login"]["session"] == uuid


def test_a_stored_session_of_another_group_is_skipped(tmp_path, omero, image):
    server_file, credentials, _ = omero
    uuid = _session_for(server_file, credentials, "alice", "lab")
    SessionsStore(str(tmp_path / "sessions")).add(HOST, "alice", uuid, {"omero.port": "4064", "omero.group": "lab"})
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "-u", "alice", "-g", "other", image])
    assert "Skipped session %s due to property conflicts" % uuid in err
    _refused(code, err, calls, 564 % 256, "stdin is not a terminal: cannot request password")


def test_a_wrong_admin_password_is_refused_and_no_terminal_can_ask_again(tmp_path, omero, image):
    server_file, credentials, _ = omero
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "--sudo", credentials["user"], "-u", "alice",
                                                          "-g", "lab", image], {"OMERO_PASSWORD": "wrong"})
    assert "Password check failed" in err
    _refused(code, err, calls, 564 % 256, "stdin is not a terminal: cannot request password")


def test_sudo_by_an_admin_without_the_sudo_privilege_is_a_security_violation(tmp_path, omero, image):
    code, _, err, calls = _import(tmp_path, omero[0], ["-s", HOST, "--sudo", "plain-admin", "-w", "pw", "-u", "alice",
                                                       "-g", "lab", image])
    _refused(code, err, calls, 557 % 256, "SecurityViolation: Group sudo is not permitted for group lab (gid=")


def test_a_group_leader_may_sudo_in_the_group_it_leads_only(tmp_path, omero, image):
    args = ["-s", HOST, "--sudo", "leader", "-w", "pw", "-u"]
    assert _import(tmp_path, omero[0], args + ["alice", "-g", "lab", image])[0] == 0
    code, _, err, calls = _import(tmp_path, omero[0], args + ["carol", "-g", "other", image])
    _refused(code, err, calls, 557 % 256, "SecurityViolation: Group sudo is not permitted for group other")


def test_sudo_for_a_user_omero_does_not_know_is_a_user_account_error(tmp_path, omero, image):
    server_file, credentials, _ = omero
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "--sudo", credentials["user"], "-w",
                                                          credentials["password"], "-u", "mallory", "-g", "lab", image])
    _refused(code, err, calls, 525 % 256, "User account error: Cannot find a user with name mallory.")


def test_sudo_into_a_group_the_user_is_not_in_cannot_log_in(tmp_path, omero, image):
    server_file, credentials, _ = omero
    code, _, err, calls = _import(tmp_path, server_file, ["-s", HOST, "--sudo", credentials["user"], "-w",
                                                          credentials["password"], "-u", "alice", "-g", "other", image])
    _refused(code, err, calls, 557 % 256, "is not a member of group")
    assert "cannot login" in err


def test_another_server_is_not_running(tmp_path, omero, image):
    code, _, err, calls = _import(tmp_path, omero[0], ["-s", "omero.example.org", "-u", "alice", "-w", "x", image])
    _refused(code, err, calls, 554 % 256, "Ice.ConnectionRefusedException: omero.example.org:4064 isn't running")


def test_listing_files_needs_no_login(tmp_path, omero, image):
    code, out, _, calls = _import(tmp_path, omero[0], ["-f", image])
    assert code == 0 and out == image + "\n" and "login" not in calls[-1]


def test_unpack_logs_in_too(tmp_path, omero):
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
        patch.delenv("OMERO_PASSWORD", raising=False)
        code = omero_importer.main(["--sandbox-log", str(tmp_path / "log"), "--sandbox-omero", omero[0], "transfer",
                                    "-s", HOST, "-u", "alice", "-g", "lab", "unpack", "--folder", str(tmp_path)],
                                   out=out, err=err)
    assert code == 564 % 256 and "stdin is not a terminal: cannot request password" in err.getvalue()


def test_the_real_session_helper_opens_a_session_the_importer_joins_then_kills_it(tmp_path, omero, image):
    """The sandbox's OMERO Python runs the project's helper module (stdin protocol, lifetimes,
    session store): the stored session is found by the importer's login, and `close` ends it."""
    server_file, credentials, settings = omero
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o700)
    helper = [settings["login"]["python"], "-m", "omero_irods.adapters.omero_session_helper"]
    request = dict(credentials, admin=credentials["user"], server=HOST, port=PORT, user="alice", group="lab",
                   ttl_seconds=0, idle_seconds=600)
    environ = dict(os.environ, OMERO_SESSIONDIR=str(folder))
    opened = subprocess.run(helper + ["open"], input=json.dumps(request), env=environ, capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    code, _, _, calls = _import(tmp_path, server_file, ["-s", HOST, "-p", "4064", "-u", "alice", "-g", "lab", image])
    session = calls[-1]["login"]["session"]
    assert code == 0 and omero_server.OmeroServer(server_file).sessions()[session]["ttl_seconds"] == 0
    closed = subprocess.run(helper + ["close"], input=json.dumps({"server": HOST, "port": PORT}), env=environ,
                            capture_output=True, text=True)
    assert closed.returncode == 0, closed.stderr
    assert all(entry["closed"] for entry in omero_server.OmeroServer(server_file).sessions().values())
    assert _import(tmp_path, server_file, ["-s", HOST, "-k", session, image])[0] == 523 % 256


def test_the_helper_refuses_an_admin_without_sudo_with_omeros_answer(tmp_path, omero):
    server_file, _, settings = omero
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o700)
    request = {"admin": "plain-admin", "password": "pw", "server": HOST, "port": PORT, "user": "alice",
               "group": "lab", "ttl_seconds": 0, "idle_seconds": 600}
    opened = subprocess.run([settings["login"]["python"], "-m", "omero_irods.adapters.omero_session_helper", "open"],
                            input=json.dumps(request), env=dict(os.environ, OMERO_SESSIONDIR=str(folder)),
                            capture_output=True, text=True)
    assert opened.returncode == 3
    assert "OMERO refused: SecurityViolation: Group sudo is not permitted for group lab" in opened.stderr
