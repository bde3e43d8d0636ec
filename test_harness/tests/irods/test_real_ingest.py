"""The whole ingest on a real iRODS 5.0.2 zone, with the real clients.

Each test pushes as the service account (a plain rodsuser) and follows the request through
`omero-irods status` (the client) or the irule admin rules, then checks the placed data in the
catalog (ACLs, provenance AVUs, sha2 checksums) and the emulated importer's argv.
"""

import hashlib
import os

import pytest

from omero_irods.image_ids import image_ids_in
from realzone import requests
from realzone.install import SERVICE_ACCOUNT

ALICE_ROOT = "/tempZone/home/alice/omero"


def run_folder(tmp_path, name="run1", files=None):
    folder = tmp_path / name
    files = files or {"well-A01.tif": b"A01 pixels\n" * 50, "sub/well-A02.tif": b"A02 pixels\n" * 70}
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder, files


def sha2(data):
    import base64
    return "sha2:" + base64.b64encode(hashlib.sha256(data).digest()).decode()


BATCH = {  # name: (run folder name, files or None, omero user, extra push arguments)
    "ingest": ("run1", None, "alice", ()),
    "status": ("run-status", None, "alice", ()),
    "unmapped": ("run-unmapped", None, "nobody-mapped", ()),
    "collide-a": ("run-collide", None, "alice", ()),
    "collide-b": ("run-collide", {"other.tif": b"other\n"}, "alice", ()),
    "save": ("snapshot1", None, "alice", ("--operation", "save")),
    "guarded": ("run-guarded", None, "alice", ()),
}


@pytest.fixture(scope="module")
def batch(tier, tmp_path_factory):
    """The module's pushes, sent at once (the delay server works on them together):
    {key: (push result, files)}."""
    import concurrent.futures

    base = tmp_path_factory.mktemp("batch")

    def push(key):
        name, files, omero_user, extra = BATCH[key]
        folder, files = run_folder(base / key, name, files)
        return key, (tier.push(folder, omero_user, "lab", *extra), files)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(push, BATCH))


def test_push_is_placed_for_the_mapped_user_and_imported_once(tier, batch):
    pushed, files = batch["ingest"]
    status = tier.wait_final(pushed["request_id"])

    assert status["state"] == "imported", status
    destination = status["destination"]
    assert destination.startswith(ALICE_ROOT + "/ingest/") and destination.endswith("/run1")
    placed = tier.data_objects_under(destination)
    assert {path[len(destination) + 1:]: (int(size), checksum) for path, (size, checksum, _) in placed.items()} \
        == {name: (len(data), sha2(data)) for name, data in files.items()}
    # exactly the policy's grants, on the collection and on every object (inheritance on)
    expected_acl = {"alice": "own", "lab": "read_object", SERVICE_ACCOUNT: "own"}
    for path in [destination] + sorted(placed):
        assert tier.acl(path) == expected_acl, path
    provenance = tier.avus(destination)
    assert provenance.get("omero_irods::request_id") == [pushed["request_id"]]
    assert [str(i) for i in image_ids_in(provenance.get("omero_irods::omero_images", []))] == status["images"]
    # the landing collection is gone; the record sits in the records collection, never next to the data
    assert not tier.exists(pushed["collection"])
    assert not tier.exists(destination + ".omero-irods.json")
    assert tier.exists(status["record"]) and "/omero-irods-records/" in status["record"]
    calls = tier.imports_of(destination)
    assert len(calls) == 1, calls
    assert "--transfer=ln_s" in " ".join(calls[0]["argv"]) or "ln_s" in calls[0]["argv"]
    for _path, (_size, _checksum, physical) in placed.items():
        assert all(p.startswith(tier.vault_path(destination) + "/") for p in physical)
        assert all(os.path.isfile(p) for p in physical)


def test_status_and_list_agree_with_the_admin_rules(tier, batch):
    request_id = batch["status"][0]["request_id"]
    status = tier.wait_final(request_id)
    listed = {entry["request_id"]: entry for entry in tier.list_requests()}
    assert listed[request_id]["state"] == status["state"] == "imported"
    code, out, err = tier.irule("omero_irods_status", request_id=request_id)
    assert code == 0, err
    assert request_id in out and "imported" in out
    code, out, err = tier.irule("omero_irods_list", count="50")
    assert code == 0, err
    assert request_id in out


def test_irule_admin_rules_are_refused_to_a_rodsuser(tier):
    code, out, err = tier.zone.irule("omero_irods_list", {"count": "5"}, user="alice")
    assert code != 0
    assert "imported" not in out


def test_unmapped_omero_user_is_rejected_with_its_reason(tier, batch):
    pushed = batch["unmapped"][0]
    status = tier.wait_final(pushed["request_id"])
    assert status["state"] == "rejected"
    assert "unmapped_user" in (status["error"] or "")
    assert tier.exists(pushed["data_path"]), "a rejected request keeps its landing data"
    assert tier.imports_of(pushed["collection"]) == []


def test_two_pushes_of_one_name_at_once_get_the_name_and_a_suffix(tier, batch):
    """Pushed together: whichever is placed first gets the name, the other `-2`; neither
    overwrites or mixes with the other."""
    placed = {}
    for key in ("collide-a", "collide-b"):
        pushed, files = batch[key]
        status = tier.wait_final(pushed["request_id"])
        assert status["state"] == "imported", status
        placed[status["destination"]] = files
    base = min(placed, key=len)
    assert sorted(placed) == [base, base + "-2"]
    for destination, files in placed.items():
        assert set(tier.data_objects_under(destination)) == {destination + "/" + name for name in files}


def test_save_is_placed_and_not_imported(tier, batch):
    pushed, files = batch["save"]
    status = tier.wait_final(pushed["request_id"], states=("placed", "rejected", "failed", "imported"))
    assert status["state"] == "placed", status
    assert "/save/" in status["destination"]
    assert len(tier.data_objects_under(status["destination"])) == len(files)
    assert tier.imports_of(status["destination"]) == []


def test_iput_upload_of_a_request_is_processed(tier, tmp_path):
    """The kit's iput fires pep_api_data_obj_put_post (not the close PEPs)."""
    request_id = requests.new_request_id()
    members = {"run-iput/a.tif": b"iput member\n" * 10}
    tar_bytes = requests.build_tar(members)
    collection, data_path, payload_path = requests.landing_paths(request_id)
    zone = tier.zone
    zone.icommand(SERVICE_ACCOUNT, "imkdir", collection)
    zone.icommand(SERVICE_ACCOUNT, "iput", requests.write_local(tmp_path, "run.tar", tar_bytes), data_path)
    payload = requests.payload_for(request_id, tar_bytes, members, target_name="run-iput")
    zone.icommand(SERVICE_ACCOUNT, "iput", requests.write_local(tmp_path, "payload.json", payload), payload_path)
    status = tier.wait_final(request_id)
    assert status["state"] == "imported", status
    assert len(tier.imports_of(status["destination"])) == 1


def test_parallel_prc_upload_over_32_mib_is_processed(tier, tmp_path):
    """python-irodsclient switches to a parallel transfer above 32 MiB (its
    MAXIMUM_SINGLE_THREADED_TRANSFER_SIZE); the primary stream's close and acPostProcForPut fire."""
    request_id = requests.new_request_id()
    big = os.urandom(1 << 20) * 34  # 34 MiB, cheap to make
    members = {"run-big/big.raw": big}
    tar_bytes = requests.build_tar(members)
    collection, data_path, payload_path = requests.landing_paths(request_id)
    local_tar = requests.write_local(tmp_path, "run.tar", tar_bytes)
    local_payload = requests.write_local(tmp_path, "payload.json",
                                         requests.payload_for(request_id, tar_bytes, members, target_name="run-big"))
    with tier.zone.session(SERVICE_ACCOUNT) as session:
        session.collections.create(collection)
        mark = tier.zone.log_size()
        session.data_objects.put(local_tar, data_path, num_threads=4)
        session.data_objects.put(local_payload, payload_path)
    traced = [line.split()[-1] for line in tier.zone.server_log_lines(mark) if "pep_trace" in line]
    assert "pep_api_replica_close_post" in traced, "no parallel transfer? PEPs: %s" % sorted(set(traced))
    status = tier.wait_final(request_id)
    assert status["state"] == "imported", status
    placed = tier.data_objects_under(status["destination"])
    assert [int(size) for size, _c, _p in placed.values()] == [len(big)]


def test_guard_refuses_to_remove_imported_data_even_for_rods(tier, batch):
    status = tier.wait_final(batch["guarded"][0]["request_id"])
    assert status["state"] == "imported"
    destination = status["destination"]
    target = destination + "/well-A01.tif"
    refused = tier.zone.icommand("alice", "irm", "-f", target, check=False)
    assert refused.returncode != 0
    refused_admin = tier.zone.icommand("rods", "irm", "-rfM", destination, check=False)
    assert refused_admin.returncode != 0
    moved = tier.zone.icommand("alice", "imv", target, destination + "/renamed.tif", check=False)
    assert moved.returncode != 0
    assert tier.exists(target)
    assert os.path.isfile(tier.vault_path(target))


def test_import_failure_then_admin_reprocess_imports_once(tier, batch, tmp_path):
    for pushed, _files in batch.values():  # no import of the batch may run while the importer fails
        tier.wait_final(pushed["request_id"], states=("imported", "rejected", "failed", "placed"))
    tier.set_import_mode("fail")
    try:
        folder, _ = run_folder(tmp_path, "run-reprocess")
        request_id = tier.push(folder)["request_id"]
        status = tier.wait_final(request_id)
        assert status["state"] == "failed", status
        assert status["error"]
    finally:
        tier.set_import_mode("succeed")
    code, out, err = tier.irule("omero_irods_reprocess", request_id=request_id)
    assert code == 0, (out, err)
    status = tier.wait_final(request_id, states=("imported",), timeout=180)
    succeeded = [c for c in tier.imports_of(status["destination"]) if c.get("exit") == 0]
    assert len(succeeded) == 1


def test_load_of_a_saved_snapshot_imports_its_files_for_the_user(tier, batch):
    """Save, then Load (python-irodsclient, the client's request_load): the snapshot's files
    are imported in place for the mapped user; nothing is copied or moved."""
    from omero_irods.client.push import request_load

    saved = tier.wait_final(batch["save"][0]["request_id"], states=("placed", "rejected", "failed"))
    assert saved["state"] == "placed", saved
    with tier.zone.session(SERVICE_ACCOUNT) as session:
        result = request_load(session, tier.config()["zones"]["tempZone"]["landing_zone"],
                              saved["destination"], "alice", "lab")
    status = tier.wait_final(result.request_id)
    assert status["state"] == "imported", status
    calls = tier.imports_of(saved["destination"])
    assert len(calls) == 1 and calls[0]["exit"] == 0, calls
    assert calls[0]["argv"][calls[0]["argv"].index("-u") + 1] == "alice"
    assert set(tier.data_objects_under(saved["destination"])) == {
        saved["destination"] + "/" + name for name in batch["save"][1]}


def test_tar_that_does_not_match_its_payload_is_rejected_with_the_reason(tier, tmp_path):
    request_id = requests.new_request_id()
    members = {"run-mismatch/a.tif": b"what was sent\n"}
    tar_bytes = requests.build_tar(members)
    collection, data_path, payload_path = requests.landing_paths(request_id)
    claimed = {"run-mismatch/a.tif": b"what the payload says\n"}
    with tier.zone.session(SERVICE_ACCOUNT) as session:
        session.collections.create(collection)
        session.data_objects.put(requests.write_local(tmp_path, "run.tar", tar_bytes), data_path)
        session.data_objects.put(requests.write_local(tmp_path, "payload.json",
                                                      requests.payload_for(request_id, tar_bytes, claimed)),
                                 payload_path)
    status = tier.wait_final(request_id)
    assert status["state"] == "rejected", status
    assert "mismatch" in status["error"] or "manifest" in status["error"], status["error"]
    assert tier.exists(data_path)
