"""The pipeline scenario files (omero_irods_sandbox.pipeline_scenarios) show what they say.

The real-server tier runs the same files on a real iRODS 5.0.2 zone and compares the dumps
(test_harness/tests/irods/test_real_scenarios.py); here each runs in the sandbox, from the file
it writes, and its outcome is checked, so a builder change that empties a story fails here and
not only as a missing difference there.
"""

import pytest

from omero_irods import names
from omero_irods_sandbox import pipeline_scenarios
from omero_irods_sandbox import scenario as scenario_module
from omero_irods_sandbox.scenario_builders import ALICE_ROOT, LANDING, RECORDS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """run(name): the dump of scenario `name`, run once per module from the file it writes."""
    states = {}

    def dump_of(name):
        if name not in states:
            folder = tmp_path_factory.mktemp(name)
            path = pipeline_scenarios.write(name, folder)
            result = scenario_module.run(scenario_module.load(path), scenario_module.rules_dir(None),
                                         str(folder / "zone"))
            assert result.unexpected == []
            states[name] = result.state
        return states[name]

    return dump_of


def _record(state, serial):
    path = "%s/20260101T000000Z-0000%04d" % (RECORDS, serial)
    for entry in state["collections"]:
        if entry["path"] == path:
            return {attribute: value for attribute, value, _units in entry["avus"]}
    raise AssertionError("no record %s" % path)


def _ours(state):
    return [line for line in state["log"] if "omero-irods:" in line]


def test_every_scenario_file_is_a_valid_scenario(tmp_path):
    files = pipeline_scenarios.write_all(tmp_path)
    assert sorted(files) == sorted(pipeline_scenarios.SCENARIOS)
    for path in files.values():
        assert scenario_module.load(path).steps


def test_ingest_by_every_client_is_placed_and_imported_once(run):
    state = run("ingest_clients")
    destinations = [_record(state, serial)[names.AVU_DESTINATION] for serial in (1, 2, 3, 4)]
    assert destinations == [ALICE_ROOT + "/ingest/" + name for name in ("run1", "run1-2", "run3", "run4")]
    assert all(_record(state, serial)[names.AVU_STATE] == names.IMPORTED for serial in (1, 2, 3, 4))
    assert [call["exit"] for call in state["imports"]] == [0, 0, 0, 0]
    assert any("duplicate" in line and "ignored" in line and "-00000001" in line for line in _ours(state))  # iput: 2 events


def test_save_is_placed_then_loaded(run):
    state = run("save_then_load")
    assert _record(state, 11)[names.AVU_STATE] == names.PLACED
    assert len(state["imports"]) == 1 and state["imports"][0]["exit"] == 0


@pytest.mark.parametrize("serial, reason", [(21, "schema"), (22, "unmapped_user"), (23, "unsafe_member"),
                                            (24, "checksum_mismatch")])
def test_each_rejection_class(run, serial, reason):
    state = run("rejections")
    record = _record(state, serial)
    assert record[names.AVU_STATE] == names.REJECTED
    assert record[names.AVU_ERROR].startswith("rejected (%s): " % reason)
    assert state["imports"] == []


def test_an_import_failure_is_reprocessed_into_one_import(run):
    state = run("import_failure_then_reprocess")
    assert _record(state, 31)[names.AVU_STATE] == names.IMPORTED
    assert [call["exit"] for call in state["imports"]] == [2, 0]


def test_the_guard_refuses_imv_and_irm_of_linked_data(run):
    state = run("guard")
    assert [(error["kind"], error["name"]) for error in state["client_errors"]] == [
        ("rename", "SYS_NOT_ALLOWED"), ("remove", "SYS_DELETE_DISALLOWED")]
    assert ALICE_ROOT + "/ingest/guarded/a.tif" in [entry["path"] for entry in state["data_objects"]]


def test_the_sweep_queues_the_request_that_has_no_rule(run):
    state = run("sweep_requeues_a_lost_request")
    assert _record(state, 52)[names.AVU_STATE] == names.IMPORTED
    payload = "%s/20260101T000000Z-00000052/20260101T000000Z-00000052.omero-irods.json" % LANDING
    assert len([line for line in _ours(state) if "queued again %s" % payload in line]) == 1
    assert len(state["imports"]) == 3
