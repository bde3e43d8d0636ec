"""No request is lost: a rule that cannot start runs again later, and the sweep re-queues
what no rule is scheduled for any more (omero_irods.watch).

The delay server runs a rule once and deletes it, whether it failed or not (irods/irods
server/delay_server/src/irodsDelayServer.cpp); a queue can lose rules (an agent crash, a purge),
and a config file can be half-saved when a rule reads it. Times run on the sandbox clock.
"""

import json

from pipeline_support import (DRAIN_FAILURES, LANDING, UNTIL_IDLE, Request, avus_of, base_scenario, ours, paths,
                              queued, record_of)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 10}
HOURLY_SWEEP = {"sweep": {"interval_seconds": 3600}}


def imported(state, request_id):
    return avus_of(state, record_of(state, request_id))[names.AVU_STATE] == names.IMPORTED


def break_config(zone):
    """An editor saving half of the policy config; returns the good text."""
    with open(zone._run.config_file, encoding="utf-8") as handle:
        good = handle.read()
    with open(zone._run.config_file, "w", encoding="utf-8") as handle:
        handle.write(good[:-2])
    return good


def restore_config(zone, good):
    with open(zone._run.config_file, "w", encoding="utf-8") as handle:
        handle.write(good)


def lose_rules(zone, rule_name):
    """The delay queue loses every rule calling `rule_name` (an agent crash, a purge)."""
    queue = zone.runtime.delay_queue._rules
    queue[:] = [rule for rule in queue if rule_name not in rule.body]


def test_a_request_survives_a_day_of_broken_config(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k001", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps()))
    good = break_config(zone)
    zone.step(UNTIL_IDLE)  # a day of deferrals: 1 min doubling to 1 h
    deferrals = [line for line in ours(zone.state()["log"]) if "omero_irods_process(%s) deferred" % request.payload_path
                 in line]
    assert len(deferrals) > 20 and "the policy config is wrong" in deferrals[0]
    restore_config(zone, good)
    zone.step({"advance_clock": "1h"})
    zone.step(UNTIL_IDLE)
    assert imported(zone.state(), request.request_id), ours(zone.state()["log"])[-3:]


def test_deferrals_end_with_a_log_line_that_says_what_to_do(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k002", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps()))
    break_config(zone)
    zone.step({"run_delay_queue": {"until_idle": True, "max_seconds": 3 * 86400}})
    state = zone.state()
    assert queued(state) == [] and state["delay_queue"] == []
    # both put events of the upload scheduled the rule; each gives up after its last try
    gave_up = [line for line in ours(state["log"]) if "gave up on omero_irods_process(%s)" % request.payload_path
               in line]
    assert len(gave_up) == 2 and "after 31 tries" in gave_up[0]
    assert "the sweep queues unclaimed payloads again" in gave_up[0]
    assert names.AVU_STATE not in avus_of(state, request.payload_path)  # untouched, for the sweep


def test_the_sweep_queues_a_payload_whose_rule_was_lost(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k003", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps(), config=HOURLY_SWEEP))
    lose_rules(zone, names.RULE_PROCESS)
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert imported(state, request.request_id)
    assert any("sweep of %s: queued again %s" % (LANDING, request.payload_path) in line for line in ours(state["log"]))
    assert [rule for rule in state["delay_queue"] if names.RULE_SWEEP in rule["rule"]]  # it goes on


def test_reprocess_of_a_request_whose_rule_was_lost_is_picked_up_by_the_sweep(tmp_path, live_zone):
    rid = "20261122T101500Z-0000w001"
    request = Request(tmp_path, rid, FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}],
                                   config=HOURLY_SWEEP))
    zone.runtime.delay_queue._rules[:] = []  # the import rule is lost, the sweep with it
    answer = zone.irule("omero_irods_reprocess", request_id=rid)
    assert answer["reprocess"] == "requested"
    assert answer["picked_up_by_the_sweep_once_idle_for_seconds"] == 3 * 3600  # idle + backoff + import timeout
    # the next push restarts the lost sweep (its last run is older than two intervals)
    zone.step({"advance_clock": "3h"})
    second = Request(tmp_path, "20261122T131500Z-0000w002", FILES)
    for step in second.steps() + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    assert imported(state, rid) and imported(state, second.request_id)
    assert names.AVU_REPROCESS not in avus_of(state, record_of(state, rid))
    assert len(state["imports"]) == 2


def test_a_second_sweep_chain_ends_itself(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k004", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], config=HOURLY_SWEEP))
    zone.schedule(names.RULE_SWEEP, LANDING)  # e.g. two puts restarting it at the same moment
    zone.step({"run_delay_queue": {}})
    zone.step({"advance_clock": "1s"})
    zone.step({"run_delay_queue": {}})
    state = zone.state()
    assert len([rule for rule in state["delay_queue"] if names.RULE_SWEEP in rule["rule"]]) == 1
    assert any("sweep of %s ended: another one ran" % LANDING in line for line in ours(state["log"]))


def test_a_watcher_stops_after_its_time_and_the_sweep_takes_a_later_mark(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k005", FILES)
    config = dict(HOURLY_SWEEP, retry={"attempts": 2, "backoff_seconds": 30, "watch_seconds": 3600})
    zone = live_zone(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], omero="fail", config=config))
    state = zone.state()
    record = record_of(state, request.request_id)
    assert avus_of(state, record)[names.AVU_STATE] == names.FAILED
    assert any("stopped watching failed request %s after 0 days" % record in line for line in ours(state["log"]))
    assert queued(state) == []  # no watcher polls on

    zone.use_importer("succeed")
    assert zone.irule("omero_irods_reprocess", request_id=request.request_id)["reprocess"] == "requested"
    zone.step(UNTIL_IDLE)
    assert imported(zone.state(), request.request_id)


def test_marking_twice_is_answered_not_an_error(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000k006", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES], omero="fail",
                                   config={"retry": {"attempts": 1}}))
    first = zone.irule("omero_irods_reprocess", request_id=request.request_id)
    second = zone.irule("omero_irods_reprocess", request_id=request.request_id)
    assert (first["reprocess"], second["reprocess"]) == ("requested", "already requested")
    assert second["picked_up_within_seconds"] == 300 and "error" not in second
    record = record_of(zone.state(), request.request_id)
    marks = [v for a, v, _u in zone.catalog.avus("rods", record) if a == names.AVU_REPROCESS]
    assert marks == ["requested"]


def test_the_sweep_ignores_what_is_not_a_request(tmp_path, live_zone):
    # a payload-looking object put into the landing zone by someone else never starts work
    steps = [{"mkdir": {"as": "omero-svc", "path": LANDING + "/20261122T101500Z-0000k007"}}]
    zone = live_zone(base_scenario(tmp_path, steps, config=HOURLY_SWEEP))
    zone.catalog.set_acl("omero-svc", LANDING + "/20261122T101500Z-0000k007", "own", "alice")
    path = LANDING + "/20261122T101500Z-0000k007/20261122T101500Z-0000k007.omero-irods.json"
    zone.step({"put": {"as": "alice", "client": "iput", "content": json.dumps({}), "to": path}})
    request = Request(tmp_path, "20261122T101500Z-0000k008", FILES)
    for step in request.steps() + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    assert path in paths(state) and names.AVU_STATE not in avus_of(state, path)
    assert imported(state, request.request_id)


def test_a_retry_after_the_payload_became_the_record_finishes_from_there(tmp_path, live_zone):
    # the rule died right after moving the payload into its record (state still `placed`,
    # no import queued); its retry runs on the record and only queues the import
    request = Request(tmp_path, "20261122T101500Z-0000k009", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}]))
    record = record_of(zone.state(), request.request_id)
    lose_rules(zone, names.RULE_IMPORT)
    zone.catalog.set_avu("omero-svc", record, names.AVU_STATE, names.PLACED)
    zone.schedule(names.RULE_PROCESS, record, "2")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert imported(state, request.request_id) and len(state["imports"]) == 1
    assert record_of(state, request.request_id) == record
