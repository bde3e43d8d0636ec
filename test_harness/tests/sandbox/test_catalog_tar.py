"""msiTarFileExtract emulation.

Sources (irods/irods, 4-3-stable and 5.0.2): `server/api/src/rsStructFileExtAndReg.cpp`
(chkCollForExtAndReg, regUnbunSubfiles, regSubfile: SYS_COPY_ALREADY_IN_RESC, keep going past a
failing member, members registered on the tar's resource), `server/api/src/rsStructFileBundle.cpp`
(createPhyBundleDir: the cache folder `<tar's vault path>.dir`), `plugins/resources/src/structfile.cpp`
(extract_file: the system libarchive, every name prefixed with the cache folder, extraction with
ARCHIVE_EXTRACT_TIME only: no secure-extraction flags).
"""

import os

import pytest

from omero_irods_sandbox import hand_made_tar
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


def test_a_member_climbing_out_is_written_where_it_points_and_logged(upload):
    # structfile.cpp: cache dir + '/' + name, archive_read_extract without SECURE_NODOTDOT.
    zone = upload({"run1/a.tif": b"A", "../escape.txt": b"escaped"})
    assert zone.extract_tar("alice", TAR, HOME + "/out") == [HOME + "/out/run1/a.tif"]
    landing_dir = os.path.dirname(zone.physical_path("demoResc", TAR))
    with open(os.path.join(landing_dir, "escape.txt"), "rb") as handle:
        assert handle.read() == b"escaped"  # next to the tar in the vault, as on a real server
    assert zone.exists(HOME + "/out/escape.txt") is None and zone.exists(HOME + "/landing/escape.txt") is None
    errors = [line for line in zone.server_log if line.startswith("ERROR")]
    assert len(errors) == 1 and "'../escape.txt'" in errors[0] and "outside its extraction folder" in errors[0]


def test_a_member_climbing_to_the_top_overwrites_the_emulated_core_py(upload):
    # '..' at '/' stays at '/' (the kernel); the sandbox's '/' is <zone root>/server_root.
    zone = upload({"run1/a.tif": b"A", "../" * 40 + "etc/irods/core.py": b"import os  # attacker"})
    zone.extract_tar("alice", TAR, HOME + "/out")
    core_py = os.path.join(str(zone.root_dir), "server_root", "etc", "irods", "core.py")
    with open(core_py, "rb") as handle:
        assert handle.read() == b"import os  # attacker"
    assert any("/etc/irods/core.py" in line and line.startswith("ERROR") for line in zone.server_log)


def test_an_absolute_member_stays_below_the_cache_folder_as_on_the_server(upload):
    # The plugin prefixes every name with the cache folder: '/etc/x' becomes '<cache>//etc/x'.
    zone = upload({"/etc/cron.d/evil": b"x"})
    assert zone.extract_tar("alice", TAR, HOME + "/out") == [HOME + "/out/etc/cron.d/evil"]
    assert not [line for line in zone.server_log if line.startswith("ERROR")]


def test_members_are_read_by_libarchive_not_tarfile(upload, zone):
    # libarchive 3.6 prefers GNU.sparse.name to path (archive_read_support_format_tar.c
    # pax_header); tarfile reads path. The sandbox writes what libarchive reads.
    body = b"".join(hand_made_tar.pax_record(key, value) for key, value in
                    ((b"path", b"run1/a.tif"), (b"GNU.sparse.name", b"../escaped.tif")))
    raw = hand_made_tar.end_of_archive(
        hand_made_tar.header(b"././@PaxHeader", b"x", len(body), mtime=0) + hand_made_tar.padded(body)
        + hand_made_tar.header(b"run1/a.tif", b"0", 1, mtime=0) + hand_made_tar.padded(b"E"))
    zone.create_collection("alice", HOME + "/landing", parents=True)
    zone.put("alice", TAR, raw, force=True)
    assert zone.extract_tar("alice", TAR, HOME + "/out") == []
    assert os.path.exists(os.path.join(os.path.dirname(zone.physical_path("demoResc", TAR)), "escaped.tif"))


@pytest.mark.parametrize("links, hardlinks", [({"link": "/etc"}, None), (None, {"hard": "/etc/passwd"})])
def test_links_are_refused_before_anything_is_written(upload, links, hardlinks):
    zone = upload({"ok": b"x"}, links=links, hardlinks=hardlinks)
    vault_files_before = sorted(_files(zone.vault("demoResc")))
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out")
    assert caught.value.name == "SYS_TAR_EXTRACT_ALL_ERR"
    assert "link" in caught.value.message and "real server" in caught.value.message
    assert sorted(_files(zone.vault("demoResc"))) == vault_files_before


def test_nothing_is_written_through_a_link_leading_out_of_the_sandbox(upload, tmp_path):
    # A symbolic link left on the emulated disk (as a link member would leave it on a real
    # server) must never carry a write out of the sandbox's own folder.
    zone = upload({"run1/a.tif": b"A"})
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), zone.physical_path("demoResc", TAR) + ".dir")
    with pytest.raises(IrodsError) as caught:
        zone.extract_tar("alice", TAR, HOME + "/out")
    assert caught.value.name == "SYS_TAR_EXTRACT_ALL_ERR" and "outside the sandbox" in caught.value.message
    assert list(outside.iterdir()) == []


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


def test_the_sandboxs_own_listing_pass_skips_member_data_by_seeking(tmp_path, monkeypatch):
    """The server reads a tar once to extract it (irods/irods plugins/resources/src/
    structfile.cpp: a read callback, one pass); the sandbox lists it first to refuse writing
    outside its folder, and that pass must not read the data again (bench: server reads per
    ingested byte)."""
    import io
    import tarfile

    from omero_irods_sandbox import tar_members

    tar_path = tmp_path / "x.tar"
    with tarfile.open(str(tar_path), "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("big.bin", "after.bin"):
            info = tarfile.TarInfo(name)
            info.size = 8 << 20
            tar.addfile(info, io.BytesIO(b"\0" * info.size))
    read = []
    plain_read = tar_members._Archive._read

    def counted(self, archive, client_data, buffer_pointer):
        length = plain_read(self, archive, client_data, buffer_pointer)
        read.append(length)
        return length
    monkeypatch.setattr(tar_members._Archive, "_read", counted)
    targets = tar_members._planned_targets(str(tar_path), "/tempZone/x.tar", str(tar_path) + ".dir", str(tmp_path))
    assert [name for name, _host in targets] == ["big.bin", "after.bin"]
    # the short blocks holding the headers (_HEADER_READ_BLOCK each), not the 16 MiB of data
    # between them, nor a full _READ_BLOCK of it after each skip
    assert sum(read) <= 4 * (64 << 10) < tar_members._READ_BLOCK
