"""Replication, trim and phymv.

Sources (irods/irods, 4-3-stable): `server/api/src/rsDataObjRepl.cpp` (modify_object needed,
good destinations skipped), `server/api/src/rsDataObjTrim.cpp` and
`server/api/include/irods/rsDataObjTrim.hpp` (DEF_MIN_COPY_CNT 2, never the last good replica),
`server/api/src/rsDataObjPhymv.cpp` and `server/core/src/replication_utilities.cpp` (is_allowed).
"""

import os

import pytest

from omero_irods_sandbox.error_codes import IrodsError

PATH = "/tempZone/home/alice/img.tif"


@pytest.fixture
def stored(zone):
    zone.put("alice", PATH, b"pixels")
    return zone


def _file(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_replicate_copies_the_file_to_a_new_replica(stored):
    replica = stored.replicate("alice", PATH, "replResc")
    assert (replica.number, replica.resource, replica.status, replica.size) == (1, "replResc", "good", 6)
    assert replica.physical_path == stored.physical_path("replResc", PATH)
    assert _file(replica.physical_path) == b"pixels"


def test_replicate_to_a_resource_with_a_good_replica_does_nothing(stored):
    first = stored.replicate("alice", PATH, "replResc")
    assert stored.replicate("alice", PATH, "replResc") is first
    assert len(stored.data_object(PATH).replicas) == 2


def test_replicate_updates_a_stale_replica(stored):
    stored.replicate("alice", PATH, "replResc")
    stored.put("alice", PATH, b"new pixels", force=True)
    assert stored.data_object(PATH).replica_on("replResc").status == "stale"
    stored.replicate("alice", PATH, "replResc")
    replica = stored.data_object(PATH).replica_on("replResc")
    assert (replica.status, _file(replica.physical_path)) == ("good", b"new pixels")


def test_replicate_needs_modify_object_unless_admin_mode(stored):
    stored.set_acl("alice", PATH, "read", "bob")
    with pytest.raises(IrodsError) as caught:
        stored.replicate("bob", PATH, "replResc")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    with pytest.raises(IrodsError) as caught:
        stored.replicate("bob", PATH, "replResc", admin_mode=True)
    assert caught.value.name == "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"
    assert stored.replicate("rods", PATH, "replResc", admin_mode=True).resource == "replResc"


def test_trim_keeps_two_copies_by_default(stored):
    stored.replicate("alice", PATH, "replResc")
    assert stored.trim("alice", PATH, resource="demoResc") == []
    assert len(stored.data_object(PATH).replicas) == 2


def test_trim_removes_the_replica_and_its_file(stored):
    replica = stored.replicate("alice", PATH, "replResc")
    assert stored.trim("alice", PATH, resource="replResc", minimum_copies=1) == [1]
    assert not os.path.exists(replica.physical_path)
    assert [r.resource for r in stored.data_object(PATH).replicas] == ["demoResc"]


def test_trim_never_removes_the_last_good_replica(stored):
    stored.replicate("alice", PATH, "replResc")
    stored.put("alice", PATH, b"v2", force=True)  # replResc's replica is now stale
    assert stored.trim("alice", PATH, minimum_copies=1) == [1]
    assert stored.trim("alice", PATH, minimum_copies=1) == []
    stored.replicate("alice", PATH, "replResc")
    stored.put("alice", PATH, b"v3", force=True)
    with pytest.raises(IrodsError) as caught:
        stored.trim("alice", PATH, replica_number=0, minimum_copies=1)
    assert caught.value.name == "USER_INCOMPATIBLE_PARAMS"
    assert stored.data_object(PATH).replica_number(0).status == "good"


def test_trim_needs_delete_object(stored):
    stored.replicate("alice", PATH, "replResc")
    stored.set_acl("alice", PATH, "modify_object", "bob")
    with pytest.raises(IrodsError) as caught:
        stored.trim("bob", PATH, resource="replResc", minimum_copies=1)
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"


def test_phymv_moves_the_file_to_another_vault(stored):
    old_file = stored.data_object(PATH).replicas[0].physical_path
    replica = stored.phymv("alice", PATH, "replResc", source_resource="demoResc")
    assert not os.path.exists(old_file)
    assert _file(replica.physical_path) == b"pixels"
    assert [(r.number, r.resource) for r in stored.data_object(PATH).replicas] == [(1, "replResc")]


def test_phymv_needs_a_source_and_a_free_destination(stored):
    with pytest.raises(IrodsError) as caught:
        stored.phymv("alice", PATH, "replResc")
    assert caught.value.name == "USER__NULL_INPUT_ERR"
    stored.replicate("alice", PATH, "replResc")
    with pytest.raises(IrodsError) as caught:
        stored.phymv("alice", PATH, "replResc", source_resource="demoResc")
    assert caught.value.name == "SYS_NOT_ALLOWED"
    assert len(stored.data_object(PATH).replicas) == 2
