"""The guard refuses every client API that rewrites the bytes of linked data in place, and
nothing else: reads, new objects next to linked ones, and unrelated data go as usual.

OMERO's in-place import leaves a symlink to the vault file; rewriting or truncating that file
changes the images behind OMERO's back. The APIs, each fired by the sandbox as the server does
(irods/irods lib/core/include/irods/apiHandler.hpp: the API the client called fires its own
pre-PEP; nested rs* calls fire none): `iput -f` (server/api/src/rsDataObjPut.cpp, the force
flag), an open that may write (rsDataObjOpen.cpp; python-irodsclient's 'w', 'a', 'r+' flags in
irods/manager/data_object_manager.py), PRC create (rsDataObjCreate.cpp: O_CREAT|O_RDWR|
O_TRUNC), truncate (rsDataObjTruncate.cpp) and replica_truncate (rs_replica_truncate.cpp),
`icp -f` (rsDataObjCopy.cpp, the force flag on the destination).
"""

import os

import pytest

from guard_zone import SCRATCH, GuardZone
from omero_irods_sandbox.clients import O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from omero_irods_sandbox.prep import genquery_engine

SERVERS = {"4.3": {"version": "4.3"}, "5.0": {"version": "5.0"}}
_ONLY = [v for v in os.environ.get("OMERO_IRODS_VARIANTS", "").split(",") if v]  # see tests/pipeline/conftest.py
SERVERS = {name: server for name, server in SERVERS.items() if not _ONLY or name in _ONLY} or {"5.0": {"version": "5.0"}}

#: python-irodsclient's open modes (irods/manager/data_object_manager.py)
PRC_WRITE_MODES = {"w": O_WRONLY | O_CREAT | O_TRUNC, "a": O_WRONLY | O_CREAT, "r+": O_RDWR}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def guarded(tmp_path_factory, request):
    """One zone shared by tests whose calls are refused (each proves nothing changed) or
    leave the linked data as it was."""
    return GuardZone(tmp_path_factory.mktemp("overwrites"), server=SERVERS[request.param])


@pytest.fixture
def queries(monkeypatch):
    seen = []
    execute = genquery_engine.execute

    def counting(zone, user, query, options=0):
        seen.append(" and ".join("%s %s" % condition for condition in query.conditions))
        return execute(zone, user, query, options)
    monkeypatch.setattr(genquery_engine, "execute", counting)
    return seen


def _refused(zone, api, *args, **kwargs):
    before = zone.snapshot()
    refusals = len(zone.refusals())
    error = zone.call(api, *args, **kwargs)
    assert zone.snapshot() == before
    new_lines = zone.refusals()[refusals:]
    assert len(new_lines) == 1, zone.log[-3:]
    return error, new_lines[0]


def _linked_file(zone):
    return zone.imported + "/plate/b.tif"


@pytest.mark.parametrize("user", ["alice", "rods"])
def test_iput_f_onto_a_linked_file_is_refused(guarded, user):
    error, line = _refused(guarded, "data_obj_put", user, _linked_file(guarded), b"forged", force=True)
    assert error == "SYS_NOT_ALLOWED"
    assert "refused overwrite of %s by %s" % (_linked_file(guarded), user) in line
    assert "rewrite its vault file in place" in line and "linked by OMERO user alice" in line


@pytest.mark.parametrize("mode", sorted(PRC_WRITE_MODES))
def test_a_prc_open_for_writing_a_linked_file_is_refused(guarded, mode):
    error, line = _refused(guarded, "data_obj_open", "alice", _linked_file(guarded), PRC_WRITE_MODES[mode])
    assert error == "SYS_NOT_ALLOWED" and "refused overwrite of %s" % _linked_file(guarded) in line


def test_prc_create_truncate_and_replica_truncate_of_a_linked_file_are_refused(guarded):
    path = _linked_file(guarded)
    error, _line = _refused(guarded, "data_obj_create", "alice", path, force=True)
    assert error == "SYS_NOT_ALLOWED"
    error, line = _refused(guarded, "data_obj_truncate", "alice", path, 1)
    assert error == "SYS_NOT_ALLOWED" and "refused truncation of %s" % path in line
    assert "cut its vault file short" in line
    error, _line = _refused(guarded, "replica_truncate", "alice", path, 0)
    assert error == "SYS_NOT_ALLOWED"


def test_icp_f_onto_a_linked_file_is_refused(guarded):
    error, line = _refused(guarded, "data_obj_copy", "alice", SCRATCH + "/notes.txt", _linked_file(guarded),
                           force=True)
    assert error == "SYS_NOT_ALLOWED" and "refused overwrite of %s" % _linked_file(guarded) in line


def test_reads_of_linked_data_go_as_usual_and_query_nothing(guarded, queries):
    server = guarded._run.server
    guarded._run.runtime.new_agent()
    del queries[:]
    fd = server.data_obj_open("alice", _linked_file(guarded), O_RDONLY)
    assert guarded.zone.read(fd) == b"B" * 2000
    server.data_obj_close("alice", fd)
    assert queries == []  # a read is a flag test, never a catalog query


def test_new_objects_next_to_linked_ones_and_copies_from_them_are_allowed(guarded):
    new = guarded.imported + "/plate/new.tif"
    assert guarded.call("data_obj_put", "alice", new, b"new", force=True) is None
    assert guarded.call("data_obj_copy", "alice", _linked_file(guarded), SCRATCH + "/b-copy.tif") is None
    assert guarded.zone.read_bytes("alice", SCRATCH + "/b-copy.tif") == b"B" * 2000
    server = guarded._run.server
    guarded._run.runtime.new_agent()
    fd = server.data_obj_open("alice", guarded.imported + "/plate/other.tif", PRC_WRITE_MODES["w"])
    server.data_obj_write("alice", fd, b"other")
    server.data_obj_close("alice", fd)
    assert guarded.zone.read_bytes("alice", guarded.imported + "/plate/other.tif") == b"other"
    assert guarded.zone.read_bytes("alice", _linked_file(guarded)) == b"B" * 2000


def test_unrelated_data_is_overwritten_and_truncated_as_usual(guarded, queries):
    notes = SCRATCH + "/rewritten.txt"
    guarded.zone.put("alice", notes, b"0123456789")
    del queries[:]
    assert guarded.call("data_obj_put", "alice", notes, b"abcdefghij", force=True) is None
    assert len([q for q in queries if "linked_root" in q]) == 1  # one holder query, nothing more
    assert guarded.call("data_obj_truncate", "alice", notes, 4) is None
    assert guarded.zone.read_bytes("alice", notes) == b"abcd"
    assert guarded.call("replica_truncate", "alice", notes, 2) is None
    assert guarded.zone.read_bytes("alice", notes) == b"ab"
    assert guarded.call("data_obj_copy", "alice", _linked_file(guarded), notes, force=True) is None
    assert guarded.zone.read_bytes("alice", notes) == b"B" * 2000


def test_a_put_without_force_costs_no_query(guarded, queries):
    del queries[:]
    assert guarded.call("data_obj_put", "alice", SCRATCH + "/fresh.txt", b"fresh") is None
    assert [q for q in queries if "linked_root" in q] == []


def test_the_pep_of_each_api_fires_as_the_server_fires_it(guarded):
    """Each client API fires its own pep_api_<name>_pre with its input (apiTable.hpp names)."""
    path = _linked_file(guarded)
    seen = len(guarded._run.server.pep_points)
    guarded.call("data_obj_truncate", "alice", path, 1)
    guarded.call("replica_truncate", "alice", path, 1)
    guarded.call("data_obj_create", "alice", path, force=True)
    guarded.call("data_obj_copy", "alice", SCRATCH + "/notes.txt", path, force=True)
    fired = [(point["name"], point["rule"]) for point in guarded._run.server.pep_points[seen:]
             if point["name"].endswith("_pre")]
    assert fired == [("pep_api_data_obj_truncate_pre", True), ("pep_api_replica_truncate_pre", True),
                     ("pep_api_data_obj_create_pre", True), ("pep_api_data_obj_copy_pre", True)]
