"""The sandbox's imports log in as production does (docs/deploy.md section 5a): the runner has
the project's session helper open the mapped user's session as the Sudo-only light admin, the
emulated importer joins it as omero-py would, and the check that records the result kills it.
OMERO's own refusals reach the request's error.

Sources: see test_harness/tests/sandbox/test_importer_login.py and omero_irods.omero_import
(session_lifetimes: ISession.ice createSessionWithTimeouts)."""

import json

from pipeline_support import DRAIN_FAILURES, Request, avus_of, base_scenario, record_of
from omero_irods import names
from omero_irods_sandbox.omero_server import IMPORTER_ADMIN, OmeroServer

FILES = {"run1/a.tif": b"A" * 10}
DRAIN = {"run_delay_queue": {"until_idle": True, "max_seconds": 300}}
RETRY = {"retry": {"attempts": 3, "backoff_seconds": 30, "factor": 2, "max_seconds": 3600}}


def _sessions(tmp_path):
    return OmeroServer(str(tmp_path / "work" / "omero" / "omero_server.json")).sessions()


def test_the_import_runs_in_the_users_session_opened_by_the_sudo_admin_and_killed_after(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000f001", FILES)
    state = run_scenario(base_scenario(tmp_path, request.steps() + [DRAIN]))
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    (imported,) = state["imports"]
    assert imported["login"]["user"] == "alice" and imported["login"]["group"] == "lab"
    sessions = _sessions(tmp_path)
    user_session = sessions[imported["login"]["session"]]
    assert user_session["sudoer"] == IMPORTER_ADMIN and user_session["ttl_seconds"] == 0
    assert user_session["idle_seconds"] == 600
    assert all(session["closed"] for session in sessions.values())  # the admin's and the user's
    assert "--sudo" not in imported["argv"] and "-w" not in imported["argv"]


def test_a_user_omero_does_not_have_in_the_group_fails_with_omeros_answer(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000f002", FILES)
    scenario = base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES], config=RETRY)
    scenario["omero"]["users"] = {"alice": ["other"], "bob": ["lab"]}  # OMERO's alice is not in lab
    state = run_scenario(scenario)
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.FAILED
    assert "stdin is not a terminal: cannot request password" in avus[names.AVU_ERROR]
    assert all(call["images"] == [] and "refused" in call["login"] for call in state["imports"])
    assert all(session["closed"] for session in _sessions(tmp_path).values())


def test_a_light_admin_that_lost_its_sudo_privilege_cannot_open_sessions(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000f003", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps(), config=RETRY))
    server_file = tmp_path / "work" / "omero" / "omero_server.json"
    state = json.loads(server_file.read_text())
    state["users"][IMPORTER_ADMIN]["privileges"] = []
    server_file.write_text(json.dumps(state))
    zone.step(DRAIN_FAILURES)
    avus = avus_of(zone.state(), record_of(zone.state(), request.request_id))
    assert avus[names.AVU_STATE] == names.FAILED
    assert "OMERO refused: SecurityViolation: Group sudo is not permitted for group lab" in avus[names.AVU_ERROR]
    assert zone.state()["imports"] == []  # no importer ran without a session
