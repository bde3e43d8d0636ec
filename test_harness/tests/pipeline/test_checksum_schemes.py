"""A pushed tar that already carries an MD5 checksum is verified in SHA-256 and placed.

The pipeline verifies the tar through msiDataObjChksum with forceChksum: a forced checksum
hands no original checksum to file_checksum (irods/irods server/api/src/rsDataObjChksum.cpp,
rsFileChksum.cpp), so it is computed in the zone's default_hash_scheme whatever the replica
held. An MD5 checksum gets onto the tar only through the uploading client: `iput -K` from an
environment whose irods_default_hash_scheme is MD5 sends its own digest, which the server
keeps in MD5 under match_hash_policy "compatible" (lib/core/src/putUtil.cpp). Both seen on
iRODS 5.0.2; test_harness/tests/irods/test_real_fidelity.py runs the same case on a real zone.
"""

import hashlib

from pipeline_support import UNTIL_IDLE, Request, avus_of, base_scenario, data_object, ours, record_of, under
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 1000, "run1/b.tif": b"B" * 500}
RID = "20261122T101500Z-00000d05"


def md5_client_steps(request):
    """The tar with `iput -K` from an MD5 client, the payload as the push client sends it."""
    mkdir, put_tar, put_payload = request.steps("prc")
    put_tar = {"put": dict(put_tar["put"], client="iput", verify_checksum="MD5")}
    return [mkdir, put_tar, put_payload]


def test_a_tar_carrying_an_md5_checksum_is_verified_in_sha256_and_imported(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES)
    state = run_scenario(base_scenario(tmp_path, md5_client_steps(request) + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, RID))
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])[-3:]
    destination = avus[names.AVU_DESTINATION]
    assert sorted(under(state, destination)) == sorted(destination + "/" + path.split("/", 1)[1] for path in FILES)
    assert all(data_object(state, path)["checksum"].startswith("sha2:") for path in under(state, destination))
    assert not under(state, request.collection)  # the landing collection went with the placement


def test_the_md5_checksum_is_what_the_upload_left_on_the_tar(tmp_path, run_scenario):
    """Without a delay-queue run the tar keeps the MD5 the client's -K registered."""
    request = Request(tmp_path, RID, FILES)
    state = run_scenario(base_scenario(tmp_path, md5_client_steps(request)))
    assert data_object(state, request.tar_path)["checksum"] == hashlib.md5(request.tar_bytes).hexdigest()
