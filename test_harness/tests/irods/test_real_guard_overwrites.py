"""On a real iRODS 5.0.2 zone: once OMERO links to placed data, rewriting its bytes in place is
refused (iput -f, a python-irodsclient open for writing, truncate, replica_truncate, icp -f)
while reads, itouch and new objects next to it go as usual; and a landing zone that hands
others write by inheritance gets every request rejected, with nothing placed.

Each client sends one API request (irods/irods server/api/src/rsDataObjPut.cpp,
rsDataObjOpen.cpp, rsDataObjTruncate.cpp, rs_replica_truncate.cpp, rsDataObjCopy.cpp;
python-irodsclient irods/manager/data_object_manager.py), whose pre-PEP the guard defines.
"""

import hashlib
import os

import pytest

from realzone.install import LANDING_ZONE, SERVICE_ACCOUNT
from test_real_ingest import run_folder


def _digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture(scope="module")
def linked(tier, tmp_path_factory):
    """(the imported collection, one linked file in it, its bytes)."""
    folder, files = run_folder(tmp_path_factory.mktemp("overwrites"), "run-overwrites")
    pushed = tier.push(folder, "alice", "lab")
    status = tier.wait_final(pushed["request_id"])
    assert status["state"] == "imported", status
    return status["destination"], status["destination"] + "/well-A01.tif", files["well-A01.tif"]


def _unchanged(tier, path, data):
    (size, _checksum, physical), = [value for key, value in tier.data_objects_under(os.path.dirname(path)).items()
                                    if key == path]
    assert int(size) == len(data)
    assert _digest(tier.vault_path(path)) == hashlib.sha256(data).hexdigest()


def test_iput_f_and_icp_f_onto_linked_data_are_refused(tier, linked, tmp_path):
    _root, path, data = linked
    forged = tmp_path / "forged.tif"
    forged.write_bytes(b"forged bytes\n")
    for user in ("alice", "rods"):
        refused = tier.zone.icommand(user, "iput", "-f", str(forged), path, check=False)
        assert refused.returncode != 0 and "SYS_NOT_ALLOWED" in refused.stderr, refused
    tier.zone.icommand("alice", "iput", str(forged), "/tempZone/home/alice/forged.tif")
    refused = tier.zone.icommand("alice", "icp", "-f", "/tempZone/home/alice/forged.tif", path, check=False)
    assert refused.returncode != 0 and "SYS_NOT_ALLOWED" in refused.stderr, refused
    _unchanged(tier, path, data)


def test_prc_opens_for_writing_and_truncates_of_linked_data_are_refused(tier, linked):
    from irods.exception import iRODSException

    _root, path, data = linked
    with tier.zone.session("alice") as session:
        for mode in ("w", "a", "r+"):
            with pytest.raises(iRODSException) as caught:
                with session.data_objects.open(path, mode) as handle:
                    handle.write(b"forged")
            assert "SYS_NOT_ALLOWED" in repr(caught.value), (mode, caught.value)
        with pytest.raises(iRODSException) as caught:
            session.data_objects.truncate(path, 1)
        assert "SYS_NOT_ALLOWED" in repr(caught.value)
        with pytest.raises(iRODSException):
            session.data_objects.replica_truncate(path, 0)
    _unchanged(tier, path, data)


def test_reads_itouch_and_new_objects_next_to_linked_data_go_as_usual(tier, linked, tmp_path):
    root, path, data = linked
    with tier.zone.session("alice") as session:
        with session.data_objects.open(path, "r") as handle:
            assert handle.read() == data
    got = tmp_path / "got.tif"
    tier.zone.icommand("alice", "iget", path, str(got))
    assert got.read_bytes() == data
    tier.zone.icommand("alice", "itouch", path)  # the modification time only
    new = tmp_path / "new.tif"
    new.write_bytes(b"new\n")
    tier.zone.icommand("alice", "iput", "-f", str(new), root + "/new.tif")
    with tier.zone.session("alice") as session:
        with session.data_objects.open(root + "/new2.tif", "w") as handle:
            handle.write(b"new2\n")
    assert tier.exists(root + "/new.tif") and tier.exists(root + "/new2.tif")
    _unchanged(tier, path, data)


def test_unrelated_data_is_overwritten_and_truncated_as_usual(tier, tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_bytes(b"0123456789\n")
    second.write_bytes(b"abcdefghij\n")
    target = "/tempZone/home/alice/overwritten.txt"
    tier.zone.icommand("alice", "iput", "-f", str(first), target)
    tier.zone.icommand("alice", "iput", "-f", str(second), target)
    with tier.zone.session("alice") as session:
        session.data_objects.truncate(target, 4)
        with session.data_objects.open(target, "r") as handle:
            assert handle.read() == b"abcd"


def test_a_landing_zone_handing_others_write_by_inheritance_gets_requests_rejected(tier, tmp_path):
    """The real catalog's levels (modify_object) and inheritance flag, read by the seal."""
    tier.zone.icommand(SERVICE_ACCOUNT, "ichmod", "write", "bob", LANDING_ZONE)
    tier.zone.icommand(SERVICE_ACCOUNT, "ichmod", "inherit", LANDING_ZONE)
    try:
        folder, _files = run_folder(tmp_path, "run-cowriter")
        pushed = tier.push(folder, "alice", "lab")
        status = tier.wait_final(pushed["request_id"])
    finally:
        tier.zone.icommand(SERVICE_ACCOUNT, "ichmod", "noinherit", LANDING_ZONE)
        tier.zone.icommand(SERVICE_ACCOUNT, "ichmod", "null", "bob", LANDING_ZONE)
    assert status["state"] == "rejected", status
    assert "not_permitted" in status["error"] and "bob (modify_object)" in status["error"], status
    assert "inheritance on" in status["error"], status
    assert not status.get("destination")
    assert not [call for call in tier.imports() if any("run-cowriter" in arg for arg in call["argv"])]
