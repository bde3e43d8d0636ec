"""Sparse files through the sandbox: the same bytes as a dense file, on little disk.

The sandbox writes zeros past a file's end as a hole, hashes holes without reading them and
hands them to libarchive as zeros (vault.py, tar_members.py), so a test can push gigabytes of
zeros cheaply. None of it may change a byte, a checksum or a member: each test here compares
with the plain computation.
"""

import hashlib
import io
import os
import tarfile

from omero_irods_sandbox import tar_members, vault

MiB = 1 << 20


def sparse_file(path, pieces, size):
    """`pieces` {offset: bytes} on a file of `size` bytes, the rest holes."""
    with open(path, "wb") as handle:
        for offset, data in sorted(pieces.items()):
            handle.seek(offset)
            handle.write(data)
        handle.truncate(size)
    return path


def test_a_sparse_file_hashes_as_its_bytes(tmp_path):
    path = sparse_file(str(tmp_path / "f"), {0: b"head", 3 * MiB + 5: b"middle" * 1000, 9 * MiB - 3: b"end"},
                       9 * MiB + 4097)
    with open(path, "rb") as handle:
        data = handle.read()
    assert vault.file_digest(path, hashlib.sha256()) == hashlib.sha256(data).digest()
    assert vault.file_digest(path, hashlib.md5()) == hashlib.md5(data).digest()
    assert os.stat(path).st_blocks * 512 < 2 * MiB  # it really is sparse (tmpfs and ext4 both are)


def test_zeros_past_the_end_become_a_hole_and_read_back(tmp_path):
    path = str(tmp_path / "f")
    vault.create_empty(path)
    vault.write_at(path, 0, b"x" * 10)
    vault.write_at(path, 10, bytes(8 * MiB))
    vault.write_at(path, 10 + 8 * MiB, b"tail")
    assert os.stat(path).st_blocks * 512 < MiB
    assert vault.read_at(path, 0, -1) == b"x" * 10 + bytes(8 * MiB) + b"tail"


def test_zeros_written_over_data_replace_it(tmp_path):
    path = str(tmp_path / "f")
    vault.create_empty(path)
    vault.write_at(path, 0, b"y" * MiB)
    vault.write_at(path, 0, bytes(MiB))
    assert vault.read_at(path, 0, -1) == bytes(MiB)


def test_a_tar_with_a_sparse_member_extracts_the_same_bytes(tmp_path):
    member = sparse_file(str(tmp_path / "member"), {2 * MiB: b"in the middle"}, 6 * MiB)
    tar_path = str(tmp_path / "server_root" / "run.tar")
    os.makedirs(os.path.dirname(tar_path))
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(member, arcname="run/big.raw")
        info = tarfile.TarInfo("run/after.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"after"))
    with open(tar_path, "r+b") as handle:  # make the tar itself sparse where it holds zeros
        data = handle.read()
    os.remove(tar_path)
    sparse_file(tar_path, {offset: data[offset:offset + 512] for offset in range(0, len(data), 512)
                           if data[offset:offset + 512] != bytes(512)}, len(data))
    extraction = tar_members.extract(tar_path, "/tempZone/run.tar", str(tmp_path / "server_root"))
    assert extraction.failed == [] and extraction.misplaced == [] and extraction.stopped is None
    with open(member, "rb") as original, open(os.path.join(extraction.cache_dir, "run", "big.raw"), "rb") as placed:
        assert placed.read() == original.read()
    with open(os.path.join(extraction.cache_dir, "run", "after.txt"), "rb") as placed:
        assert placed.read() == b"after"
