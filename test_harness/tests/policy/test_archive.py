"""Tar member checks before extraction.

msiTarFileExtract extracts with libarchive and only ARCHIVE_EXTRACT_TIME (irods/irods
plugins/resources/src/structfile.cpp, extract_file): these tests build the malicious archives it
would otherwise extract and prove each is refused from the headers alone.
"""

import io
import tarfile

import pytest

from omero_irods.archive import (MAX_EXTENDED_HEADER_BYTES, READ_SIZE, READ_SIZE_AFTER_SEEK, ArchiveLimits, Member,
                                 list_members)
from omero_irods.errors import Rejected

LIMITS = ArchiveLimits(
    max_members=100, max_member_bytes=1 << 30, max_expanded_bytes=1 << 31, max_path_length=1024, max_name_length=255
)


def make_tar(members, fmt=tarfile.PAX_FORMAT):
    """members: (name, kind, payload) with kind in file/dir/sym/lnk/chr/blk/fifo."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "lnk": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "blk": tarfile.BLKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            info.linkname = payload or ""
            tar.addfile(info)
    return buffer.getvalue()


def members_of(raw, limits=LIMITS, seekable=True):
    fileobj = io.BytesIO(raw) if seekable else NonSeekable(raw)
    return list_members(fileobj, limits, what="run1.tar")


def rejection(raw, limits=LIMITS, seekable=True):
    with pytest.raises(Rejected) as caught:
        members_of(raw, limits, seekable)
    assert "run1.tar" in caught.value.message
    return caught.value


class NonSeekable(io.RawIOBase):
    """A pipe-like reader: read() only."""

    def __init__(self, raw):
        self._inner = io.BytesIO(raw)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class CountingReader(io.BytesIO):
    """Counts what a reader over msiDataObjRead/msiDataObjLseek would turn into round trips."""

    def __init__(self, raw):
        super().__init__(raw)
        self.bytes_read = 0
        self.reads = 0
        self.seeks = []
        self.tells = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        self.reads += 1
        return data

    def seek(self, offset, whence=io.SEEK_SET):
        assert whence == io.SEEK_SET, "the walk seeks to absolute offsets only"
        self.seeks.append(offset)
        return super().seek(offset, whence)

    def tell(self):
        self.tells += 1
        return super().tell()


GOOD = [("run1", "dir", None), ("run1/a.tif", "file", b"a" * 10), ("run1/sub/b.tif", "file", b"")]


@pytest.mark.parametrize("seekable", [True, False])
def test_plain_files_and_folders_are_listed_in_order(seekable):
    assert members_of(make_tar(GOOD), seekable=seekable) == [
        Member("run1", 0, "dir"),
        Member("run1/a.tif", 10, "file"),
        Member("run1/sub/b.tif", 0, "file"),
    ]


def test_seekable_archive_is_walked_by_its_headers_only():
    raw = make_tar([("big.bin", "file", bytes(8 << 20)), ("small.txt", "file", b"x")])
    reader = CountingReader(raw)
    assert [m.path for m in list_members(reader, LIMITS)] == ["big.bin", "small.txt"]
    # One large read, one seek over the 8 MiB of data, one read of the rest.
    assert reader.bytes_read <= 2 * READ_SIZE
    assert reader.seeks == [512 + (8 << 20)]
    assert reader.tells == 0


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_names_in_pax_and_gnu_archives(fmt):
    long_name = "d" * 150 + "/" + "f" * 200 + ".tif"
    assert members_of(make_tar([(long_name, "file", b"x")], fmt=fmt)) == [Member(long_name, 1, "file")]


def test_unicode_names_survive():
    assert members_of(make_tar([("ünï/çødé.tif", "file", b"x")]))[0].path == "ünï/çødé.tif"


def test_leading_dot_slash_is_the_same_member():
    raw = make_tar([(".", "dir", None), ("./a.tif", "file", b"x")])
    assert members_of(raw) == [Member("a.tif", 1, "file")]


@pytest.mark.parametrize(
    "name, words",
    [
        ("../evil", "'..'"),
        ("run1/../../evil", "'..'"),
        ("/etc/passwd", "absolute"),
        ("run1//a", "empty path component"),
        ("run1/a\nb", "control character"),
    ],
)
def test_escaping_or_unstorable_names_are_unsafe(name, words):
    error = rejection(make_tar([(name, "file", b"x")]))
    assert error.reason == "unsafe_member"
    assert words in error.message


@pytest.mark.parametrize(
    "kind, target, words",
    [
        ("sym", "/etc/passwd", "symbolic link"),
        ("lnk", "run1/a.tif", "hard link"),
        ("chr", None, "device"),
        ("blk", None, "device"),
        ("fifo", None, "fifo"),
    ],
)
def test_links_devices_and_fifos_are_refused(kind, target, words):
    error = rejection(make_tar(GOOD + [("run1/odd", kind, target)]))
    assert error.reason == "unsafe_member"
    assert words in error.message and "run1/odd" in error.message


def test_duplicate_names_are_refused():
    error = rejection(make_tar([("a.tif", "file", b"1"), ("a.tif", "file", b"2")]))
    assert error.reason == "unsafe_member" and "twice" in error.message


def test_a_file_used_as_a_folder_is_refused():
    error = rejection(make_tar([("run1", "file", b"1"), ("run1/a.tif", "file", b"2")]))
    assert error.reason == "unsafe_member" and "uses it as a folder" in error.message


def test_names_that_are_not_utf8_are_refused():
    raw = make_tar([("run1/placeholder-name", "file", b"x")], fmt=tarfile.USTAR_FORMAT)
    raw = raw.replace(b"placeholder-name", b"bad-\xff\xfe-name\x00\x00\x00\x00\x00")  # same length
    raw = _fix_checksum(raw)
    error = rejection(raw)
    assert error.reason == "unsafe_member" and "UTF-8" in error.message


def _fix_checksum(raw):
    header = bytearray(raw[:512])
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + raw[512:]


def test_too_many_members():
    raw = make_tar([("f%d" % i, "file", b"") for i in range(6)])
    error = rejection(raw, LIMITS._replace(max_members=5))
    assert error.reason == "limit" and "more than 5 members" in error.message


def test_member_too_large():
    error = rejection(make_tar([("big", "file", b"x" * 100)]), LIMITS._replace(max_member_bytes=99))
    assert error.reason == "limit" and "100 bytes" in error.message


def test_total_expanded_size_limit():
    raw = make_tar([("a", "file", b"x" * 60), ("b", "file", b"x" * 60)])
    error = rejection(raw, LIMITS._replace(max_expanded_bytes=100))
    assert error.reason == "limit" and "expands to more than 100 bytes" in error.message


def test_path_and_name_length_limits():
    error = rejection(make_tar([("a/" + "b" * 40, "file", b"")]), LIMITS._replace(max_path_length=30))
    assert error.reason == "limit"
    error = rejection(make_tar([("a/" + "b" * 40, "file", b"")]), LIMITS._replace(max_name_length=39))
    assert error.reason == "limit" and "more than 39 bytes" in error.message


def test_huge_extended_header_is_refused_before_it_is_read():
    raw = make_tar([("p" * (MAX_EXTENDED_HEADER_BYTES + 10), "file", b"x")])
    error = rejection(raw, LIMITS._replace(max_path_length=1 << 20))
    assert error.reason == "unsafe_member" and "extended" in error.message


@pytest.mark.parametrize("seekable", [True, False])
def test_truncated_member_data_is_not_a_tar(seekable):
    raw = make_tar([("a.tif", "file", b"x" * 5000)])
    error = rejection(raw[:2048], seekable=seekable)
    assert error.reason == "not_a_tar"


@pytest.mark.parametrize("seekable", [True, False])
def test_archive_cut_at_a_header_boundary_lacks_the_end_marker(seekable):
    raw = make_tar([("a.tif", "file", b"x" * 512), ("b.tif", "file", b"y")])
    error = rejection(raw[:1024], seekable=seekable)  # a's header + data, nothing after
    assert error.reason == "not_a_tar" and "end-of-archive" in error.message


@pytest.mark.parametrize("raw", [b"", b"not a tar at all" * 100, bytes(10240)], ids=["empty", "text", "zeros"])
def test_garbage_empty_and_all_zero_files_are_not_tars(raw):
    assert rejection(raw).reason == "not_a_tar"


def test_gzip_is_not_accepted_as_a_plain_tar():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("a")
        tar.addfile(info, io.BytesIO(b""))
    assert rejection(buffer.getvalue()).reason == "not_a_tar"


def test_errors_of_the_reader_itself_pass_through_for_a_retry():
    class BrokenReader(io.BytesIO):
        def read(self, size=-1):
            raise OSError("msiDataObjRead failed")

    with pytest.raises(OSError):
        list_members(BrokenReader(make_tar(GOOD)), LIMITS)


def test_reader_calls_grow_with_the_archive_size_not_the_member_count():
    # On the server every read and seek is a microservice round trip (msiDataObjRead/Lseek).
    files = [("run1/f%05d.tif" % i, "file", bytes(i % 700)) for i in range(3000)]
    raw = make_tar(files)
    reader = CountingReader(raw)
    assert len(list_members(reader, LIMITS._replace(max_members=5000))) == 3000
    megabytes = -(-len(raw) // READ_SIZE)
    assert reader.reads + len(reader.seeks) <= 3 * megabytes + 2
    assert reader.tells == 0


def test_headers_between_large_members_are_read_in_small_pieces():
    # Server bytes read per ingested byte: after seeking over a large member the walk reads
    # the next header with a short read, not READ_SIZE of the next member's data.
    count = 16
    raw = make_tar([("run1/f%02d.bin" % i, "file", bytes(2 * READ_SIZE)) for i in range(count)])
    reader = CountingReader(raw)
    assert len(list_members(reader, LIMITS)) == count
    assert len(reader.seeks) == count
    # the first read, then at most 32 KiB per header (a READ_SIZE each read 16 MiB here)
    assert reader.bytes_read <= READ_SIZE + count * (32 << 10)


def test_small_members_after_a_large_one_are_still_read_in_large_pieces():
    # The short reads after a seek double back to READ_SIZE: a run of small members after a
    # large one still costs a round trip per READ_SIZE, not one per member.
    files = [("run1/big.bin", "file", bytes(2 * READ_SIZE))]
    files += [("run1/f%05d.tif" % i, "file", bytes(i % 700)) for i in range(3000)]
    raw = make_tar(files)
    reader = CountingReader(raw)
    assert len(list_members(reader, LIMITS._replace(max_members=5000))) == 3001
    small_megabytes = -(-(len(raw) - 2 * READ_SIZE) // READ_SIZE)
    doublings = (READ_SIZE // READ_SIZE_AFTER_SEEK).bit_length()
    # each short read may end inside a small member: at most one more seek per doubling
    assert reader.reads + len(reader.seeks) <= 3 * small_megabytes + 2 * doublings + 3


@pytest.mark.parametrize("seekable", [True, False])
def test_large_members_are_skipped_seekable_or_not(seekable):
    raw = make_tar([("a.bin", "file", bytes(3 * READ_SIZE + 100)), ("b.txt", "file", b"x")])
    assert [m.path for m in members_of(raw, seekable=seekable)] == ["a.bin", "b.txt"]
