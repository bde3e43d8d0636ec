"""A push of a tar over 2 GiB is placed and imported: the header walk seeks past 2**31 through
the plugin, which takes a 64-bit offset only as a string (an int argument goes through
Boost.Python extract<int> and raises OverflowError from 2**31 on: irods/irods_rule_engine_plugin
_python include/irods/private/re/python.hpp; msiDataObjLseek reads a string with strtoll:
irods/irods server/re/src/reDataObjOpr.cpp). The sandbox raises as the plugin does, so an int
offset fails here as it does on a real zone (the real tier reads past 2**31 through the real
plugin: test_harness/tests/irods/test_real_fidelity.py).

The member is a sparse file of zeros and stays sparse through the push, the vault and the
extraction (the sandbox writes zero runs as holes), so the test needs a few MiB of disk, not
4 GiB; its time goes to the SHA-256 passes every layer makes (the client's of the member and
of the tar, the server's of the tar and of the placed member). It runs on one server version:
offsets are the same on both.
"""

import os
import shutil

from pipeline_support import DRAIN_FAILURES, avus_of, base_scenario, ours, request_records, stored_bytes
from omero_irods import names

SERVER_VERSIONS = ("5.0",)
BIG = (1 << 31) + (1 << 20)  # over 2 GiB, so the member after it starts past 2**31


def test_a_push_of_a_tar_over_2_gib_is_placed_and_imported(tmp_path, run_scenario):
    run = tmp_path / "run9"
    run.mkdir()
    with open(run / "a_big.bin", "wb") as big:  # sparse on disk: it reads as zeros
        big.truncate(BIG)
    (run / "z_after.txt").write_bytes(b"after the big member")
    push = {"push": {"as": "omero-svc", "dir": str(run), "operation": "ingest", "omero_user": "alice",
                     "omero_group": "lab"}}
    try:
        state = run_scenario(base_scenario(tmp_path, [push, DRAIN_FAILURES]))
        (record,) = request_records(state)
        avus = avus_of(state, record)
        assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])[-3:]
        destination = avus[names.AVU_DESTINATION]
        sizes = {entry["path"]: entry["size"] for entry in state["data_objects"]}
        assert sizes[destination + "/a_big.bin"] == BIG
        assert stored_bytes(state, destination + "/z_after.txt") == b"after the big member"
        assert len(state["imports"]) == 1
        assert _disk_use(tmp_path) < 64 << 20, "the sparse member was written out in full somewhere"
    finally:
        shutil.rmtree(str(tmp_path), ignore_errors=True)


def _disk_use(folder):
    return sum(os.lstat(os.path.join(top, name)).st_blocks * 512
               for top, _dirs, files in os.walk(str(folder)) for name in files)
