"""A put event becomes a placed, imported ingest: the real rules in the sandbox."""

from pipeline_support import Request, avus_of, base_scenario, paths, unwrapped

FILES = {"run1/a.tif": b"A" * 1000, "run1/sub/b.tif": b"B" * 2000}


def test_ingest_by_prc_is_placed_with_acls_avus_and_imported(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000aaaa", FILES, target_name="run1")
    state = run_scenario(base_scenario(tmp_path, request.steps("prc") + [{"run_delay_queue": {"until_idle": True}}]))

    (record,) = [p for p in paths(state) if p.startswith("/tempZone/home/alice/") and p.endswith(".omero-irods.json")]
    avus = avus_of(state, record)
    destination = avus["omero_irods::destination"]
    assert destination == record[: -len(".omero-irods.json")]
    placed = [p[len(destination) + 1:] for p in paths(state) if p.startswith(destination + "/")]
    assert sorted(placed) == sorted(unwrapped(FILES))
    assert avus["omero_irods::state"] == "imported", state["log"]
    assert avus["omero_irods::request_id"] == request.request_id
    assert avus["omero_irods::omero_image"]
    # the mapped user owns the data; the landing copy is gone
    data = {entry["path"]: entry for entry in state["data_objects"]}
    assert data[destination + "/a.tif"]["acl"]["alice"] == "own"
    assert not [p for p in paths(state) if p.startswith(request.collection)]
    # the importer was given the vault files, in place
    (imported,) = state["imports"]
    assert "--transfer=ln_s" in imported["argv"]
    assert any(arg.endswith("/run1/a.tif") and "/run1/run1/" not in arg for arg in imported["argv"])
