"""Scenario files: bad ones are refused with a message naming file, step and field; good ones
run and leave a dump with the contract's keys (docs/sandbox.md, "The dump")."""

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
