"""The policy's tar reader agrees with libarchive, the reader that extracts on the server.

msiTarFileExtract unpacks with the system libarchive (irods/irods
plugins/resources/src/structfile.cpp, extract_file: archive_read_support_filter_all +
format_all, a read callback and no seek callback, `while (archive_read_next_header(...) ==
ARCHIVE_OK)`, each name prefixed with the cache directory). These tests read every archive of a
corpus -- ordinary ones as GNU tar, Python's tarfile and the push client write them, and hostile
ones crafted byte by byte -- with libarchive through libarchive-c (which binds the same system
library with ctypes) and with `omero_irods.archive.list_members`, and require, for each: the
policy refuses it, OR libarchive lists exactly the same members (name as it will be written
under the cache directory, type, size, in order) and reaches the end cleanly as a plain tar.
A seeded mutation fuzz over valid archives checks the same property (ARCHIVE_FUZZ_SEED and
ARCHIVE_FUZZ_ROUNDS run it longer or elsewhere; the default is fixed so a run repeats).
"""

import ctypes
import io
import os
import random
import shutil
import subprocess
import tarfile

import pytest

from omero_irods.archive import ArchiveLimits, Member, list_members
from omero_irods.client.tarstream import Member as PushMember, TarStream
from omero_irods.errors import Rejected

libarchive = pytest.importorskip("libarchive", reason="libarchive-c (the test extra) binds the system libarchive")
from libarchive import ffi  # noqa: E402

LIMITS = ArchiveLimits(max_members=1000, max_member_bytes=1 << 40, max_expanded_bytes=1 << 41,
                       max_path_length=4096, max_name_length=255)
AE_IFREG, AE_IFDIR = 0o100000, 0o040000
#: libarchive's archive.h: the tar family of archive_format() codes (ustar, pax, GNU, ...).
ARCHIVE_FORMAT_TAR = 0x30000
_archive_format = ffi.libarchive.archive_format
_archive_format.argtypes, _archive_format.restype = [ffi.c_archive_p], ctypes.c_int


# ---------------------------------------------------------------- the two readers


class _ReadOnly(io.RawIOBase):
    """What the server hands libarchive: a read callback, no seek callback (structfile.cpp)."""

    def __init__(self, raw):
        self._inner = io.BytesIO(raw)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        data = self._inner.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def libarchive_reading(raw):
    """(members, clean): what the server's extraction loop sees, stopping where it stops --
    at the first header call that does not return ARCHIVE_OK. `clean` is True when that is
    the end of a plain (unfiltered) tar archive."""
    members = []
    try:
        with libarchive.stream_reader(_ReadOnly(raw)) as archive:
            pointer = archive._pointer
            while True:
                entry = libarchive.entry.ArchiveEntry(pointer, "utf-8")
                status = ffi.read_next_header2(pointer, entry._entry_p)
                if status != ffi.ARCHIVE_OK:
                    clean = (status == ffi.ARCHIVE_EOF and _archive_format(pointer) & ~0xFFFF == ARCHIVE_FORMAT_TAR
                             and ffi.filter_count(pointer) == 1)  # the 'none' filter only
                    return members, clean
                members.append(_as_member(entry))
    except libarchive.ArchiveError:
        return members, False


def _as_member(entry):
    """A libarchive entry as the policy's Member; the name as the file lands below the cache
    directory (leading './' and a folder's trailing '/' do not change where)."""
    path = entry.pathname
    if isinstance(path, bytes):  # libarchive-c gives bytes it cannot decode
        path = path.decode("utf-8", "surrogateescape")
    kind = {AE_IFREG: "file", AE_IFDIR: "dir"}.get(entry.filetype, "other:%o" % entry.filetype)
    while path.startswith("./"):
        path = path[2:]
    if kind == "dir" and path.endswith("/"):
        path = path[:-1]
    return Member(path, entry.size if kind == "file" else 0, kind)


def policy_reading(raw):
    """The members list_members returns, or the Rejected it raises."""
    try:
        return list_members(io.BytesIO(raw), LIMITS, what="corpus.tar")
    except Rejected as rejected:
        assert rejected.reason in ("not_a_tar", "unsafe_member", "limit")
        return rejected


def assert_refused_or_identical(raw):
    ours = policy_reading(raw)
    if isinstance(ours, Rejected):
        return ours
    theirs, clean = libarchive_reading(raw)
    theirs = [member for member in theirs if member.path not in ("", ".") or member.type != "dir"]
    assert clean, "the policy accepted an archive libarchive does not read to a clean end: %r" % (theirs,)
    assert theirs == ours
    return ours


# ---------------------------------------------------------------- crafting headers by hand

POSIX, GNU = b"ustar\x0000", b"ustar  \x00"


def header(name=b"run1/a.tif", typeflag=b"0", size=0, magic=POSIX, prefix=b"", linkname=b"",
           size_field=None, checksum=None, patch=None):
    """One 512-byte header; `patch` {offset: bytes} is applied before the checksum."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    block[136:148] = b"%011o\x00" % 1700000000
    block[156:157] = typeflag
    block[157:157 + len(linkname)] = linkname
    block[257:265] = magic
    block[345:345 + len(prefix)] = prefix
    for offset, value in (patch or {}).items():
        block[offset:offset + len(value)] = value
    block[148:156] = b" " * 8
    block[148:156] = checksum if checksum is not None else b"%06o\x00 " % sum(block)
    return bytes(block)


def padded(data):
    return data + bytes(-len(data) % 512)


def member(head, data=b""):
    return head + padded(data)


def pax_records(*pairs):
    body = b""
    for key, value in pairs:
        text = b" " + key + b"=" + value + b"\n"
        length = len(text) + 1
        while len(str(length).encode()) + len(text) != length:
            length += 1
        body += str(length).encode() + text
    return body


def pax(*pairs, typeflag=b"x", body=None):
    body = pax_records(*pairs) if body is None else body
    return member(header(b"././@PaxHeader", typeflag, len(body)), body)


def long_name(name, typeflag=b"L"):
    body = name + b"\x00"
    return member(header(b"././@LongLink", typeflag, len(body), magic=GNU), body)


def archive(*parts, end=bytes(1024), trailing=b""):
    raw = b"".join(parts) + end + trailing
    return raw + bytes(-len(raw) % 10240) if end and not trailing else raw


FILE = member(header(b"run1/a.tif", size=5), b"hello")
EVIL = b"../../../../etc/irods/core.py"


def python_tar(entries, fmt):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ORDINARY_TREE = [("run1", None), ("run1/a.tif", b"a" * 700), ("run1/plate/well A1/field 1.tif", b"b" * 3),
                 ("run1/ünïcødé/çødé.ome.tiff", b"c"), ("run1/" + "d" * 120 + "/" + "e" * 130 + ".tif", b"d"),
                 ("run1/empty.txt", b""), ("run1/sub", None)]


def push_client_tar():
    members = [PushMember(path, len(data), 1700000000, (lambda d=data: io.BytesIO(d)))
               for path, data in ORDINARY_TREE if data is not None]
    return b"".join(TarStream(members).chunks())


ORDINARY = {
    "python-pax": python_tar(ORDINARY_TREE, tarfile.PAX_FORMAT),
    "python-gnu": python_tar(ORDINARY_TREE, tarfile.GNU_FORMAT),
    "python-ustar": python_tar([(n, d) for n, d in ORDINARY_TREE if len(n) < 200], tarfile.USTAR_FORMAT),
    "push-client": push_client_tar(),
    "ustar-prefix": archive(member(header(b"a.tif", size=1, prefix=b"run1/deep"), b"x")),
    "ustar-prefix-with-slash": archive(member(header(b"a.tif", size=1, prefix=b"run1/deep/"), b"x")),
    "pax-size-overrides-header": archive(pax((b"size", b"5")), member(header(size=0), b"hello")),
    "pax-path-and-times": archive(pax((b"path", "run1/ü.tif".encode()), (b"mtime", b"1700000000.5"),
                                      (b"atime", b"1700000000.25"), (b"ctime", b"1700000000")),
                                  member(header(b"run1/PaxHeaders/x", size=5), b"hello")),
    "gnu-long-name": archive(long_name(b"run1/" + b"n" * 200 + b"/" + b"m" * 100), member(header(b"run1/nnn", size=5, magic=GNU),
                                                                     b"hello")),
    "base-256-size": archive(member(header(size_field=b"\x80" + bytes(10) + b"\x05"), b"hello")),
    "dot-slash-root": archive(member(header(b"./", b"5", magic=GNU)), member(header(b"./run1/", b"5", magic=GNU)),
                              member(header(b"./run1/a.tif", size=5, magic=GNU), b"hello")),
}


def gnu_tar_archives(tmp_path):
    if shutil.which("tar") is None:
        pytest.skip("GNU tar is not installed")
    tree = tmp_path / "tree"
    for name, data in ORDINARY_TREE:
        path = tree / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    made = {}
    for label, options in (("gnu", []), ("posix", ["--format=posix"]), ("dot", [])):
        target = tmp_path / (label + ".tar")
        what = ["."] if label == "dot" else ["run1"]
        subprocess.run(["tar"] + options + ["-C", str(tree), "-cf", str(target)] + what, check=True)
        made[label] = target.read_bytes()
    return made


HOSTILE = {
    # Confirmed disagreements between Python's tarfile and libarchive 3.6.
    # tarfile: the last of the two wins (run1/a.tif); libarchive: GNU.sparse.name always wins.
    "pax-gnu-sparse-name-beats-path": archive(pax((b"GNU.sparse.name", EVIL), (b"path", b"run1/a.tif")),
                                              member(header(size=5), b"hello")),
    "pax-global-header": archive(pax((b"path", EVIL), typeflag=b"g"), FILE),
    "pax-empty-path": archive(pax((b"path", b"")), member(header(EVIL, size=5), b"hello")),
    "pax-path-with-nul": archive(pax((b"path", b"run1/a.tif\x00" + EVIL)), member(header(size=5), b"hello")),
    "pax-duplicate-path": archive(pax((b"path", b"run1/a.tif"), (b"path", EVIL)), member(header(size=5), b"hello")),
    "pax-hdrcharset": archive(pax((b"hdrcharset", b"BINARY"), (b"path", b"run1/\xff.tif")),
                              member(header(size=5), b"hello")),
    "pax-schily-xattr": archive(pax((b"SCHILY.xattr.user.x", b"1")), FILE),
    "pax-libarchive-key": archive(pax((b"LIBARCHIVE.symlinktype", b"dir")), FILE),
    "pax-linkpath": archive(pax((b"linkpath", EVIL)), FILE),
    "pax-gnu-sparse-map": archive(pax((b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"),
                                      (b"GNU.sparse.name", b"run1/a.tif"), (b"GNU.sparse.realsize", b"5")),
                                  member(header(b"run1/GNUSparseFile.0/a.tif", size=512), bytes(512))),
    "pax-size-on-folder": archive(pax((b"size", b"512")), member(header(b"run1/", b"5"), FILE[:512]),
                                  member(header(EVIL, size=5), b"hello")),
    "pax-bad-record-length": archive(pax(body=b"99 path=run1/a.tif\n"), FILE),
    "pax-leading-zero-length": archive(pax(body=b"019 path=run1/b.tif\n"), FILE),
    "pax-junk-after-records": archive(pax(body=pax_records((b"path", b"run1/b.tif")) + b"junk"), FILE),
    "pax-then-long-name": archive(pax((b"path", b"run1/a.tif")), long_name(EVIL),
                                  member(header(size=5, magic=GNU), b"hello")),
    "long-name-then-pax": archive(long_name(b"run1/a.tif"), pax((b"path", EVIL)), member(header(size=5), b"hello")),
    "two-long-names": archive(long_name(b"run1/a.tif"), long_name(EVIL), member(header(size=5, magic=GNU), b"hello")),
    "gnu-long-link": archive(long_name(EVIL, typeflag=b"K"), FILE),
    "long-name-with-nul": archive(member(header(b"././@LongLink", b"L", 30, magic=GNU), b"run1/a.tif\x00" + EVIL[:18] + b"\x00"),
                                  member(header(size=5, magic=GNU), b"hello")),
    "solaris-pax-X": archive(pax((b"path", EVIL), typeflag=b"X"), FILE),
    # The ustar prefix field: libarchive ignores it under the GNU magic, tarfile does not.
    "prefix-under-gnu-magic": archive(member(header(b"a.tif", size=5, magic=GNU, prefix=b"../../../etc"), b"hello")),
    "gnu-realsize": archive(member(header(size=5, magic=GNU, patch={483: b"00000000777\x00"}), b"hello")),
    "gnu-old-sparse": archive(member(header(size=5, magic=GNU, typeflag=b"S", patch={386: b"00000000000\x00"}), b"hello")),
    "v7-no-magic": archive(member(header(size=5, magic=bytes(8)), b"hello")),
    "posix-magic-gnu-version": archive(member(header(size=5, magic=b"ustar\x00 \x00"), b"hello")),
    # Types libarchive extracts that are not plain files and folders.
    **{"typeflag-%s" % name: archive(member(header(size=5 if flag in b"07MN" else 0, typeflag=flag,
                                                   linkname=b"/etc" if flag in b"12" else b""),
                                            b"hello" if flag in b"07MN" else b""))
       for name, flag in (("nul", b"\x00"), ("hardlink", b"1"), ("symlink", b"2"), ("char", b"3"),
                          ("block", b"4"), ("fifo", b"6"), ("contiguous", b"7"), ("volume", b"V"),
                          ("multivolume", b"M"), ("incremental", b"D"), ("old-long-name", b"N"),
                          ("solaris-acl", b"A"), ("unknown", b"Z"))},
    "symlink-then-write-through-it": archive(member(header(b"run1/link", b"2", linkname=b"/etc/irods")),
                                             member(header(b"run1/link/core.py", size=5), b"hello")),
    "file-with-trailing-slash": archive(member(header(b"run1/a.tif/", size=0)), FILE),
    "folder-with-data": archive(member(header(b"run1/", b"5", size=512), FILE[:512]), member(header(EVIL), b"")),
    "appledouble-member": archive(member(header(b"run1/._a.tif", size=5), b"hello"), FILE),
    "bytes-after-name-nul": archive(member(header(b"run1/a.tif\x00" + EVIL, size=5), b"hello")),
    "octal-leading-nul": archive(member(header(size_field=b"\x0000000000005", size=5), b"hello"),
                                 member(header(b"run1/b.tif", size=0), b"")),
    "octal-garbage-after-nul": archive(member(header(patch={100: b"0000644\x00"[:4] + b"\x009x\x00"}), b"")),
    "base-256-negative-size": archive(member(header(size_field=b"\xff" * 12), b"")),
    "base-256-huge-size": archive(member(header(size_field=b"\x80" + b"\x01" + bytes(10)), b"")),
    "bad-checksum-first": archive(member(header(size=5, checksum=b"000000\x00 "), b"hello")),
    "bad-checksum-later": archive(FILE, member(header(b"run1/b.tif", size=5, checksum=b"000000\x00 "), b"hello")),
    "signed-checksum-only": archive(member(header("run1/ä.tif".encode(), size=5, checksum=b"%06o\x00 " % (
        sum(b - 256 if b > 127 else b for b in header("run1/ä.tif".encode(), size=5, checksum=b" " * 8)))), b"hello")),
    "truncated-data": archive(FILE[:600], end=b""),
    "truncated-header": archive(FILE, FILE[:300], end=b""),
    "no-end-marker": archive(FILE, end=b""),
    "one-zero-block-only": FILE + bytes(512),
    "trailing-data": archive(FILE, trailing=member(header(EVIL, size=5), b"hello")),
    "data-after-first-zero-block": FILE + bytes(512) + member(header(EVIL, size=5), b"hello") + bytes(1024),
    "bzip2-signature-name": archive(member(header(b"BZh91AY&SY.tif", size=5), b"hello")),
    # A zstd skippable frame (filter_zstd.c) as the first pax header's own name.
    "zstd-skippable-frame-name": archive(member(header(b"\x50\x2a\x4d\x18\x08", b"x", 20),
                                                pax_records((b"path", b"run1/a.tif"))), member(header(size=5), b"hello")),
    "dot-dot": archive(member(header(EVIL, size=5), b"hello")),
    "absolute": archive(member(header(b"/etc/irods/core.py", size=5), b"hello")),
    "empty": b"",
    "zeros": bytes(10240),
}


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_ordinary_archives_are_accepted_and_read_as_libarchive_reads_them(name):
    members = assert_refused_or_identical(ORDINARY[name])
    assert not isinstance(members, Rejected), members
    assert members


def test_gnu_tar_archives_are_accepted_and_read_as_libarchive_reads_them(tmp_path):
    for label, raw in gnu_tar_archives(tmp_path).items():
        members = assert_refused_or_identical(raw)
        assert not isinstance(members, Rejected), (label, members)
        assert {m.path for m in members} >= {"run1/a.tif", "run1/ünïcødé/çødé.ome.tiff"}


#: Why some hostile archives must be refused (the others: any reason will do).
REASONS = {
    "pax-gnu-sparse-name-beats-path": ("unsafe_member", "GNU.sparse.name"),
    "pax-global-header": ("unsafe_member", "global pax header"),
    "pax-empty-path": ("unsafe_member", "empty or malformed 'path'"),
    "pax-path-with-nul": ("unsafe_member", "empty or malformed 'path'"),
    "pax-duplicate-path": ("unsafe_member", "'path' twice"),
    "two-long-names": ("unsafe_member", "another extended header"),
    "pax-size-on-folder": ("unsafe_member", "folders carry no data"),
    "prefix-under-gnu-magic": ("unsafe_member", "GNU header"),
    "appledouble-member": ("unsafe_member", "AppleDouble"),
    "symlink-then-write-through-it": ("unsafe_member", "symbolic link"),
    "typeflag-contiguous": ("unsafe_member", "type '7'"),
    "typeflag-nul": ("unsafe_member", "type '\\x00'"),
    "bad-checksum-later": ("unsafe_member", "bad checksum"),
    "signed-checksum-only": ("not_a_tar", "tar header"),
    "trailing-data": ("unsafe_member", "follows the end-of-archive marker"),
    "bzip2-signature-name": ("unsafe_member", "compressed data"),
    "zstd-skippable-frame-name": ("unsafe_member", "compressed data"),
    "truncated-data": ("not_a_tar", ""),
    "dot-dot": ("unsafe_member", "'..'"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_archives_are_refused(name):
    outcome = assert_refused_or_identical(HOSTILE[name])
    assert isinstance(outcome, Rejected), "accepted: %r" % (outcome,)
    if name in REASONS:
        reason, words = REASONS[name]
        assert outcome.reason == reason and words in outcome.message, outcome


def test_the_confirmed_disagreement_is_real_in_this_libarchive():
    """Guards the corpus: the system libarchive reads GNU.sparse.name over path; tarfile not."""
    raw = HOSTILE["pax-gnu-sparse-name-beats-path"]
    members, _ = libarchive_reading(raw)
    assert members and members[0].path == EVIL.decode()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert tar.getnames() == ["run1/a.tif"]


def _fuzz_seeds():
    return [ORDINARY["python-pax"], ORDINARY["python-gnu"], ORDINARY["push-client"],
            ORDINARY["pax-path-and-times"], ORDINARY["gnu-long-name"], ORDINARY["ustar-prefix"]]


def _header_offsets(raw):
    """Offsets of header blocks and extended-header bodies: where a flipped byte changes
    how a reader walks the archive."""
    offsets, position = [], 0
    while position + 512 <= len(raw) and raw[position:position + 512] != bytes(512):
        block = raw[position:position + 512]
        size = int(block[124:136].strip(b" \x00") or b"0", 8)
        offsets.extend(range(position, position + 512))
        if block[156:157] in (b"x", b"L", b"g"):
            offsets.extend(range(position + 512, position + 512 + size))
        position += 512 + (-(-size // 512) * 512 if block[156:157] != b"5" else 0)
    return offsets


def _fixed_checksums(raw):
    raw, position = bytearray(raw), 0
    while position + 512 <= len(raw) and raw[position:position + 512] != bytes(512):
        block = raw[position:position + 512]
        block[148:156] = b" " * 8
        raw[position + 148:position + 156] = b"%06o\x00 " % sum(block)
        try:  # sizes may be garbage after a mutation: stop where unreadable
            size = int(bytes(block[124:136]).strip(b" \x00") or b"0", 8)
        except ValueError:
            break
        position += 512 + (-(-size // 512) * 512 if block[156:157] != b"5" else 0)
    return bytes(raw)


INTERESTING_BYTES = b"\x00 /.0157xLgK5\x80\xff=\n" + b"../"


def test_mutated_archives_are_refused_or_read_identically():
    generator = random.Random(int(os.environ.get("ARCHIVE_FUZZ_SEED", "20261202")))
    seeds = _fuzz_seeds()
    accepted = 0
    for round_number in range(int(os.environ.get("ARCHIVE_FUZZ_ROUNDS", "400"))):
        raw = bytearray(generator.choice(seeds))
        offsets = _header_offsets(bytes(raw))
        for _ in range(generator.randint(1, 3)):
            offset = generator.choice(offsets)
            raw[offset] = generator.choice(INTERESTING_BYTES) if generator.random() < 0.7 else generator.randrange(256)
        mutant = _fixed_checksums(raw) if generator.random() < 0.8 else bytes(raw)
        try:
            outcome = assert_refused_or_identical(mutant)
        except AssertionError as error:
            raise AssertionError("mutant %d disagrees: %s\n%r" % (round_number, error, mutant[:2048])) from None
        accepted += not isinstance(outcome, Rejected)
    assert accepted > 20  # the fuzz must also exercise accepted archives, not only refusals
