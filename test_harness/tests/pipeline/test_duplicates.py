"""However many times iRODS tells us about a payload, it is placed once and imported once.

Sources of the duplicate events: iput fires pep_api_data_obj_put_post AND acPostProcForPut
(irods/irods server/api/src/rsDataObjPut.cpp); replication fires acPostProcForPut again,
"legacy behavior" (server/api/src/rsDataObjRepl.cpp). The claims are collections created
without parents in the request's record (`<records>/<rid>`, then `attempt-N`, `import-N`):
the catalog's unique index on collection names (irods/irods
scripts/irods/database/icatSysTables.sql) lets one create of a name succeed, so only one
event per attempt wins.
"""

from pipeline_support import (ALICE_ROOT, LANDING, RECORDS, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, claims, ours,
                              queued, record_of, records, request_records, stored_bytes, under)
from omero_irods import names
from omero_irods.pipeline import IMPORT_RULE, PROCESS_RULE

FILES = {"run1/a.tif": b"A" * 1000, "run1/b.tif": b"B" * 500}


def placed_once(state, request_id):
    """The request is imported, with one claim, one destination and one import."""
    record = record_of(state, request_id)
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert claims(state, request_id, "attempt-") == [1]
    assert claims(state, request_id, "import-") == [1]
    assert request_records(state) == [record] and records(state) == []
    assert len(state["imports"]) == 1
    assert queued(state) == []
    return record


def test_iput_fires_two_events_and_the_request_is_placed_once(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-00000001", FILES)
    state = run_scenario(base_scenario(tmp_path, request.steps("iput")))
    assert queued(state) == [
        'callback.%s("%s", "1")' % (PROCESS_RULE, request.payload_path)] * 2

    state = run_scenario(base_scenario(tmp_path, request.steps("iput") + [UNTIL_IDLE]))
    placed_once(state, request.request_id)
    assert len([line for line in ours(state["log"]) if "duplicate" in line and "ignored" in line]) == 1


def test_replicating_the_payload_before_processing_places_it_once(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-00000002", FILES)
    steps = request.steps("prc") + [
        {"replicate": {"as": SERVICE, "path": request.payload_path, "resource": "replResc"}},
        {"replicate": {"as": SERVICE, "path": request.tar_path, "resource": "replResc"}},
        UNTIL_IDLE,
    ]
    state = run_scenario(base_scenario(tmp_path, steps))
    record = placed_once(state, request.request_id)
    destination = avus_of(state, record)[names.avu("destination")]
    assert stored_bytes(state, destination + "/a.tif") == FILES["run1/a.tif"]
    assert not under(state, LANDING)


def test_replicating_a_placed_payload_starts_nothing(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-00000003", FILES, target_name="run1")
    moved = "%s/%s/%s.omero-irods.json" % (RECORDS, request.request_id, request.request_id)
    steps = request.steps("prc") + [UNTIL_IDLE, {"replicate": {"as": SERVICE, "path": moved, "resource": "replResc"}},
                                    UNTIL_IDLE]
    state = run_scenario(base_scenario(tmp_path, steps))
    assert placed_once(state, request.request_id) == "%s/%s" % (RECORDS, request.request_id)
    assert any("%s ignored by acPostProcForPut: not in the landing zone" % moved in line for line in state["log"])


def test_a_duplicate_delayed_rule_after_completion_changes_nothing(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-00000004", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE]))
    before = zone.state()
    record = placed_once(before, request.request_id)

    zone.schedule(PROCESS_RULE, request.payload_path, "1")
    zone.schedule(IMPORT_RULE, record, "1")
    zone.step(UNTIL_IDLE)
    after = zone.state()
    placed_once(after, request.request_id)
    assert under(after, ALICE_ROOT) == under(before, ALICE_ROOT)
    assert avus_of(after, record) == avus_of(before, record)
    new_lines = ours(after["log"])[len(ours(before["log"])):]
    assert any("no longer there; duplicate event ignored" in line for line in new_lines)
    assert claims(after, request.request_id, "import-") == [1]
    assert any("import of %s skipped: state is imported" % record in line for line in new_lines)


def test_a_duplicate_event_during_a_retry_does_not_claim_the_attempt_again(tmp_path, live_zone):
    # alice's root is not provisioned: placement fails and the request waits for its retry,
    # with its payload still in the landing zone. A late duplicate of attempt 1 must not run.
    request = Request(tmp_path, "20261122T101500Z-00000005", FILES)
    data = base_scenario(tmp_path, request.steps("prc") + [{"run_delay_queue": {}}, {"advance_clock": "1s"},
                                                           {"run_delay_queue": {}}])
    data["provision"] = []
    zone = live_zone(data)
    state = zone.state()
    assert claims(state, request.request_id, "attempt-") == [1]
    (retry,) = queued(state)
    record = record_of(state, request.request_id)
    assert retry == 'callback.%s("%s", "2")' % (PROCESS_RULE, record)

    zone.schedule(PROCESS_RULE, request.payload_path, "1")
    zone.step({"advance_clock": "1s"})
    zone.step({"run_delay_queue": {}})
    state = zone.state()
    assert claims(state, request.request_id, "attempt-") == [1]
    assert any("attempt-1 already claimed; duplicate ignored" in line for line in ours(state["log"]))
    assert queued(state) == [retry]


def test_fifty_requests_for_one_target_name_in_one_drain_each_get_their_own_collection(tmp_path, run_scenario):
    requests = [Request(tmp_path, "20261122T101500Z-%08d" % number, {"run1/a.tif": b"%d" % number},
                        target_name="run1") for number in range(50)]
    steps = [step for request in requests for step in request.steps("prc")] + [UNTIL_IDLE]
    state = run_scenario(base_scenario(tmp_path, steps))

    destinations = {}
    for request in requests:
        record = record_of(state, request.request_id)
        avus = avus_of(state, record)
        assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
        assert claims(state, request.request_id, "attempt-") == [1]
        destinations[request.request_id] = avus[names.avu("destination")]
    base = "%s/ingest/2026-01-01/run1" % ALICE_ROOT
    assert sorted(destinations.values()) == sorted([base] + ["%s-%d" % (base, n) for n in range(2, 51)])
    for number, request in enumerate(requests):  # nobody's data was overwritten
        assert stored_bytes(state, destinations[request.request_id] + "/a.tif") == b"%d" % number
    assert len(state["imports"]) == 50
    assert not under(state, LANDING)
