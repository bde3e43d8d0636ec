"""msiTarFileExtract emulation.

Sources (irods/irods, 4-3-stable): `server/api/src/rsStructFileExtAndReg.cpp`
(chkCollForExtAndReg, regUnbunSubfiles, regSubfile: SYS_COPY_ALREADY_IN_RESC, keep going past a
failing member, members registered on the tar's resource), `plugins/resources/src/structfile.cpp`
(libarchive extraction with ARCHIVE_EXTRACT_TIME only: no secure-extraction flags).
"""

import os

import pytest

from omero_irods_sandbox.error_codes import IrodsError

HOME = "/tempZone/home/alice"
TAR = HOME + "/landing/run1.tar"


@pytest.fixture
def upload(zone, make_tar):
    def put(members, **links):
        zone.create_collection("alice", HOME + "/landing", parents=True)
        zone.put("alice", TAR, make_tar(members, **links), force=True)
        return zone
    return put


def test_members_become_collections_and_data_objects(upload):
    zone = upload({"run1/a.tif": b"AAA", "run1/sub/b.tif": b"BB", "run1/empty": None})
    registered = zone.extract_tar("alice", TAR, HOME + "/runs/run1")
    assert registered == [HOME + "/runs/run1/run1/a.tif", HOME + "/runs/run1/run1/sub/b.tif"]
    assert zone.exists(HOME + "/runs/run1/run1/empty") == "collection"
    record = zone.data_object(HOME + "/runs/run1/run1/sub/b.tif")
    assert (record.size, record.owner, record.data_type, record.replicas[0].status) == (2, "alice", "generic", "good")
    assert zone.read_bytes("alice", record.path) == b"BB"
    assert record.replicas[0].physical_path == zone.physical_path("demoResc", record.path)


def test_members_land_on_the_tars_resource(upload):
    zone = upload({"a": b"a"})
    zone.phymv("alice", TAR, "replResc", source_resource="demoResc")
    zone.extract_tar("alice", TAR, HOME + "/out")
    assert zone.data_object(HOME + "/out/a").replicas[0].resource == "replResc"


def test_existing_member_fails_others_still_register(upload):
    zone = upload({"a": b"new a", "b": b"b"})
    zone.create_collection("alice", HOME + "/out")
    zone.put("alice", HOME + "/out/a", b"old a")
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out")
    assert caught.value.name == "SYS_COPY_ALREADY_IN_RESC" and "a:" in caught.value.message
    assert zone.read_bytes("alice", HOME + "/out/a") == b"old a"
    assert zone.read_bytes("alice", HOME + "/out/b") == b"b"


def test_existing_object_on_another_resource_is_a_catalog_duplicate(upload):
    zone = upload({"a": b"new a"})
    zone.create_collection("alice", HOME + "/out")
    zone.put("alice", HOME + "/out/a", b"old a", resource="replResc")
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out")
    assert caught.value.name == "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME"
    assert not os.path.exists(zone.physical_path("demoResc", HOME + "/out/a"))


@pytest.mark.parametrize("members, links, hardlinks, why", [
    ({"../escape.txt": b"x"}, None, None, "'..'"),
    ({"/etc/cron.d/evil": b"x"}, None, None, "absolute path"),
    ({"ok": b"x"}, {"link": "/etc"}, None, "link"),
    ({"ok": b"x"}, None, {"hard": "/etc/passwd"}, "link"),
])
def test_escaping_members_are_refused_before_anything_is_written(upload, members, links, hardlinks, why):
    zone = upload(members, links=links, hardlinks=hardlinks)
    vault_files_before = sorted(_files(zone.vault("demoResc")))
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out")
    assert caught.value.name == "SYS_TAR_EXTRACT_ALL_ERR"
    assert why in caught.value.message and "real server" in caught.value.message
    assert zone.exists(HOME + "/out") is None
    assert sorted(_files(zone.vault("demoResc"))) == vault_files_before


def test_not_a_tar_is_a_clear_error(zone):
    zone.put("alice", HOME + "/fake.tar", b"this is not a tar archive at all" * 20)
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", HOME + "/fake.tar", HOME + "/out")
    assert caught.value.name == "SYS_TAR_EXTRACT_ALL_ERR" and "fake.tar" in caught.value.message


def test_extract_needs_read_on_the_tar_and_delete_object_on_the_target(upload):
    zone = upload({"a": b"a"})
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("bob", TAR, "/tempZone/home/bob/out")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    zone.set_acl("alice", TAR, "read", "bob")
    zone.create_collection("alice", HOME + "/shared")
    zone.set_acl("alice", HOME + "/shared", "modify_object", "bob")
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("bob", TAR, HOME + "/shared")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION" and "delete_object" in caught.value.message


def test_unknown_tar_replica_resource(upload):
    zone = upload({"a": b"a"})
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out", resource="replResc")
    assert caught.value.name == "REPLICA_NOT_IN_RESC"


def _files(root):
    for directory, _dirs, names in os.walk(root):
        for name in names:
            yield os.path.join(directory, name)
