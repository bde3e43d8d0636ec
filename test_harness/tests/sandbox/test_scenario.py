"""Scenario files: bad ones are refused with a message naming file, step and field; good ones
run and leave a dump with the contract's keys (docs/sandbox.md, "The dump")."""

import hashlib
import json

import pytest

from omero_irods_sandbox import dump, scenario


def _write(tmp_path, data, name="s.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _error(tmp_path, data):
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.load(_write(tmp_path, data))
    return str(caught.value)


USERS = [{"name": "alice"}]


def test_malformed_json_names_the_file(tmp_path):
    message = _error(tmp_path, "{ not json")
    assert "s.json" in message and "not valid JSON" in message


def test_unknown_step_names_its_index(tmp_path):
    message = _error(tmp_path, {"users": USERS, "steps": [{"run_delay_queue": {}}, {"teleport": {}}]})
    assert "steps[1]" in message and "unknown step 'teleport'" in message


def test_unknown_user_names_step_and_field(tmp_path):
    message = _error(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "mallory", "content": "x", "to": "/tempZone/home/alice/x"}}]})
    assert "steps[0].put.as" in message and "mallory" in message


def test_bad_field_value_names_the_field(tmp_path):
    message = _error(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "alice", "content": "x", "to": "/tempZone/home/alice/x", "client": "ftp"}}]})
    assert "steps[0].put.client" in message


def test_missing_local_file_names_the_path(tmp_path):
    message = _error(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "alice", "file": "data/none.tar", "to": "/tempZone/home/alice/x"}}]})
    assert "steps[0].put.file" in message and "none.tar" in message


def test_put_needs_exactly_one_source(tmp_path):
    message = _error(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "alice", "content": "x", "size": 3, "to": "/tempZone/home/alice/x"}}]})
    assert "exactly one of file, content, size" in message


def test_provision_of_undeclared_user_is_refused(tmp_path):
    assert "provision[0]" in _error(tmp_path, {"users": USERS, "provision": ["bob"], "steps": []})


def test_config_and_config_file_together_are_refused(tmp_path):
    assert "config" in _error(tmp_path, {"config": {}, "config_file": "c.json", "steps": []})


def test_clock_durations():
    assert [scenario.clock_seconds(t) for t in ("90s", "5m", "2h", "1d")] == [90, 300, 7200, 86400]


def test_generated_bytes_are_deterministic():
    assert scenario.generated_bytes(100, "a") == scenario.generated_bytes(100, "a")
    assert scenario.generated_bytes(100, "a") != scenario.generated_bytes(100, "b")


@pytest.fixture
def empty_rules(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "core.py").write_text("")
    return str(rules)


def test_run_writes_every_contract_key_and_records_errors(tmp_path, empty_rules):
    path = _write(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "alice", "content": "hello", "to": "/tempZone/home/alice/a.txt", "client": "iput"}},
        {"put": {"as": "alice", "content": "again", "to": "/tempZone/home/alice/a.txt", "client": "iput",
                 "expect_error": "OVERWRITE_WITHOUT_FORCE_FLAG"}},
        {"put": {"as": "alice", "content": "x", "to": "/tempZone/home/rods/x.txt"}},
        {"advance_clock": "60s"}, {"run_delay_queue": {}}]})
    result = scenario.run(scenario.load(path), empty_rules, workdir=str(tmp_path / "work"))
    state = result.state
    for key in ("collections", "data_objects", "peps", "client_errors", "imports", "delay_queue", "log"):
        assert key in state
    assert [d["path"] for d in state["data_objects"]] == ["/tempZone/home/alice/a.txt"]
    assert [e["step"] for e in state["client_errors"]] == [1, 2]
    assert state["client_errors"][1]["name"] == "CAT_NO_ACCESS_PERMISSION"
    # step 1 failed as expected; step 2 (no permission in rods' home) was not expected
    assert len(result.unexpected) == 1 and "steps[2].put" in result.unexpected[0]
    assert json.loads(dump.dumps(state)) == state


def test_expected_failure_that_succeeds_is_reported(tmp_path, empty_rules):
    path = _write(tmp_path, {"users": USERS, "steps": [
        {"put": {"as": "alice", "content": "x", "to": "/tempZone/home/alice/x", "expect_error": True}}]})
    result = scenario.run(scenario.load(path), empty_rules, workdir=str(tmp_path / "work"))
    assert result.unexpected and "succeeded" in result.unexpected[0]


def test_sandbox_config_points_the_importer_at_the_sandbox(tmp_path, empty_rules):
    path = _write(tmp_path, {"config": {"omero_import": {"command": ["omero", "import"]}},
                             "users": USERS, "omero": {"import": {"fail_times": 1}}, "steps": []})
    work = tmp_path / "work"
    scenario.run(scenario.load(path), empty_rules, workdir=str(work))
    written = json.loads((work / "etc" / "irods" / "omero_irods.json").read_text())
    command = written["omero_import"]["command"]
    assert command[-1] == "import" and "omero_irods_sandbox.omero_importer" in command
    assert command[command.index("--sandbox-mode") + 1] == "fail_times:1"


def test_rules_dir_without_core_is_a_scenario_error(tmp_path):
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.rules_dir(str(tmp_path))
    assert "core.py" in str(caught.value)


# ---- steps for hostile scenarios ------------------------------------------------------------

HOSTILE_USERS = [{"name": "alice", "groups": ["lab"]}, {"name": "bob"}]


def _run(tmp_path, steps, rules, **extra):
    path = _write(tmp_path, dict({"users": HOSTILE_USERS, "steps": steps}, **extra))
    return scenario.run(scenario.load(path), rules, workdir=str(tmp_path / "work"))


def _avus(state, path):
    return [entry["avus"] for entry in state["collections"] + state["data_objects"] if entry["path"] == path][0]


def test_imeta_acts_as_the_user_with_their_permissions(tmp_path, empty_rules):
    # irods/irods plugins/database/src/db_plugin.cpp db_add_avu_metadata_op: create_metadata needed
    home = "/tempZone/home/alice"
    result = _run(tmp_path, [
        {"imeta": {"as": "alice", "operation": "add", "path": home, "attribute": "a", "value": "1"}},
        {"imeta": {"as": "alice", "operation": "set", "path": home, "attribute": "a", "value": "2"}},
        {"imeta": {"as": "bob", "operation": "add", "path": home, "attribute": "forged", "value": "x",
                   "expect_error": "CAT_NO_ACCESS_PERMISSION"}},
        {"imeta": {"as": "bob", "operation": "add", "path": home, "attribute": "forged", "value": "x",
                   "admin_mode": True, "expect_error": "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"}},
        {"imeta": {"as": "alice", "operation": "rm", "path": home, "attribute": "a", "value": "9",
                   "expect_error": "CAT_SUCCESS_BUT_WITH_NO_INFO"}},
    ], empty_rules)
    assert result.unexpected == []
    assert _avus(result.state, home) == [["a", "2", ""]]
    assert [p["name"] for p in result.state["pep_points"]][:2] == ["pep_api_mod_avu_metadata_pre",
                                                                    "pep_api_mod_avu_metadata_post"]


def test_ichmod_needs_own_and_applies_recursive_and_inherit(tmp_path, empty_rules):
    # db_plugin.cpp db_mod_access_control_op / _modInheritance: own on the top, -r below it
    home = "/tempZone/home/alice"
    result = _run(tmp_path, [
        {"mkdir": {"as": "alice", "path": home + "/run/plate"}},
        {"ichmod": {"as": "bob", "level": "read", "user": "bob", "path": home + "/run",
                    "expect_error": "CAT_NO_ACCESS_PERMISSION"}},
        {"ichmod": {"as": "alice", "level": "read", "user": "lab", "path": home + "/run", "recursive": True}},
        {"ichmod": {"as": "alice", "level": "inherit", "path": home + "/run"}},
    ], empty_rules)
    assert result.unexpected == []
    collections = {c["path"]: c for c in result.state["collections"]}
    assert collections[home + "/run/plate"]["acl"] == {"alice": "own", "lab": "read_object"}
    assert collections[home + "/run"]["inherit"] is True and collections[home + "/run/plate"]["inherit"] is False


def test_ichmod_without_a_user_is_a_scenario_error(tmp_path):
    message = _error(tmp_path, {"users": HOSTILE_USERS, "steps": [
        {"ichmod": {"as": "alice", "level": "read", "path": "/tempZone/home/alice"}}]})
    assert "steps[0].ichmod" in message and "needs a user" in message


def test_a_user_rule_runs_later_as_that_user_and_nothing_more(tmp_path, empty_rules):
    # irods/irods server/delay_server/src/irodsDelayServer.cpp: a delayed rule runs as the
    # user who scheduled it, so bob's rule cannot write into alice's home
    body = ("callback.msiModAVUMetadata('-C', '/tempZone/home/alice', 'add', 'forged', 'x', '')")
    result = _run(tmp_path, [{"user_rule": {"as": "bob", "rule": body}}, {"run_delay_queue": {}}], empty_rules)
    assert result.unexpected == []
    assert [p["user"] for p in result.state["peps"] if p["kind"] == "delay"] == ["bob"]
    assert _avus(result.state, "/tempZone/home/alice") == []
    assert any("CAT_NO_ACCESS_PERMISSION" in line for line in result.state["log"])


def test_purge_delay_queue_and_fail_msi(tmp_path, empty_rules):
    add = "callback.msiModAVUMetadata('-C', '/tempZone/home/bob', 'add', 'n', '%s', '')"
    result = _run(tmp_path, [
        {"user_rule": {"as": "bob", "rule": add % "1"}},
        {"purge_delay_queue": {}},
        {"run_delay_queue": {}},
        {"fail_msi": {"name": "msiModAVUMetadata", "error": "SYS_INTERNAL_ERR", "times": 1}},
        {"user_rule": {"as": "bob", "rule": add % "2"}},
        {"user_rule": {"as": "bob", "rule": add % "3"}},
        {"run_delay_queue": {}},
    ], empty_rules)
    assert result.unexpected == []
    assert _avus(result.state, "/tempZone/home/bob") == [["n", "3", ""]]
    assert any("SYS_INTERNAL_ERR" in line for line in result.state["log"])
    assert result.state["delay_queue"] == []


def test_fail_msi_needs_a_known_error_name(tmp_path):
    message = _error(tmp_path, {"users": HOSTILE_USERS, "steps": [
        {"fail_msi": {"name": "msiDataObjRename", "error": "NO_SUCH_ERROR"}}]})
    assert "steps[0].fail_msi.error" in message


def test_config_step_replaces_the_policy_config_for_later_rules(tmp_path, empty_rules):
    (tmp_path / "later.json").write_text(json.dumps({"schema": "omero-irods/config", "version": 1, "zones": {}}))
    result = _run(tmp_path, [{"config": {"file": "later.json"}}], empty_rules,
                  config={"schema": "omero-irods/config", "version": 1, "zones": {"tempZone": {}}})
    assert result.unexpected == []
    written = json.loads((tmp_path / "work" / "etc" / "irods" / "omero_irods.json").read_text())
    assert written["zones"] == {} and "command" in written["omero_import"]


def test_a_four_mib_put_is_generated_deterministically(tmp_path):
    data = scenario.generated_bytes(4 << 20, seed="x")
    assert len(data) == 4 << 20
    assert data[:64] == scenario.generated_bytes(64, seed="x")
    assert data[-32:] == hashlib.sha256(b"x:%d" % ((4 << 20) // 32 - 1)).digest()


def test_the_dump_writes_names_with_lone_surrogates(tmp_path):
    state = {"zone": "tempZone", "collections": [], "data_objects": [], "peps": [],
             "log": ["omero-irods: bad name a\udcff.tif"]}
    target = tmp_path / "dump.json"
    dump.write(state, str(target))
    assert json.loads(target.read_text(encoding="utf-8"))["log"] == state["log"]
