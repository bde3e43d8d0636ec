"""Transient trouble is retried with backoff, then `failed` with its error; a failure never
leaves half-placed data; an admin sees requests and reprocesses failed ones through irule.

The delay server runs a rule once and drops it if it fails, unless its hints carry <EF>
(irods/irods server/delay_server/src/irodsDelayServer.cpp): so the policy schedules its own
retries. irule prints what a rule writes to stdout with writeLine (irods/irods
server/re/src/printMS.cpp: the text and a newline go to ruleExecOut's stdout buffer).
"""

import pytest

from conftest import (ALICE_ROOT, LANDING, SERVICE, UNTIL_IDLE, Request, avu_values, avus_of, base_scenario, ours,
                      record_of, records, stored_bytes, under)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 200}
RETRY = {"retry": {"attempts": 3, "backoff_seconds": 30, "factor": 2, "max_seconds": 3600}}
DAY = "%s/ingest/2026-01-01" % ALICE_ROOT


def retry_lines(state):
    return [line.split("omero-irods: ", 1)[1] for line in ours(state["log"]) if "; retry in " in line]


# --- the importer fails --------------------------------------------------------------------


def test_an_importer_failing_twice_is_retried_with_backoff_then_imported(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000d001", FILES)
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], omero={"fail_times": 2},
                                       config=RETRY))
    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert names.AVU_ERROR not in avus  # the error of a retried attempt does not outlive its success
    assert [call["exit"] for call in state["imports"]] == [2, 2, 0]
    delays = [line.rsplit(" ", 1)[1] for line in retry_lines(state)]
    assert delays == ["30s", "60s"]
    assert len(under(state, avus[names.avu("destination")])) == len(FILES)


def test_an_importer_that_keeps_failing_ends_failed_with_its_error_and_the_data_stays_placed(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000d002", FILES)
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], omero="fail", config=RETRY))
    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert avus[names.AVU_ERROR].startswith("attempt 3: ")
    assert len(state["imports"]) == 3 and state["delay_queue"] == []
    assert any("failed %s after 3 attempts" % record in line for line in ours(state["log"]))
    destination = avus[names.avu("destination")]
    assert stored_bytes(state, destination + "/run1/a.tif") == FILES["run1/a.tif"]


# --- placement fails part-way ----------------------------------------------------------------


def test_placement_failing_after_staging_leaves_nothing_half_visible(tmp_path, live_zone):
    # alice made the day's collection and took the service account's write away from it:
    # staging and checks succeed, the final rename into place cannot.
    request = Request(tmp_path, "20261122T101500Z-0000d003", FILES)
    zone = live_zone(base_scenario(tmp_path, [{"mkdir": {"as": "alice", "path": DAY}}], config=RETRY))
    zone.catalog.set_acl("alice", DAY, "read", SERVICE)
    for step in request.steps("prc") + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()

    avus = avus_of(state, request.payload_path)
    assert avus[names.AVU_STATE] == names.FAILED
    assert "CAT_NO_ACCESS_PERMISSION" in avus[names.AVU_ERROR]
    assert under(state, ALICE_ROOT, "collections") == ["%s/ingest" % ALICE_ROOT, DAY]
    assert under(state, ALICE_ROOT) == []
    assert under(state, request.collection) == sorted([request.payload_path, request.tar_path])
    assert under(state, request.collection, "collections") == []  # no staging left behind
    assert stored_bytes(state, request.tar_path) == request.tar_bytes
    assert state["imports"] == [] and state["delay_queue"] == []


def test_a_user_whose_root_is_not_provisioned_fails_with_a_clear_error(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000d004", FILES)
    data = base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], config=RETRY)
    data["provision"] = []
    state = run_scenario(data)
    avus = avus_of(state, request.payload_path)
    assert avus[names.AVU_STATE] == names.FAILED
    assert "/tempZone/home/alice/omero" in avus[names.AVU_ERROR]
    assert not under(state, "/tempZone/home/alice")
    assert under(state, request.collection, "collections") == []


# --- admin rules -------------------------------------------------------------------------------


def test_status_and_list_describe_requests(tmp_path, live_zone):
    done = Request(tmp_path, "20261122T101500Z-0000e001", FILES)
    bad = Request(tmp_path, "20261122T101500Z-0000e002", FILES, omero_user="carol")
    zone = live_zone(base_scenario(tmp_path, done.steps("prc") + bad.steps("prc") + [UNTIL_IDLE]))
    record = record_of(zone.state(), done.request_id)

    status = zone.irule_json("omero_irods_status", done.request_id, user=SERVICE)
    assert status["state"] == names.IMPORTED and status["payload"] == record
    assert status["omero_user"] == "alice" and status["omero_images"]
    rejected = zone.irule_json("omero_irods_status", bad.request_id, user=SERVICE)
    assert rejected["state"] == names.REJECTED and "carol" in rejected["error"]
    assert zone.irule_json("omero_irods_status", "20261122T101500Z-00000000", user=SERVICE)["error"] == "no such request"

    listed = zone.irule_json("omero_irods_list", user=SERVICE)
    assert [entry["request_id"] for entry in listed] == [bad.request_id, done.request_id]
    assert [entry["request_id"] for entry in zone.irule_json("omero_irods_list", "1", user=SERVICE)] == [bad.request_id]


def test_a_failed_import_reprocessed_after_the_cause_is_fixed_ends_imported(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000e003", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], omero="fail", config=RETRY))
    assert zone.irule_json("omero_irods_status", request.request_id, user=SERVICE)["state"] == names.FAILED

    zone.use_importer("succeed")
    answer = zone.irule_json("omero_irods_reprocess", request.request_id, user=SERVICE)
    assert answer["scheduled"] == "omero_irods_import"
    zone.step(UNTIL_IDLE)
    state = zone.state()
    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED
    assert names.AVU_ERROR not in avus
    assert [call["exit"] for call in state["imports"]] == [2, 2, 2, 0]
    assert len(records(state)) == 1


def test_a_failed_placement_reprocessed_after_the_cause_is_fixed_is_placed_once(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000e004", FILES)
    zone = live_zone(base_scenario(tmp_path, [{"mkdir": {"as": "alice", "path": DAY}}], config=RETRY))
    zone.catalog.set_acl("alice", DAY, "read", SERVICE)
    for step in request.steps("prc") + [UNTIL_IDLE]:
        zone.step(step)
    assert zone.irule_json("omero_irods_status", request.request_id, user=SERVICE)["state"] == names.FAILED

    zone.catalog.set_acl("alice", DAY, "own", SERVICE)  # alice gives the access back
    answer = zone.irule_json("omero_irods_reprocess", request.request_id, user=SERVICE)
    assert answer["scheduled"] == "omero_irods_process" and answer["attempt"] == 4
    zone.step(UNTIL_IDLE)
    state = zone.state()
    record = record_of(state, request.request_id)
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert avu_values(state, record, names.avu("attempt")) == ["1", "2", "3", "4"]
    assert under(state, DAY, "collections")[0] == DAY + "/data"
    assert not under(state, LANDING)


def test_a_rejected_request_is_not_reprocessed(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000e005", FILES, omero_user="carol")
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE]))
    answer = zone.irule_json("omero_irods_reprocess", request.request_id, user=SERVICE)
    assert "rejected requests are never retried" in answer["error"]
    state = zone.state()
    assert state["delay_queue"] == []
    assert avus_of(state, request.payload_path)[names.AVU_STATE] == names.REJECTED


@pytest.mark.parametrize("user", ["rods", "bob"])
def test_reprocess_by_anyone_but_the_service_account_is_refused(tmp_path, live_zone, user):
    # A delayed rule runs as the user who scheduled it: scheduled by anyone else, the request
    # would be processed with that user's rights.
    request = Request(tmp_path, "20261122T101500Z-0000e006", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], omero="fail", config=RETRY))
    answer = zone.irule_json("omero_irods_reprocess", request.request_id, user=user)
    assert SERVICE in answer["error"]
    state = zone.state()
    assert state["delay_queue"] == []
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.FAILED
