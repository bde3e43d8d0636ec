"""Placement never overwrites, and only the service account's payloads in the landing zone
start work.

Facts used: a new entry in a collection with inheritance gets a copy of the parent's ACL and
nothing more for its creator (irods/irods plugins/database/src/db_plugin.cpp db_reg_coll_op);
a rename onto an existing name fails with CAT_NAME_EXISTS_AS_COLLECTION
(server/api/src/rsDataObjRename.cpp); GenQuery shows a user only what they may read
(plugins/database/src/general_query.cpp), so a collection hidden from the service account
looks free until the rename tries it.
"""

from pipeline_support import (ALICE_ROOT, LANDING, LINKS, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario,
                              delayed_runs, links_of, ours, paths, queued, record_of, records, stored_bytes, under)
from omero_irods import names

FILES = {"run1/a.tif": b"new data"}
DAY = "%s/ingest/2026-01-01" % ALICE_ROOT
EXISTING = DAY + "/run1"


def alice_owns_run1(mine):
    """alice already has .../run1 with a file of her own in it."""
    return [{"mkdir": {"as": "alice", "path": mine.rsplit("/", 1)[0]}},
            {"put": {"as": "alice", "client": "iput", "content": "my own", "to": mine}}]


def test_an_existing_destination_stays_untouched_and_the_new_data_lands_at_suffix_2(tmp_path, run_scenario):
    mine = EXISTING + "/a.tif"  # the same relative path as the incoming file (once unwrapped)
    request = Request(tmp_path, "20261122T101500Z-0000c001", FILES, target_name="run1")
    state = run_scenario(base_scenario(tmp_path, alice_owns_run1(mine) + request.steps("prc") + [UNTIL_IDLE]))

    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert avus[names.avu("destination")] == EXISTING + "-2"
    assert under(state, EXISTING) == [mine]
    assert stored_bytes(state, mine) == b"my own"
    assert avus_of(state, mine) == {} and avus_of(state, EXISTING) == {}
    assert stored_bytes(state, EXISTING + "-2/a.tif") == b"new data"


def test_a_destination_hidden_from_the_service_account_is_not_overwritten(tmp_path, live_zone):
    mine = EXISTING + "/notes.txt"
    request = Request(tmp_path, "20261122T101500Z-0000c002", FILES, target_name="run1")
    zone = live_zone(base_scenario(tmp_path, alice_owns_run1(mine)))
    zone.catalog.set_acl("alice", EXISTING, "null", SERVICE)  # ichmod null omero-svc run1
    for step in request.steps("prc") + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()

    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert avus[names.avu("destination")] == EXISTING + "-2"
    assert under(state, EXISTING) == [mine] and stored_bytes(state, mine) == b"my own"


def test_a_payload_put_in_the_landing_zone_by_another_user_is_ignored(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000c003", FILES)
    zone = live_zone(base_scenario(tmp_path, []))
    zone.catalog.set_acl(SERVICE, LANDING, "write", "bob")  # the service account lets bob write there
    for step in request.steps("iput", uploader="bob") + request.steps("prc", uploader="bob")[1:] + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()

    assert delayed_runs(state) == [] and queued(state) == []
    ignored = [line for line in ours(state["log"]) if request.payload_path in line]
    assert ignored and all("not uploaded by the service account" in line for line in ignored)
    assert avus_of(state, request.payload_path) == {}
    assert not under(state, ALICE_ROOT) and state["imports"] == []


def test_payloads_outside_the_landing_zone_are_ignored(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000c004", FILES)
    payload = request.payload_file.read_text()
    outside = ["/tempZone/home/alice/%s.omero-irods.json" % request.request_id,
               "/tempZone/home/omero-svc/elsewhere/%s.omero-irods.json" % request.request_id,
               "/tempZone/home/omero-svc/landing2/%s/%s.omero-irods.json" % (request.request_id, request.request_id)]
    steps = [{"put": {"as": "alice", "client": "prc", "content": payload, "to": outside[0]}},
             {"mkdir": {"as": SERVICE, "path": "/tempZone/home/omero-svc/elsewhere"}},
             {"put": {"as": SERVICE, "client": "iput", "content": payload, "to": outside[1]}},
             {"mkdir": {"as": SERVICE, "path": "/tempZone/home/omero-svc/landing2/" + request.request_id}},
             {"put": {"as": SERVICE, "client": "prc", "content": payload, "to": outside[2]}},
             UNTIL_IDLE]
    state = run_scenario(base_scenario(tmp_path, steps))

    assert delayed_runs(state) == [] and queued(state) == []
    for path in outside:
        lines = [line for line in ours(state["log"]) if path in line]
        assert lines and all("not in the landing zone" in line for line in lines), path
        assert avus_of(state, path) == {}
    assert [p for p in paths(state) if p.startswith(ALICE_ROOT)] == []


def test_a_new_request_gets_its_own_record_after_an_old_one_was_released(tmp_path, live_zone):
    # the service account released run1's link (docs/deploy.md) and alice removed run1; the
    # old request's record stays in the records collection, untouched, and a new run1 is
    # placed under a record of its own.
    first = Request(tmp_path, "20261122T101500Z-0000q001", {"run1/a.tif": b"A" * 10}, target_name="run1")
    drain = {"run_delay_queue": {"until_idle": True, "max_seconds": 600}}  # the same day for both
    zone = live_zone(base_scenario(tmp_path, first.steps() + [drain]))
    state = zone.state()
    old_record = record_of(state, first.request_id)
    destination = avus_of(state, old_record)[names.AVU_DESTINATION]
    assert records(state) == []  # nothing payload-named next to the data
    for root, omero_user in links_of(state, first.request_id):
        zone.catalog.remove_avu(SERVICE, LINKS + "/" + first.request_id, names.AVU_LINKED_ROOT, root, omero_user)
    zone.step({"remove": {"as": "alice", "path": destination + "/a.tif", "force": True}})
    zone.catalog.remove_collection("alice", destination, recursive=True, force=True)
    old_avus = avus_of(zone.state(), old_record)

    second = Request(tmp_path, "20261122T101500Z-0000q002", {"run1/b.tif": b"B" * 10}, target_name="run1")
    for step in second.steps() + [drain]:
        zone.step(step)
    state = zone.state()
    new_record = record_of(state, second.request_id)
    assert avus_of(state, new_record)[names.AVU_STATE] == names.IMPORTED
    assert avus_of(state, new_record)[names.AVU_DESTINATION] == DAY + "/run1"
    assert stored_bytes(state, DAY + "/run1/b.tif") == b"B" * 10
    assert avus_of(state, old_record) == old_avus  # the released request's record is untouched
