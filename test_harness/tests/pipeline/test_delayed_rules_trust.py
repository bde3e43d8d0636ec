"""The delayed rules run for the zone's service account only, and import only its records.

Any zone user can call a rule of core.py: the native rule language reaches the Python rule
engine's rules, and a delay() of their own runs as them (irods/irods_rule_engine_plugin_python
src/main.cpp; the delay server runs a rule as its scheduler: irods/irods
server/delay_server/src/irodsDelayServer.cpp). So each rule checks its caller (client and
proxy user) and what it is asked to import.
"""

from pipeline_support import (ALICE_ROOT, RECORDS, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, ours, queued,
                              record_of)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 10}


def _forged_record(zone, owner, omero_user="root"):
    """What a user makes: a look-alike record with AVUs that ask for an import as `omero_user`."""
    mine = "/tempZone/home/%s/mine" % owner
    fake = mine + ".omero-irods.json"
    zone.step({"mkdir": {"as": owner, "path": mine}})
    zone.step({"put": {"as": owner, "client": "iput", "content": "pixels", "to": mine + "/a.tif"}})
    zone.step({"put": {"as": owner, "client": "iput", "content": "{}", "to": fake}})
    for attribute, value in ((names.AVU_STATE, names.IMPORT_QUEUED), (names.AVU_IMPORT_ROOT, mine),
                             (names.AVU_OPERATION, names.INGEST), (names.AVU_OMERO_USER, omero_user),
                             (names.AVU_OMERO_GROUP, "system")):
        zone.catalog.add_avu(owner, fake, attribute, value)
    # even if the service account may see and write all of it
    zone.catalog.set_acl(owner, "/tempZone/home/%s" % owner, "read", SERVICE)
    zone.catalog.set_acl(owner, fake, "own", SERVICE)
    zone.catalog.set_acl(owner, mine, "own", SERVICE, recursive=True)
    return fake


def test_a_user_cannot_run_the_importer_with_a_forged_record(tmp_path, live_zone):
    zone = live_zone(base_scenario(tmp_path, []))
    fake = _forged_record(zone, "alice")
    # `irule 'omero_irods_import("...", "1")'` in the native language, or alice's own delay()
    zone.schedule(names.RULE_IMPORT, fake, "1", user="alice")
    zone.schedule(names.RULE_PROCESS, fake, "1", user="alice")
    zone.schedule(names.RULE_IMPORT_CHECK, fake, "1", user="alice")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert state["imports"] == []
    refusals = [line for line in ours(state["log"]) if "refused: it runs as alice" in line]
    assert len(refusals) == 3 and "not as the service account %s" % SERVICE in refusals[0]
    assert avus_of(state, fake)[names.AVU_STATE] == names.IMPORT_QUEUED  # nothing written to it


def test_the_service_account_imports_only_records_it_keeps(tmp_path, live_zone):
    # the same forged record, queued as the service account (e.g. through a mark the sweep
    # would see): not the service account's object, not where records are kept
    zone = live_zone(base_scenario(tmp_path, []))
    fake = _forged_record(zone, "alice", omero_user="alice")
    zone.schedule(names.RULE_IMPORT, fake, "1")
    zone.schedule(names.RULE_IMPORT_CHECK, fake, "1")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert state["imports"] == []
    assert len([line for line in ours(state["log"])
                if "%s is not a request record in %s; not processed" % (fake, RECORDS) in line]) == 2
    assert avus_of(state, fake).get(names.AVU_ERROR) is None


def test_an_import_checks_the_record_again_when_it_runs(tmp_path, live_zone):
    # between placement and import the OMERO user on the record stops being mapped (or was
    # changed): the import rule maps it again and refuses, naming the user
    request = Request(tmp_path, "20261122T101500Z-0000t001", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}]))
    record = record_of(zone.state(), request.request_id)
    assert avus_of(zone.state(), record)[names.AVU_STATE] == names.IMPORT_QUEUED
    zone.catalog.set_avu(SERVICE, record, names.AVU_OMERO_USER, "root")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    avus = avus_of(state, record)
    assert state["imports"] == []
    assert avus[names.AVU_STATE] == names.REJECTED and "root" in avus[names.AVU_ERROR], avus
    assert queued(state) == []


def test_an_import_target_changed_on_the_record_is_refused(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000t002", FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}]))
    record = record_of(zone.state(), request.request_id)
    zone.catalog.set_avu(SERVICE, record, names.AVU_OMERO_TARGET, "Project:name:--sudo")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    avus = avus_of(state, record)
    assert state["imports"] == []
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "Project:name:--sudo" in avus[names.AVU_ERROR] and "Dataset:id:N" in avus[names.AVU_ERROR]
    assert ALICE_ROOT in avus[names.AVU_DESTINATION]  # the placed data stays placed
