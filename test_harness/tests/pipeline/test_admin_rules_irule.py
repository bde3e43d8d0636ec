"""The admin rules, called as an admin calls them: `irule -r <python instance> RULE '*x="v"'`.

Source for the calling convention: irods/irods_rule_engine_plugin_python src/main.cpp
exec_rule_text (rodsadmin only; core's RULE gets empty rule_args and the INPUT variables,
quotes included, in the irods_rule_vars builtin).
"""

import json

from pipeline_support import Request, base_scenario

FILES = {"run1/a.tif": b"A" * 100}
ADMIN = {"name": "rods", "type": "rodsadmin"}


def _users():
    return [{"name": "omero-svc"}, {"name": "alice", "groups": ["lab"]}, {"name": "bob"}]


def _outputs(state, rule):
    return [json.loads(out["stdout"]) for out in state["irule_output"] if out["rule"] == rule and out["stdout"]]


def test_status_and_list_answer_from_the_catalog(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000a001", FILES, target_name="run1")
    steps = request.steps("iput") + [
        {"run_delay_queue": {"until_idle": True}},
        {"irule": {"as": "rods", "rule": "omero_irods_status", "inputs": {"*request_id": '"%s"' % request.request_id}}},
        {"irule": {"as": "rods", "rule": "omero_irods_list", "inputs": {"*count": '"5"'}}},
        {"irule": {"as": "rods", "rule": "omero_irods_status", "inputs": {"*request_id": '"no-such-request"'}}},
    ]
    state = run_scenario(base_scenario(tmp_path, steps, users=_users()))
    (status, missing) = _outputs(state, "omero_irods_status")
    assert status["state"] == "imported" and status["request_id"] == request.request_id
    assert status["omero_images"] and status["destination"].startswith("/tempZone/home/alice/omero/ingest/")
    assert missing == {"request_id": "no-such-request", "error": "no such request"}
    (listing,) = _outputs(state, "omero_irods_list")
    assert [entry["request_id"] for entry in listing] == [request.request_id]


def test_a_rodsuser_may_not_run_admin_rules(tmp_path, run_scenario):
    """The rule-text gate refuses a rodsuser's irule before the plugin's own check would."""
    steps = [{"irule": {"as": "bob", "rule": "omero_irods_list", "expect_error": "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"}}]
    state = run_scenario(base_scenario(tmp_path, steps, users=_users()))
    assert [error["name"] for error in state["client_errors"]] == ["CAT_INSUFFICIENT_PRIVILEGE_LEVEL"]


def test_reprocess_brings_a_failed_import_to_imported(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000a002", FILES, target_name="run1")
    # the importer fails 5 times: the default retry policy gives up after 5 attempts
    steps = request.steps("prc") + [
        {"run_delay_queue": {"until_idle": True}},
        {"irule": {"as": "rods", "rule": "omero_irods_status", "inputs": {"*request_id": '"%s"' % request.request_id}}},
        {"irule": {"as": "rods", "rule": "omero_irods_reprocess", "inputs": {"*request_id": '"%s"' % request.request_id}}},
        {"run_delay_queue": {"until_idle": True}},
        {"irule": {"as": "rods", "rule": "omero_irods_status", "inputs": {"*request_id": '"%s"' % request.request_id}}},
    ]
    state = run_scenario(base_scenario(tmp_path, steps, users=_users(), omero={"fail_times": 5}))
    before, after = _outputs(state, "omero_irods_status")
    assert before["state"] == "failed" and "omero import" in before["error"]
    (reprocessed,) = _outputs(state, "omero_irods_reprocess")
    assert reprocessed["reprocess"] == "requested"
    # the service account's watcher picked the mark up and ran the import as attempt 6
    assert after["state"] == "imported" and after["omero_images"] and "reprocess" not in after
    assert [run["user"] for run in state["peps"] if run["name"].startswith("delayed rule")] and all(
        run["user"] == "omero-svc" for run in state["peps"] if run["name"].startswith("delayed rule"))


def test_reprocess_refuses_a_rejected_request(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000a003", FILES, omero_user="mallory")
    steps = request.steps("prc") + [
        {"run_delay_queue": {"until_idle": True}},
        {"irule": {"as": "rods", "rule": "omero_irods_reprocess", "inputs": {"*request_id": '"%s"' % request.request_id}}},
    ]
    state = run_scenario(base_scenario(tmp_path, steps, users=_users()))
    (answer,) = _outputs(state, "omero_irods_reprocess")
    assert "not reprocessed" in answer["error"] and "rejected" in answer["error"]
