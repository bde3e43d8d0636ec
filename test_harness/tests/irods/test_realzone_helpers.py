"""The tier's own helpers, without a server: the port choice and the dump comparison."""

import re

from realzone import compare, kit


def test_picked_ports_avoid_developer_zones_and_their_transfer_ranges():
    import random

    developer_ranges = {kit.parallel_range(port)[0] for port in kit.RESERVED_PORTS}
    for seed in range(20):
        port = kit.pick_port(random.Random(seed))
        assert port not in kit.RESERVED_PORTS
        assert kit.parallel_range(port)[0] not in developer_ranges


def test_parallel_range_follows_the_kit():
    # kit start-zone.sh: PRS=$(( 20000 + ((PORT - 1247 + 400) % 200) * 200 ))
    assert kit.parallel_range(1247)[0] == 20000
    assert kit.parallel_range(1250)[0] == 20600
    assert kit.parallel_range(1447)[0] == 20000  # 200 apart: the same range


def _state(**changes):
    state = {"collections": [], "data_objects": [], "imports": [], "client_errors": [], "log": [],
             "delay_queue": [], "_vault_roots": {}}
    state.update(changes)
    return state


def _object(path, avus=(), acl=None, physical="/v/x"):
    return {"path": path, "size": 1, "owner": "svc", "checksum": "", "acl": acl or {"svc": "own"},
            "avus": [list(a) for a in avus],
            "replicas": [{"number": 0, "resource": "demoResc", "physical_path": physical, "size": 1,
                          "status": "good", "checksum": ""}]}


def test_ids_dates_and_vault_roots_are_normalised_before_comparing():
    sandbox = _state(data_objects=[_object("/z/2026-01-01/run1", [("omero_irods::state_since", "1767225602", ""),
                                                                   ("omero_irods::request_id", "20260101T000000Z-0000demo", "")],
                                           physical="/tmp/sb/vaults/demoResc/home/x")],
                     _vault_roots={"demoResc": "/tmp/sb/vaults/demoResc"})
    real = _state(data_objects=[_object("/z/2026-12-02/run1", [("omero_irods::request_id", "20261202T100044Z-04164b4f", ""),
                                                                ("omero_irods::state_since", "1796205688", "")],
                                        physical="/var/tmp/t/vault/home/x")],
                  _vault_roots={"demoResc": "/var/tmp/t/vault"})
    assert compare.differences(sandbox, real, [], []) == []


def test_a_real_difference_is_reported_and_unexplained():
    sandbox = _state(data_objects=[_object("/z/a", acl={"svc": "own", "alice": "own"})])
    real = _state(data_objects=[_object("/z/a", acl={"svc": "own", "alice": "own", "public": "read_object"})])
    found = compare.differences(sandbox, real, [], [])
    assert [(d["kind"], d["where"]) for d in found] == [("acl", "/z/a")]
    assert compare.unexplained(found) == found
    assert "UNEXPLAINED" in compare.report(found)


def test_pep_sequences_compare_what_the_sandbox_emulates_in_order():
    steps = [(0, "put", ["pep_api_data_obj_put_pre", "acPostProcForPut", "pep_api_data_obj_put_post"])]
    same = [(0, "put", ["pep_api_authenticate_pre", "pep_api_data_obj_put_pre", "acSetVaultPathPolicy",
                        "acPostProcForPut", "pep_api_data_obj_put_post"])]
    found = compare.differences(_state(), _state(), steps, same)
    assert {d["kind"] for d in found} == {"pep not emulated"}
    assert compare.unexplained(found) == []
    swapped = [(0, "put", ["pep_api_data_obj_put_pre", "pep_api_data_obj_put_post", "acPostProcForPut"])]
    found = compare.differences(_state(), _state(), steps, swapped)
    assert [d["kind"] for d in found] == ["pep sequence"]
    assert compare.unexplained(found) == found


def test_every_known_difference_names_a_reason_key():
    for kind, pattern, reason in compare.KNOWN_DIFFERENCES:
        re.compile(pattern)
        assert re.match(r"^[a-z0-9-]+$", reason), reason


def test_the_policys_lines_are_compared_with_wall_time_and_file_places_normalised():
    sandbox = _state(log=[
        "writeLine: inString = omero-irods: sweep of /z/landing started (last run 127s ago)",
        "writeLine: inString = omero-irods: x: rejected (unmapped_user): OMERO user 'carol' has no iRODS account; "
        "ask your iRODS administrator to add you to the omero-irods user map (/tmp/s/user_map.json)",
        "msiCollCreate: collection /z/omero-irods-records/r already exists, status = -809000"])
    real = _state(log=[
        "writeLine: inString = omero-irods: sweep of /z/landing started (last run 131s ago)",
        "writeLine: inString = omero-irods: x: rejected (unmapped_user): OMERO user 'carol' has no iRODS account; "
        "ask your iRODS administrator to add you to the omero-irods user map (/var/t/etc/omero_irods_user_map.json)"])
    assert compare.differences(sandbox, real, [], []) == []
    real["log"].append("writeLine: inString = omero-irods: sweep of /z/landing: queued again /z/landing/r/r.json")
    assert [d["kind"] for d in compare.differences(sandbox, real, [], [])] == ["log line only in real"]


def test_harness_steps_fire_no_client_peps_on_either_side():
    steps = [(0, "purge_delay_queue", []), (1, "advance_clock", [])]
    assert compare.differences(_state(), _state(), steps, [(0, "purge_delay_queue", []),
                                                            (1, "advance_clock", [])]) == []


def test_zone_folders_are_short_and_distinct():
    from realzone.scenario_runner import zone_folder

    names = ["sweep_requeues_a_lost_request", "sweep_requeues_another", "import_failure_then_reprocess"]
    folders = []
    for name in names:
        folders.append(zone_folder(name, set(folders)))
    assert len(set(folders)) == 3 and max(len(folder) for folder in folders) <= 10


def test_the_real_runner_has_a_step_for_every_step_kind_of_the_sandbox():
    from omero_irods_sandbox.scenario import HARNESS_STEPS, STEP_KINDS
    from realzone import scenario_runner

    assert [kind for kind in STEP_KINDS if not hasattr(scenario_runner.RealRun, "_step_" + kind)] == []
    assert set(HARNESS_STEPS) <= set(scenario_runner.HARNESS_STEPS) | {"config"}
    assert set(scenario_runner.HARNESS_STEPS) <= set(compare.HARNESS_STEPS)
