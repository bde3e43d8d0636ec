"""Every way a request can be uploaded ends in one placement and one import, and puts that are
not requests start nothing.

Which PEPs each client fires (irods/irods server/api/src/rsDataObjPut.cpp,
rsDataObjClose.cpp; python-irodsclient irods/manager/data_object_manager.py, irods/parallel.py):
iput fires pep_api_data_obj_put_post and acPostProcForPut; a PRC put fires the open/close
PEPs (whose close carries no path) and acPostProcForPut; a PRC parallel put opens N
descriptors, closes N-1 with replica_close, then one data_obj_close and one acPostProcForPut.
"""

import pytest

from pipeline_support import (ALICE_ROOT, LANDING, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario,
                              claims, delayed_runs, ours, queued, records, request_records, stored_bytes, under,
                              unwrapped)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 1000, "run1/sub/b.tif": b"B" * 2000}


@pytest.mark.parametrize("client, threads", [("iput", None), ("prc", None), ("prc-parallel", 3)])
def test_each_client_kind_gets_its_request_placed_and_imported_once(tmp_path, run_scenario, client, threads):
    request = Request(tmp_path, "20261122T101500Z-%08x" % len(client), FILES, target_name="run1")
    state = run_scenario(base_scenario(tmp_path, request.steps(client, threads=threads) + [UNTIL_IDLE]))

    assert records(state) == []
    (record,) = request_records(state)
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    destination = avus[names.avu("destination")]
    placed = sorted(path[len(destination) + 1:] for path in under(state, destination))
    assert placed == sorted(unwrapped(FILES))
    for relative, content in unwrapped(FILES).items():
        assert stored_bytes(state, destination + "/" + relative) == content
    assert len(state["imports"]) == 1
    # the delayed runs that did the work: process, import (started detached), its check
    assert avus_of(state, destination)[names.AVU_OMERO_IMAGES]
    # every client fires two put events for the payload; one claim absorbs the second
    assert claims(state, request.request_id, "attempt-") == [1]
    log = ours(state["log"])
    assert len([line for line in log if "placed %s" % request.request_id in line]) == 1
    assert len([line for line in log if "duplicate" in line and "ignored" in line]) == len(delayed_runs(state)) - 3
    assert not under(state, LANDING)


def test_unrelated_puts_schedule_nothing_and_log_nothing(tmp_path, run_scenario):
    steps = [
        {"put": {"as": "alice", "client": "iput", "content": "notes", "to": "/tempZone/home/alice/notes.txt"}},
        {"put": {"as": "alice", "client": "prc", "content": "x", "to": "/tempZone/home/alice/x.tif"}},
        {"put": {"as": SERVICE, "client": "prc", "content": "{}", "to": LANDING + "/readme.json"}},
        {"put": {"as": SERVICE, "client": "prc-parallel", "size": 5000, "to": LANDING + "/big.bin"}},
        UNTIL_IDLE,
    ]
    state = run_scenario(base_scenario(tmp_path, steps))
    assert queued(state) == []
    assert delayed_runs(state) == []
    assert ours(state["log"]) == []
    assert not under(state, ALICE_ROOT)



def test_reading_a_payload_with_prc_schedules_nothing(tmp_path, live_zone):
    # `omero-irods status` reads payloads: a read opens with O_RDONLY, which is no put event
    request = Request(tmp_path, "20261122T101500Z-0000p001", {"run1/a.tif": b"A" * 10}, omero_user="bob")
    zone = live_zone(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))  # bob is unmapped: it stays
    session = zone._run._session(SERVICE)
    for _ in range(3):
        with session.data_objects.open(request.payload_path, "r") as reader:
            assert reader.read() == request.payload_bytes
    assert queued(zone.state()) == []
