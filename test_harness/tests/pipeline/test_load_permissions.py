"""A load links into OMERO only files below its source that the mapped user may read, and
never the policy's own records.

GenQuery `like` treats `_` and `%` as wildcards (irods/irods plugins/database/src/
general_query.cpp passes the pattern to SQL LIKE), so `COLL_NAME like '/z/home/j_doe/%'` also
matches /z/home/jxdoe/...; and read on a collection gives no access to the objects in it
(`ichmod read bob coll` without -r changes the collection's ACL only).
"""

import json

from pipeline_support import LANDING, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, paths, record_of
from omero_irods import names
from omero_irods.payload import make_payload


def load_steps(folder, request_id, omero_user, source, omero_group="lab"):
    local = folder / ("%s.omero-irods.json" % request_id)
    local.write_text(json.dumps(make_payload("load", request_id, omero_user, omero_group,
                                             source_path=source).to_document()))
    return [{"mkdir": {"as": SERVICE, "path": "%s/%s" % (LANDING, request_id)}},
            {"put": {"as": SERVICE, "client": "prc", "file": str(local),
                     "to": "%s/%s/%s.omero-irods.json" % (LANDING, request_id, request_id)}}]


def importer_user(imported):
    return imported["argv"][imported["argv"].index("-u") + 1]


def test_a_load_imports_only_files_below_its_source_and_no_records(tmp_path, run_scenario):
    users = [{"name": SERVICE}, {"name": "j_doe", "groups": ["lab"]}, {"name": "jxdoe"}]
    save1 = Request(tmp_path, "20261122T090000Z-0000s001", {"mine/a.tif": b"A" * 10}, omero_user="j_doe",
                    operation="save")
    save2 = Request(tmp_path, "20261122T090000Z-0000s002", {"secret/b.tif": b"B" * 10}, omero_user="jxdoe",
                    operation="save")
    load = load_steps(tmp_path, "20261122T100000Z-0000l001", "j_doe", "/tempZone/home/j_doe/omero")
    data = base_scenario(tmp_path, save1.steps() + save2.steps() + [UNTIL_IDLE] + load + [UNTIL_IDLE],
                         users=users, mapped_users={"j_doe": "j_doe", "jxdoe": "jxdoe"})
    data["provision"] = ["j_doe", "jxdoe"]
    state = run_scenario(data)
    (imported,) = state["imports"]
    assert [path.rsplit("/", 1)[-1] for path in imported["files"]] == ["a.tif"], imported["argv"]
    assert not [arg for arg in imported["argv"] if "jxdoe" in arg or arg.endswith(names.PAYLOAD_SUFFIX)]
    assert avus_of(state, record_of(state, "20261122T100000Z-0000l001"))[names.AVU_STATE] == names.IMPORTED


def test_a_load_needs_read_access_to_every_file(tmp_path, live_zone):
    users = [{"name": SERVICE}, {"name": "alice", "groups": ["lab"]}, {"name": "bob"}]
    save = Request(tmp_path, "20261122T090000Z-0000s003", {"p/private.tif": b"P" * 10}, operation="save",
                   target_name="shared")
    data = base_scenario(tmp_path, save.steps() + [UNTIL_IDLE], users=users,
                         mapped_users={"alice": "alice", "bob": "bob"}, mapped_groups={"lab": "lab", "guests": None})
    data["provision"] = ["alice", "bob"]
    zone = live_zone(data)
    (source,) = [p for p in paths(zone.state(), "collections") if p.endswith("/shared")]
    zone.catalog.set_acl("alice", source, "read", "bob")  # ichmod read bob <collection> (not -r)
    rid = "20261122T100000Z-0000l002"
    for step in load_steps(tmp_path, rid, "bob", source, omero_group="guests") + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    assert state["imports"] == []
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "bob may not read 1 of the 1 files" in avus[names.AVU_ERROR] and "private.tif" in avus[names.AVU_ERROR]

    # once alice shares the files too (ichmod -r), bob's next load links them
    zone.catalog.set_acl("alice", source, "read", "bob", recursive=True)
    for step in load_steps(tmp_path, "20261122T100000Z-0000l003", "bob", source, omero_group="guests") + [UNTIL_IDLE]:
        zone.step(step)
    (imported,) = zone.state()["imports"]
    assert importer_user(imported) == "bob"
