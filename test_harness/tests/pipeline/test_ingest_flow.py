"""A put event becomes a placed, imported ingest: the real rules in the sandbox."""

from pipeline_support import Request, avus_of, base_scenario, image_ids_of, links_of, paths, record_of, records, unwrapped

FILES = {"run1/a.tif": b"A" * 1000, "run1/sub/b.tif": b"B" * 2000}


def test_ingest_by_prc_is_placed_with_acls_avus_and_imported(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000aaaa", FILES, target_name="run1")
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [{"run_delay_queue": {"until_idle": True}}]))

    record = record_of(state, request.request_id)
    avus = avus_of(state, record)
    destination = avus["omero_irods::destination"]
    assert destination.startswith("/tempZone/home/alice/omero/ingest/")
    # the payload moved into the record, never next to the user's data
    assert record + "/" + request.request_id + ".omero-irods.json" in paths(state)
    assert records(state) == []
    assert links_of(state, request.request_id) == [(destination, "alice")]
    placed = [p[len(destination) + 1:] for p in paths(state) if p.startswith(destination + "/")]
    assert sorted(placed) == sorted(unwrapped(FILES))
    assert avus["omero_irods::state"] == "imported", state["log"]
    assert avus["omero_irods::request_id"] == request.request_id
    assert image_ids_of(state, record) == sorted(int(i) for i in state["imports"][0]["images"])
    # the mapped user owns the data; the landing copy is gone
    data = {entry["path"]: entry for entry in state["data_objects"]}
    assert data[destination + "/a.tif"]["acl"]["alice"] == "own"
    assert not [p for p in paths(state) if p.startswith(request.collection)]
    # the importer was given the destination's vault directory, deep enough to find every file
    # (omero-py src/omero/plugins/import.py --depth), so any number of files fits one argv
    (imported,) = state["imports"]
    vault_file = data[destination + "/sub/b.tif"]["replicas"][0]["physical_path"]
    assert "--transfer=ln_s" in imported["argv"] and "--depth=4" in imported["argv"]
    assert imported["argv"][-1] == vault_file[: -len("/sub/b.tif")]
    assert sorted(imported["files"]) == sorted(data[destination + "/" + p]["replicas"][0]["physical_path"]
                                               for p in unwrapped(FILES))
    assert len(imported["images"]) == len(FILES)


def test_the_push_target_reaches_omero_import(tmp_path, run_scenario):
    run = tmp_path / "run7"
    (run / "sub").mkdir(parents=True)
    (run / "a.tif").write_bytes(b"A" * 10)
    (run / "sub" / "b.tif").write_bytes(b"B" * 10)
    push = {"push": {"as": "omero-svc", "dir": str(run), "operation": "ingest", "omero_user": "alice",
                     "omero_group": "lab", "target": "Dataset:name:run7"}}
    state = run_scenario(base_scenario(tmp_path, [push, {"run_delay_queue": {"until_idle": True}}]))
    (imported,) = state["imports"]
    argv = imported["argv"]
    assert argv[argv.index("-T") + 1] == "Dataset:name:run7"
    # a pushed folder is placed as <destination>/a.tif, not <destination>/run7/a.tif
    assert sorted(path.rsplit("/run7/", 1)[-1] for path in imported["files"]) == ["a.tif", "sub/b.tif"]


def test_the_archive_sha256_is_recorded_as_provenance_not_checked(tmp_path, run_scenario):
    """Every member is checked against the manifest by name, size (the member walk) and sha256
    (once placed), so the server does not read the whole tar once more for its own sha256: a
    declared archive sha256 that differs does not stop a request whose every file matches. It
    is kept on the placed data for people, as the payload said it."""
    declared = "ab" * 32

    def other_archive_sha(document):
        document["data"]["sha256"] = declared

    request = Request(tmp_path, "20261122T101500Z-0000aaab", FILES, target_name="run1", payload_edit=other_archive_sha)
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [{"run_delay_queue": {"until_idle": True}}]))
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus["omero_irods::state"] == "imported", state["log"]
    assert avus_of(state, avus["omero_irods::destination"])["omero_irods::sha256"] == declared
