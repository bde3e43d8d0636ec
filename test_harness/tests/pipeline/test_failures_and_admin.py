"""Transient trouble is retried with backoff, then `failed` with its error; a failure never
leaves half-placed data; an admin sees requests and reprocesses failed ones through irule.

The delay server runs a rule once and drops it if it fails, unless its hints carry <EF>
(irods/irods server/delay_server/src/irodsDelayServer.cpp): so the policy schedules its own
retries; a failed request is then watched for an admin's reprocess mark (omero_irods.watch).
irule prints what a rule writes to stdout with writeLine (irods/irods server/re/src/printMS.cpp:
the text and a newline go to ruleExecOut's stdout buffer).
"""

from pipeline_support import (ALICE_ROOT, DRAIN_FAILURES, LANDING, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario,
                              claims, ours, queued, record_of, stored_bytes, under)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 200}
RETRY = {"retry": {"attempts": 3, "backoff_seconds": 30, "factor": 2, "max_seconds": 3600}}
DAY = "%s/ingest/2026-01-01" % ALICE_ROOT


def watcher(payload_path):
    """The rule that waits for an admin's reprocess mark on a failed request."""
    return 'callback.%s("%s")' % (names.RULE_WATCH, payload_path)


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
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [DRAIN_FAILURES], omero="fail", config=RETRY))
    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert avus[names.AVU_ERROR].startswith("attempt 3: ")
    assert len(state["imports"]) == 3
    assert queued(state) == [watcher(record)]
    assert any("failed %s after 3 attempts" % record in line for line in ours(state["log"]))
    destination = avus[names.avu("destination")]
    assert stored_bytes(state, destination + "/a.tif") == FILES["run1/a.tif"]


# --- placement fails part-way ----------------------------------------------------------------


def test_placement_failing_after_staging_leaves_nothing_half_visible(tmp_path, live_zone):
    # alice made the day's collection and took the service account's write away from it:
    # staging and checks succeed, the final rename into place cannot.
    request = Request(tmp_path, "20261122T101500Z-0000d003", FILES)
    zone = live_zone(base_scenario(tmp_path, [{"mkdir": {"as": "alice", "path": DAY}}], config=RETRY))
    zone.catalog.set_acl("alice", DAY, "read", SERVICE)
    for step in request.steps("prc") + [DRAIN_FAILURES]:
        zone.step(step)
    state = zone.state()

    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert "CAT_NO_ACCESS_PERMISSION" in avus[names.AVU_ERROR]
    assert under(state, ALICE_ROOT, "collections") == ["%s/ingest" % ALICE_ROOT, DAY]
    assert under(state, ALICE_ROOT) == []
    assert under(state, request.collection) == sorted([request.payload_path, request.tar_path])
    assert under(state, request.collection, "collections") == []
    assert [p for p in under(state, record, "collections") if "/staging-" in p] == []  # no staging left behind
    assert under(state, record) == []
    assert stored_bytes(state, request.tar_path) == request.tar_bytes
    assert state["imports"] == []
    assert queued(state) == [watcher(record)]


def test_a_user_whose_root_is_not_provisioned_fails_with_a_clear_error(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000d004", FILES)
    data = base_scenario(tmp_path, request.steps("prc") + [DRAIN_FAILURES], config=RETRY)
    data["provision"] = []
    state = run_scenario(data)
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.FAILED
    assert "/tempZone/home/alice/omero" in avus[names.AVU_ERROR]
    assert not under(state, "/tempZone/home/alice")
    assert under(state, request.collection, "collections") == []


# --- admin rules (irule as the admin; see also test_admin_rules_irule.py) -------------------


def test_a_rejected_request_is_found_by_its_request_id_even_when_its_payload_is_unreadable(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000e001", FILES, payload_bytes=b"{not json")
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE]))
    status = zone.irule("omero_irods_status", request_id=request.request_id)
    assert status["state"] == names.REJECTED and status["record"] == record_of(zone.state(), request.request_id)
    assert "not valid JSON" in status["error"]
    assert [entry["request_id"] for entry in zone.irule("omero_irods_list")] == [request.request_id]


def test_a_failed_placement_reprocessed_after_the_cause_is_fixed_is_placed_once(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000e004", FILES)
    zone = live_zone(base_scenario(tmp_path, [{"mkdir": {"as": "alice", "path": DAY}}], config=RETRY))
    zone.catalog.set_acl("alice", DAY, "read", SERVICE)
    for step in request.steps("prc") + [DRAIN_FAILURES]:
        zone.step(step)
    assert zone.irule("omero_irods_status", request_id=request.request_id)["state"] == names.FAILED

    zone.catalog.set_acl("alice", DAY, "own", SERVICE)  # alice gives the access back
    assert zone.irule("omero_irods_reprocess", request_id=request.request_id)["reprocess"] == "requested"
    zone.step(UNTIL_IDLE)
    state = zone.state()
    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert names.AVU_ERROR not in avus
    assert claims(state, request.request_id, "attempt-") == [1, 2, 3, 4]
    assert under(state, DAY, "collections")[0] == DAY + "/data"
    assert len(state["imports"]) == 1 and queued(state) == []
    assert not under(state, LANDING)


def test_the_omero_side_can_ask_for_another_attempt_at_a_failed_import(tmp_path, live_zone):
    """`omero-irods reprocess ID` (as the service account): a mark its watcher picks up."""
    from omero_irods.client import listing
    from omero_irods_sandbox.prc_session import SandboxSession

    request = Request(tmp_path, "20261122T101500Z-0000d010", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [DRAIN_FAILURES], omero="fail", config=RETRY))
    session = SandboxSession(zone._run.server, SERVICE)
    assert listing.request_status(session, LANDING, request.request_id).state == names.FAILED
    zone.use_importer("succeed")  # the admin brought OMERO back
    listing.mark_for_reprocess(session, LANDING, request.request_id)
    zone.step(UNTIL_IDLE)
    status = listing.request_status(session, LANDING, request.request_id)
    assert status.state == names.IMPORTED and status.images
    assert names.AVU_REPROCESS not in dict((a, v) for a, v, _u in zone.catalog.avus(SERVICE, status.payload_path))


def test_reprocess_of_a_request_that_is_not_failed_is_refused_and_marks_nothing(tmp_path, live_zone):
    import pytest

    from omero_irods.client import listing
    from omero_irods_sandbox.prc_session import SandboxSession

    request = Request(tmp_path, "20261122T101500Z-0000d011", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE]))
    session = SandboxSession(zone._run.server, SERVICE)
    with pytest.raises(ValueError) as refused:
        listing.mark_for_reprocess(session, LANDING, request.request_id)
    assert "is imported, not failed" in str(refused.value)
    status = listing.request_status(session, LANDING, request.request_id)
    assert not [a for a, _v, _u in zone.catalog.avus(SERVICE, status.payload_path) if a == names.AVU_REPROCESS]
