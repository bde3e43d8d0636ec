"""A "collection" push (data.kind collection: files uploaded as they are, no tar) is the only
copy of the data: whatever happens to the request, it is never removed before it is placed.
ARCHITECTURE.md: "A Rejected error ends the request as rejected ... the landing data stays"."""

import hashlib

from pipeline_support import (DRAIN_FAILURES, LANDING, SERVICE, UNTIL_IDLE, avus_of, base_scenario, ours, record_of,
                              stored_bytes, under)
from omero_irods import names
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload


def collection_request(folder, request_id, files, bad_sha=False, data_name="run1"):
    """The landing collection and the steps that push `files` as a collection named data_name."""
    collection = "%s/%s" % (LANDING, request_id)
    manifest = [ManifestEntry(p, len(b), hashlib.sha256(b"other" if bad_sha else b).hexdigest())
                for p, b in files.items()]
    payload = make_payload("ingest", request_id, "alice", "lab",
                           data=DataRef("collection", data_name, sum(map(len, files.values())), None, len(files)),
                           manifest=manifest)
    local = folder / ("%s.omero-irods.json" % request_id)
    local.write_bytes(payload.to_json_bytes())
    folders = sorted({"/".join(("%s/%s/%s" % (collection, data_name, p)).split("/")[:-1]) for p in files})
    steps = [{"mkdir": {"as": SERVICE, "path": folder}} for folder in folders]
    steps += [{"put": {"as": SERVICE, "client": "prc", "content": b.decode(),
                       "to": "%s/%s/%s" % (collection, data_name, p)}} for p, b in files.items()]
    steps.append({"put": {"as": SERVICE, "client": "prc", "file": str(local),
                          "to": "%s/%s.omero-irods.json" % (collection, request_id)}})
    return collection, steps


def test_a_rejected_collection_push_keeps_its_landing_data(tmp_path, run_scenario):
    rid = "20261122T101500Z-0000r001"
    collection, steps = collection_request(tmp_path, rid, {"a.tif": b"AAAA"}, bad_sha=True)
    state = run_scenario(base_scenario(tmp_path, steps + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.REJECTED, ours(state["log"])
    assert "sha256" in avus[names.AVU_ERROR]
    assert under(state, collection) == sorted([collection + "/run1/a.tif", collection + "/%s.omero-irods.json" % rid])
    assert stored_bytes(state, collection + "/run1/a.tif") == b"AAAA"


def test_a_transient_failure_does_not_destroy_a_collection_push(tmp_path, run_scenario):
    rid = "20261122T101500Z-0000r002"
    collection, steps = collection_request(tmp_path, rid, {"a.tif": b"AAAA"})
    data = base_scenario(tmp_path, steps + [DRAIN_FAILURES])
    data["provision"] = []  # the admin has not provisioned alice yet: placement fails (transiently)
    state = run_scenario(data)
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.FAILED and "/tempZone/home/alice/omero" in avus[names.AVU_ERROR]
    assert stored_bytes(state, collection + "/run1/a.tif") == b"AAAA"


def test_a_collection_push_is_placed_from_where_it_was_pushed(tmp_path, run_scenario):
    rid = "20261122T101500Z-0000r003"
    collection, steps = collection_request(tmp_path, rid, {"a.tif": b"AAAA", "sub/b.tif": b"BB"})
    state = run_scenario(base_scenario(tmp_path, steps + [UNTIL_IDLE]))
    record = record_of(state, rid)
    destination = avus_of(state, record)[names.AVU_DESTINATION]
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    assert stored_bytes(state, destination + "/sub/b.tif") == b"BB"
    assert under(state, LANDING) == []


def test_data_named_like_the_staging_collection_is_refused_and_kept(tmp_path, run_scenario):
    # the pipeline stages a tar in <landing>/<rid>/.staging and removes it on failure: data of
    # that name would be removed with it. Names starting with '.' are refused first.
    rid = "20261122T101500Z-0000r004"
    collection, steps = collection_request(tmp_path, rid, {"a.tif": b"AAAA"}, data_name=".staging")
    state = run_scenario(base_scenario(tmp_path, steps + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.REJECTED and "starts with '.'" in avus[names.AVU_ERROR]
    assert stored_bytes(state, collection + "/.staging/a.tif") == b"AAAA"
