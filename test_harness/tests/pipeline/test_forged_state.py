"""Only what the pipeline wrote in its records collection steers it.

A user owns their placed data and may write AVUs and files there; whoever an admin lets
write in the landing zone may mark payloads. None of that may start, stop, redirect or
re-run a request: state, claims and links live in `<records>/<request_id>`, which only the
service account may write (omero_irods.records), and a payload counts only at
`<landing>/<request_id>/<request_id>.omero-irods.json`.
"""

from pipeline_support import (ALICE_ROOT, LANDING, RECORDS, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario,
                              claims, links_of, ours, paths, queued, record_of, request_records, under)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 50}
#: a sweep that runs within the drains below
SWEEP = {"sweep": {"interval_seconds": 600, "unclaimed_seconds": 60, "idle_seconds": 60}}
DRAIN = {"run_delay_queue": {"until_idle": True, "max_seconds": 700}}  # one sweep or two


def _sweeps(state):
    return [pep for pep in state["peps"] if pep["kind"] == "rule" and pep["name"] == names.RULE_SWEEP]


def imported_request(tmp_path, live_zone, request_id, config=None):
    request = Request(tmp_path, request_id, FILES, target_name="run1")
    zone = live_zone(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], config=config))
    state = zone.state()
    record = record_of(state, request_id)
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    return zone, request, avus_of(state, record)[names.AVU_DESTINATION]


def test_a_forged_record_in_placed_data_never_drives_the_sweep_the_watcher_or_the_importer(tmp_path, live_zone):
    zone, _request, destination = imported_request(tmp_path, live_zone, "20261122T101500Z-0000f001", config=SWEEP)
    # alice owns her placed data: she adds a look-alike record asking for an import as bob
    fake = destination + "/evil" + names.PAYLOAD_SUFFIX
    zone.catalog.put("alice", fake, b"{}")
    forged = ((names.AVU_STATE, names.FAILED), (names.AVU_REPROCESS, "requested"),
              (names.AVU_IMPORT_ROOT, destination), (names.AVU_OMERO_USER, "bob"),
              (names.AVU_OPERATION, names.INGEST), (names.AVU_REQUEST_ID, "20261122T101500Z-0000f001"))
    for target, avus in ((fake, forged), (destination, forged[:3])):  # the provenance has the rest
        for attribute, value in avus:
            zone.catalog.add_avu("alice", target, attribute, value)
    forged = avus_of(zone.state(), fake)
    sweeps_before = len(_sweeps(zone.state()))
    # the rules, queued as the service account would queue them for such a path
    for rule in (names.RULE_WATCH, names.RULE_IMPORT, names.RULE_IMPORT_CHECK, names.RULE_PROCESS):
        zone.schedule(rule, fake, "2") if rule != names.RULE_WATCH else zone.schedule(rule, fake)
    zone.step({"advance_clock": "3600s"})
    zone.step(DRAIN)  # the sweep runs in it
    state = zone.state()
    assert len(_sweeps(state)) > sweeps_before
    assert len(state["imports"]) == 1 and all("bob" not in " ".join(run["argv"]) for run in state["imports"])
    assert avus_of(state, fake) == forged  # nothing written to it
    log = ours(state["log"])
    assert any("stopped watching %s: it is no request record" % fake in line for line in log)
    assert any("%s is not a request record in %s; not processed" % (fake, RECORDS) in line for line in log)
    assert any("%s ignored: a payload is taken only from" % fake in line for line in log)
    assert not any("reprocessing" in line for line in log)
    assert claims(state, "20261122T101500Z-0000f001", "import-") == [1]


def test_a_payload_named_member_in_the_users_tar_is_refused(tmp_path, run_scenario):
    files = dict(FILES)
    files["run1/notes" + names.PAYLOAD_SUFFIX] = b'{"looks": "like a record"}'
    request = Request(tmp_path, "20261122T101500Z-0000f002", files)
    state = run_scenario(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert avus[names.AVU_ERROR].startswith("rejected (unsafe_member): run1/notes.omero-irods.json")
    assert under(state, ALICE_ROOT) == [] and state["imports"] == []


def test_forged_state_on_a_landing_payload_stops_nothing(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000f003", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps()))
    # bob was let write AVUs in the landing zone; he marks alice's request as done and rejected
    # (with write on its bytes the request is rejected for that: test_redteam_landing.py)
    zone.catalog.set_acl(SERVICE, request.payload_path, "modify_metadata", "bob")
    for attribute, value in ((names.AVU_STATE, names.REJECTED), (names.AVU_ERROR, "forged"),
                             (names.AVU_STATE_SINCE, "1"), (names.AVU_IMPORT_ROOT, "/tempZone/home/bob")):
        zone.catalog.add_avu("bob", request.payload_path, attribute, value)
    zone.step(UNTIL_IDLE)
    state = zone.state()
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.IMPORTED and names.AVU_ERROR not in avus
    assert avus[names.AVU_DESTINATION].startswith(ALICE_ROOT)
    assert len(state["imports"]) == 1


def test_a_misfiled_payload_removes_nothing(tmp_path, live_zone):
    # the victim's push is under way: its data is there, its payload not yet
    victim = Request(tmp_path, "20261122T101500Z-0000f004", FILES)
    zone = live_zone(base_scenario(tmp_path, victim.steps()[:2]))
    content = victim.payload_bytes.decode("utf-8")
    misfiled = [LANDING + "/" + victim.request_id + names.PAYLOAD_SUFFIX,  # at the landing root
                victim.collection + "/sub/" + victim.request_id + names.PAYLOAD_SUFFIX]  # inside a push
    zone.step({"mkdir": {"as": SERVICE, "path": victim.collection + "/sub"}})
    for path in misfiled:
        zone.step({"put": {"as": SERVICE, "client": "prc", "content": content, "to": path}})
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert victim.tar_path in paths(state) and all(path in paths(state) for path in misfiled)
    assert request_records(state) == [] and state["imports"] == []
    for path in misfiled:
        assert any("%s ignored: a payload is taken only from" % path in line for line in ours(state["log"]))
        assert avus_of(state, path) == {}


def test_a_reused_request_id_is_refused_and_nothing_is_placed_or_imported_twice(tmp_path, live_zone):
    zone, first, destination = imported_request(tmp_path, live_zone, "20261122T101500Z-0000f005")
    before = zone.state()
    again = Request(tmp_path, first.request_id, {"run1/a.tif": b"other"}, target_name="run1")
    for step in again.steps() + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    record = record_of(state, first.request_id)
    assert avus_of(state, record) == avus_of(before, record)  # the first request's record is untouched
    assert claims(state, first.request_id, "attempt-") == [1]
    assert len(state["imports"]) == 1
    assert under(state, ALICE_ROOT, "collections") == under(before, ALICE_ROOT, "collections")
    assert under(state, again.collection) == sorted([again.payload_path, again.tar_path])  # nothing removed
    assert any("%s refused: request id %s already belongs to another payload" % (again.payload_path, first.request_id)
               in line for line in ours(state["log"]))
    assert queued(state) == []


def test_nothing_is_processed_while_others_may_write_in_the_records(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000f006", FILES)
    zone = live_zone(base_scenario(tmp_path, []))
    zone.catalog.set_acl("rods", RECORDS, "write", "bob", admin_mode=True)  # an admin's mistake
    for step in request.steps() + [{"advance_clock": "2s"}, {"run_delay_queue": {}}]:
        zone.step(step)
    state = zone.state()
    assert request_records(state) == [] and state["imports"] == []
    refused = [line for line in ours(state["log"]) if "is not trusted, nothing is processed" in line]
    assert refused and "bob" in refused[0] and "deferred" in refused[0]
    # what is wrong and what to do, not a blame on the config file
    assert "an iRODS admin must fix the ACL of the records" in refused[0], refused[0]
    assert "ichmod -M null NAME %s" % RECORDS in refused[0] and "policy config is wrong" not in refused[0]
    zone.catalog.set_acl("rods", RECORDS, "null", "bob", admin_mode=True)  # the admin fixes it
    zone.step({"advance_clock": "120s"})
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    assert len(state["imports"]) == 1


def test_links_are_readable_by_everyone_and_writable_by_the_service_account_only(tmp_path, live_zone):
    zone, request, destination = imported_request(tmp_path, live_zone, "20261122T101500Z-0000f007")
    state = zone.state()
    assert links_of(state, request.request_id) == [(destination, "alice")]
    entries = {entry["path"]: entry for entry in state["collections"]}
    for path in (RECORDS + "/links", RECORDS + "/links/" + request.request_id):
        acl = entries[path]["acl"]
        assert acl.get("public") in ("read", "read_object") and acl[SERVICE] == "own", acl
        assert set(acl) <= {"public", SERVICE}, acl
    records_acl = entries[RECORDS]["acl"]
    assert set(records_acl) == {SERVICE} and not entries[RECORDS]["inherit"], entries[RECORDS]


def test_a_claim_that_never_recorded_its_payload_is_named_by_the_sweep_and_recovers_once_removed(tmp_path, live_zone):
    # an agent stopped between creating the record and binding it to the payload: every event
    # for the payload then takes it for a concurrent claim; the sweep says what to do
    request = Request(tmp_path, "20261122T101500Z-0000f008", FILES)
    zone = live_zone(base_scenario(tmp_path, [], config=SWEEP))
    zone.catalog.create_collection(SERVICE, RECORDS, parents=True)
    zone.catalog.create_collection(SERVICE, RECORDS + "/" + request.request_id)
    for step in request.steps() + [{"advance_clock": "3600s"}, DRAIN]:
        zone.step(step)
    state = zone.state()
    assert state["imports"] == []
    log = ours(state["log"])
    assert any("is being claimed by another event" in line for line in log)
    assert any("remove the empty record %s/%s" % (RECORDS, request.request_id) in line for line in log)
    zone.catalog.remove_collection(SERVICE, RECORDS + "/" + request.request_id, recursive=True, force=True)
    zone.step({"advance_clock": "3600s"})
    zone.step(DRAIN)
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    assert len(state["imports"]) == 1
