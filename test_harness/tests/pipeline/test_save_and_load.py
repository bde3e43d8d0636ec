"""save archives a snapshot for the user (placed, not imported); load links a snapshot
already in iRODS into OMERO, only for a mapped user who may read it in iRODS."""

import json

from pipeline_support import (ALICE_ROOT, LANDING, UNTIL_IDLE, Request, avus_of, base_scenario, record_of, under,
                              unwrapped)
from omero_irods import names
from omero_irods.payload import make_payload

SNAPSHOT = {"Dataset-3/a.tif": b"A" * 300, "Dataset-3/b.tif": b"B" * 200}
MAPPED = {"alice": "alice", "bob": "bob"}
USERS = [{"name": "omero-svc"}, {"name": "alice", "groups": ["lab"]}, {"name": "bob"}]


def _load_steps(folder, request_id, source, omero_user="alice", omero_group="lab"):
    document = make_payload("load", request_id, omero_user, omero_group, source_path=source).to_document()
    local = folder / ("%s.omero-irods.json" % request_id)
    local.write_text(json.dumps(document))
    collection = "%s/%s" % (LANDING, request_id)
    return [{"mkdir": {"as": "omero-svc", "path": collection}},
            {"put": {"as": "omero-svc", "client": "prc", "file": str(local),
                     "to": "%s/%s.omero-irods.json" % (collection, request_id)}}]


def _saved(tmp_path, extra_steps, **scenario):
    save = Request(tmp_path, "20261122T090000Z-0000s001", SNAPSHOT, operation="save", target_name="Dataset-3")
    data = base_scenario(tmp_path, save.steps("prc") + [UNTIL_IDLE] + extra_steps, mapped_users=MAPPED,
                         users=USERS, **scenario)
    data["provision"] = ["alice", "bob"]
    return data


def test_save_is_placed_for_the_user_and_not_imported(tmp_path, run_scenario):
    state = run_scenario(_saved(tmp_path, []))
    record = record_of(state, "20261122T090000Z-0000s001")
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.PLACED and avus[names.AVU_OPERATION] == "save"
    destination = avus[names.AVU_DESTINATION]
    assert destination.startswith(ALICE_ROOT + "/save/")
    assert sorted(p[len(destination) + 1:] for p in under(state, destination)) == sorted(unwrapped(SNAPSHOT))
    assert state["imports"] == []


def test_load_of_a_readable_snapshot_imports_it_in_place_for_the_user(tmp_path, run_scenario):
    source = ALICE_ROOT + "/save/2026-01-01/Dataset-3"
    state = run_scenario(_saved(tmp_path, _load_steps(tmp_path, "20261122T100000Z-0000l001", source) + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, "20261122T100000Z-0000l001"))
    assert avus[names.AVU_STATE] == names.IMPORTED, state["log"]
    (imported,) = state["imports"]
    assert imported["argv"][imported["argv"].index("-u") + 1] == "alice"
    assert sorted(arg.rsplit("/", 1)[-1] for arg in imported["argv"] if arg.endswith(".tif")) == ["a.tif", "b.tif"]


def test_load_by_a_user_who_may_not_read_the_snapshot_is_rejected(tmp_path, run_scenario):
    source = ALICE_ROOT + "/save/2026-01-01/Dataset-3"
    steps = _load_steps(tmp_path, "20261122T100000Z-0000l002", source, omero_user="bob", omero_group="guests")
    state = run_scenario(_saved(tmp_path, steps + [UNTIL_IDLE], mapped_groups={"lab": "lab", "guests": None}))
    avus = avus_of(state, record_of(state, "20261122T100000Z-0000l002"))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "not_permitted" in avus[names.AVU_ERROR] and "bob may not read" in avus[names.AVU_ERROR]
    assert state["imports"] == []


def test_load_of_a_missing_or_outside_snapshot_is_rejected(tmp_path, run_scenario):
    steps = (_load_steps(tmp_path, "20261122T100000Z-0000l003", ALICE_ROOT + "/save/nothing-here")
             + _load_steps(tmp_path, "20261122T100000Z-0000l004", "/tempZone/trash/home/alice")
             + [UNTIL_IDLE])
    state = run_scenario(_saved(tmp_path, steps))
    missing = avus_of(state, record_of(state, "20261122T100000Z-0000l003"))
    outside = avus_of(state, record_of(state, "20261122T100000Z-0000l004"))
    assert missing[names.AVU_STATE] == outside[names.AVU_STATE] == names.REJECTED
    assert "not_found" in missing[names.AVU_ERROR] and "outside_roots" in outside[names.AVU_ERROR]
    assert state["imports"] == []
