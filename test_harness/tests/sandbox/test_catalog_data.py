"""Data objects: create/open/read/write/seek/close, descriptors, locking, checksums, vault files.

Sources (irods/irods, 4-3-stable): `plugins/database/src/db_plugin.cpp` db_reg_data_obj_op
(modify_object on the collection), `server/api/src/rsDataObjCreate.cpp` (overwrite needs force),
`server/core/src/objDesc.cpp` (descriptors from 3), `server/core/src/logical_locking.cpp`
(intermediate replicas, replica tokens), `server/core/src/physPath.cpp` and
`packaging/core.re.template` (graft vault paths), `lib/hasher/src/SHA256Strategy.cpp` and
`lib/hasher/include/irods/checksum.h` ('sha2:' + base64).
"""

import base64
import hashlib
import os

import pytest

from omero_irods_sandbox.error_codes import IrodsError

HOME = "/tempZone/home/alice"


def test_put_writes_real_bytes_at_the_graft_vault_path(zone):
    record = zone.put("alice", HOME + "/x.tif", b"pixels")
    replica = record.replicas[0]
    assert replica.physical_path == os.path.join(zone.vault("demoResc"), "home", "alice", "x.tif")
    with open(replica.physical_path, "rb") as handle:
        assert handle.read() == b"pixels"
    assert (record.size, replica.status, record.owner, record.acl) == (6, "good", "alice", {"alice": "own"})


def test_create_needs_modify_object_on_the_collection(zone):
    with pytest.raises(IrodsError) as caught:
        zone.put("bob", HOME + "/intruder", b"x")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.exists(HOME + "/intruder") is None
    assert not os.path.exists(zone.physical_path("demoResc", HOME + "/intruder"))


def test_create_in_a_missing_collection_is_unknown_collection(zone):
    with pytest.raises(IrodsError) as caught:
        zone.put("alice", HOME + "/nope/x", b"x")
    assert caught.value.name == "CAT_UNKNOWN_COLLECTION"


def test_overwrite_without_force_fails_and_keeps_the_data(zone):
    zone.put("alice", HOME + "/x", b"first")
    with pytest.raises(IrodsError) as caught:
        zone.put("alice", HOME + "/x", b"second")
    assert caught.value.name == "OVERWRITE_WITHOUT_FORCE_FLAG"
    assert zone.read_bytes("alice", HOME + "/x") == b"first"
    zone.put("alice", HOME + "/x", b"2nd", force=True)
    assert zone.read_bytes("alice", HOME + "/x") == b"2nd"


def test_create_over_a_collection_is_name_exists_as_collection(zone):
    zone.create_collection("alice", HOME + "/c")
    with pytest.raises(IrodsError) as caught:
        zone.put("alice", HOME + "/c", b"x")
    assert caught.value.name == "CAT_NAME_EXISTS_AS_COLLECTION"


def test_descriptors_start_at_three_and_reuse_the_lowest_free(zone):
    first = zone.create_data_object("alice", HOME + "/a")
    second = zone.create_data_object("alice", HOME + "/b")
    assert (first, second) == (3, 4)
    zone.close(first)
    assert zone.create_data_object("alice", HOME + "/c") == 3
    assert zone.descriptor(second).path == HOME + "/b"


def test_closed_and_out_of_range_descriptors_have_their_codes(zone):
    fd = zone.create_data_object("alice", HOME + "/a")
    zone.close(fd)
    with pytest.raises(IrodsError) as caught:
        zone.write(fd, b"late")
    assert caught.value.name == "BAD_INPUT_DESC_INDEX"
    with pytest.raises(IrodsError) as caught:
        zone.read(1)
    assert caught.value.name == "SYS_FILE_DESC_OUT_OF_RANGE"


def test_write_seek_read_through_descriptors(zone):
    fd = zone.create_data_object("alice", HOME + "/f")
    zone.write(fd, b"hello world")
    zone.seek(fd, 6)
    zone.write(fd, b"WORLD")
    zone.close(fd)
    fd = zone.open_data_object("alice", HOME + "/f", "r")
    assert zone.seek(fd, -5, 2) == 6
    assert zone.read(fd, 3) == b"WOR"
    assert zone.read(fd) == b"LD"
    zone.close(fd)
    assert zone.data_object(HOME + "/f").size == 11


def test_reading_a_write_only_descriptor_fails_like_the_vault(zone):
    fd = zone.create_data_object("alice", HOME + "/f")
    with pytest.raises(IrodsError) as caught:
        zone.read(fd)
    assert caught.value.name == "UNIX_FILE_READ_ERR" and caught.value.code == -512009


def test_writing_needs_modify_object_reading_needs_read_object(zone):
    zone.put("alice", HOME + "/f", b"data")
    zone.set_acl("alice", HOME, "read", "bob")
    zone.set_acl("alice", HOME + "/f", "read", "bob")
    assert zone.read_bytes("bob", HOME + "/f") == b"data"
    with pytest.raises(IrodsError) as caught:
        zone.open_data_object("bob", HOME + "/f", "w")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.read_bytes("alice", HOME + "/f") == b"data"


def test_replica_is_intermediate_until_the_last_writer_closes(zone):
    fd = zone.create_data_object("alice", HOME + "/p")
    token = zone.descriptor(fd).replica_token
    second = zone.open_data_object("alice", HOME + "/p", "r+", replica_token=token)
    zone.seek(second, 4)
    zone.write(second, b"tail")
    zone.write(fd, b"head")
    zone.close(fd)
    assert zone.data_object(HOME + "/p").replicas[0].status == "intermediate"
    zone.close(second)
    record = zone.data_object(HOME + "/p")
    assert (record.replicas[0].status, record.size) == ("good", 8)
    assert zone.read_bytes("alice", HOME + "/p") == b"headtail"


def test_second_writer_without_the_token_is_refused(zone):
    zone.create_data_object("alice", HOME + "/p")
    with pytest.raises(IrodsError) as caught:
        zone.open_data_object("alice", HOME + "/p", "r+")
    assert caught.value.name == "INTERMEDIATE_REPLICA_ACCESS"


def test_operations_on_an_object_being_written_are_locked(zone):
    zone.put("alice", HOME + "/busy", b"x")
    zone.replicate("alice", HOME + "/busy", "replResc")
    zone.open_data_object("alice", HOME + "/busy", "a", resource="demoResc")
    for operation in (lambda: zone.rename("alice", HOME + "/busy", HOME + "/moved"),
                      lambda: zone.unlink("alice", HOME + "/busy", force=True),
                      lambda: zone.open_data_object("alice", HOME + "/busy", "r", resource="replResc")):
        with pytest.raises(IrodsError) as caught:
            operation()
        assert caught.value.name == "LOCKED_DATA_OBJECT_ACCESS"


def test_writing_one_replica_stales_the_others(zone):
    zone.put("alice", HOME + "/r", b"v1")
    zone.replicate("alice", HOME + "/r", "replResc")
    fd = zone.open_data_object("alice", HOME + "/r", "w", resource="demoResc")
    zone.write(fd, b"version2")
    zone.close(fd)
    record = zone.data_object(HOME + "/r")
    assert [(r.resource, r.status, r.size) for r in record.replicas] == [
        ("demoResc", "good", 8), ("replResc", "stale", 2)]


def test_open_without_changes_keeps_statuses(zone):
    zone.put("alice", HOME + "/r", b"v1")
    zone.replicate("alice", HOME + "/r", "replResc")
    zone.close(zone.open_data_object("alice", HOME + "/r", "r+"))
    assert [r.status for r in zone.data_object(HOME + "/r").replicas] == ["good", "good"]


def test_checksum_is_sha2_base64_and_stored_on_the_replica(zone):
    zone.put("alice", HOME + "/c", b"checksum me")
    expected = "sha2:" + base64.b64encode(hashlib.sha256(b"checksum me").digest()).decode()
    assert zone.checksum("alice", HOME + "/c") == expected
    assert zone.data_object(HOME + "/c").replicas[0].checksum == expected


def test_checksum_is_dropped_by_a_write_and_recomputed_on_demand(zone):
    zone.put("alice", HOME + "/c", b"one")
    zone.checksum("alice", HOME + "/c")
    fd = zone.open_data_object("alice", HOME + "/c", "w")
    zone.write(fd, b"two")
    zone.close(fd)
    assert zone.data_object(HOME + "/c").checksum == ""
    assert zone.checksum("alice", HOME + "/c").startswith("sha2:")


def test_checksum_without_force_returns_the_stored_value(zone):
    zone.put("alice", HOME + "/c", b"one")
    stored = zone.checksum("alice", HOME + "/c")
    with open(zone.data_object(HOME + "/c").replicas[0].physical_path, "wb") as handle:
        handle.write(b"tampered behind iRODS' back")
    assert zone.checksum("alice", HOME + "/c") == stored
    assert zone.checksum("alice", HOME + "/c", force=True) != stored


def test_checksum_needs_read_object(zone):
    zone.put("alice", HOME + "/c", b"one")
    with pytest.raises(IrodsError) as caught:
        zone.checksum("bob", HOME + "/c")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"


def test_missing_object_is_cat_no_rows_found(zone):
    with pytest.raises(IrodsError) as caught:
        zone.open_data_object("alice", HOME + "/ghost")
    assert caught.value.name == "CAT_NO_ROWS_FOUND" and HOME + "/ghost" in caught.value.message


def test_paths_outside_the_zone_or_relative_are_refused(zone):
    for bad in ("relative/x", "/otherZone/home/alice/x", HOME + "/../bob/x"):
        with pytest.raises(IrodsError) as caught:
            zone.put("alice", bad, b"x")
        assert caught.value.name == "USER_INPUT_PATH_ERR"


def test_unknown_resource_is_sys_resc_does_not_exist(zone):
    with pytest.raises(IrodsError) as caught:
        zone.put("alice", HOME + "/x", b"x", resource="tapeResc")
    assert caught.value.name == "SYS_RESC_DOES_NOT_EXIST" and "tapeResc" in caught.value.message


def test_clock_stamps_times_and_only_moves_forward(zone):
    zone.put("alice", HOME + "/t", b"1")
    created = zone.data_object(HOME + "/t").create_time
    zone.clock.advance(60)
    zone.put("alice", HOME + "/t", b"2", force=True)
    record = zone.data_object(HOME + "/t")
    assert (record.create_time, record.modify_time) == (created, created + 60)
    with pytest.raises(ValueError):
        zone.clock.advance(-1)


def test_a_reader_keeps_reading_after_the_object_is_renamed(zone):
    # An open L3 file descriptor survives rename(2) in the vault (physPath.cpp moves the file).
    zone.put("alice", HOME + "/r", b"readable")
    fd = zone.open_data_object("alice", HOME + "/r", "r")
    zone.rename("alice", HOME + "/r", HOME + "/renamed")
    assert zone.read(fd) == b"readable"
    assert zone.close(fd).path == HOME + "/renamed"


def test_forced_overwrite_without_resource_writes_the_existing_replica(zone):
    zone.put("alice", HOME + "/o", b"old", resource="replResc")
    zone.put("alice", HOME + "/o", b"new", force=True)
    record = zone.data_object(HOME + "/o")
    assert [(r.resource, r.status) for r in record.replicas] == [("replResc", "good")]
    assert zone.read_bytes("alice", HOME + "/o") == b"new"


def test_vault_trouble_is_reported_with_the_unix_error(zone):
    zone.put("alice", HOME + "/gone", b"x")
    fd = zone.open_data_object("alice", HOME + "/gone", "r")
    os.remove(zone.data_object(HOME + "/gone").replicas[0].physical_path)
    with pytest.raises(IrodsError) as caught:
        zone.read(fd)
    assert caught.value.name == "UNIX_FILE_READ_ERR" and caught.value.code == -512002


def test_a_vault_path_that_resolves_outside_the_vault_is_refused(tmp_path):
    """The sandbox checks every vault path it touches resolves inside its vault, also once a
    link appears at the last component (folders on the way are resolved once and kept)."""
    from omero_irods_sandbox.vault import Resource

    resource = Resource("demoResc", str(tmp_path / "vault"))
    inside = resource.physical_path("/tempZone/home/alice/a.tif")
    assert inside == str(tmp_path / "vault" / "home" / "alice" / "a.tif")
    os.makedirs(os.path.dirname(inside))
    os.symlink(str(tmp_path), inside)
    with pytest.raises(IrodsError, match="outside the vault"):
        resource.physical_path("/tempZone/home/alice/a.tif")
    with pytest.raises(IrodsError, match="outside the vault"):
        resource.physical_path("/tempZone/../../elsewhere")
