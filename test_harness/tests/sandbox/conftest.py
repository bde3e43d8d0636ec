"""Shared fixtures for the sandbox tests: a fresh zone per test, and tar builders."""

import io
import tarfile

import pytest

from omero_irods_sandbox.catalog import Zone


@pytest.fixture
def zone(tmp_path):
    """A zone 'tempZone' with vaults under tmp_path, rodsusers alice and bob, the rodsadmin
    rods, and group 'lab' holding alice."""
    new_zone = Zone("tempZone", tmp_path / "zone")
    new_zone.add_user("alice")
    new_zone.add_user("bob")
    new_zone.add_group("lab")
    new_zone.add_to_group("lab", "alice")
    return new_zone


@pytest.fixture
def make_tar():
    """make_tar({'name': b'bytes' | None (a directory)}, links={'name': 'target'}) -> tar bytes."""
    def build(members, links=None, hardlinks=None):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                if data is None:
                    info.type = tarfile.DIRTYPE
                    archive.addfile(info)
                else:
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
            for kind, table in ((tarfile.SYMTYPE, links or {}), (tarfile.LNKTYPE, hardlinks or {})):
                for name, target in table.items():
                    info = tarfile.TarInfo(name)
                    info.type = kind
                    info.linkname = target
                    archive.addfile(info)
        return buffer.getvalue()
    return build
