"""What the zone's server_config.json decides and the pipeline must cope with.

A zone whose default_hash_scheme is MD5 answers every checksum in MD5 (irods/irods
server/api/src/rsFileChksum.cpp); the payload names SHA-256 digests, so the request is refused
once with a reason that names the setting to change -- never retried, never reported as a
checksum mismatch of the user's data.
"""

from pipeline_support import DRAIN_FAILURES, Request, avus_of, base_scenario, ours, record_of
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 100}


def test_an_md5_zone_rejects_with_the_setting_to_change(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000c001", FILES)
    data = base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES])
    data["server"] = {"default_hash_scheme": "MD5"}
    state = run_scenario(data)
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED, ours(state["log"])[-3:]
    assert "an MD5 checksum" in avus[names.AVU_ERROR]
    assert "set default_hash_scheme to SHA256" in avus[names.AVU_ERROR]
    assert state["imports"] == []
    assert not [line for line in ours(state["log"]) if "retry in" in line]
