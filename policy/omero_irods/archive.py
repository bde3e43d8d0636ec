"""Check a tar archive's members, reading it exactly as the server's libarchive will.

`msiTarFileExtract` (what `ibun -x` runs) unpacks through the tar structured-file plugin
(irods/irods plugins/resources/src/structfile.cpp, `extract_file`): libarchive with every
filter and format enabled (`archive_read_support_filter_all/format_all`), each member name
prefixed with the cache directory `<tar's vault path>.dir/` (server/api/src/
rsStructFileBundle.cpp createPhyBundleDir), then `archive_read_extract` with only
ARCHIVE_EXTRACT_TIME -- no SECURE_NODOTDOT / SECURE_SYMLINKS -- as the iRODS OS user. Whatever
libarchive reads as `../../etc/irods/core.py` is written there. So membership and names are
decided here by a reader of our own that accepts only what it reads *exactly* as libarchive
3.6 does (libarchive/libarchive libarchive/archive_read_support_format_tar.c, cited as
"libarchive tar.c" below) and refuses everything else. The allow-list:

- 512-byte headers with the POSIX (`ustar\\0` `00`) or GNU (`ustar ` ` \\0`) magic and a
  correct unsigned checksum; numeric fields in plain octal (base-256 only in the form GNU tar
  and Python write for large values); text fields NUL-padded; no link name; for GNU magic the
  GNU-only tail (atime, ctime, sparse map, realsize: header_gnutar) all zero.
- member types '0' (file) and '5' (folder, size 0), each optionally preceded by ONE pax 'x'
  header with the keys path, size, mtime, atime, ctime, uid, gid, uname, gname (each once, not
  empty, strictly formatted) or ONE GNU 'L' long name. Everything else -- 'g', 'K', 'V', 'M',
  'S', 'X', 'A', '\\0', '7', ..., GNU.sparse.*, SCHILY.*, LIBARCHIVE.*, hdrcharset, linkpath,
  links, devices, fifos -- is `unsafe_member` with its reason.
- no first header that one of libarchive's decompression filters would claim instead of the
  tar reader, no AppleDouble `._` member (libarchive folds it into the next member:
  read_mac_metadata_blob), and only zero bytes after the end-of-archive marker.

Then the policy's own rules: no absolute path, '..' or '.' component, '//', control
characters (python-irodsclient cannot carry them: irods/python-irodsclient pull #172, #311),
non-UTF-8 names, duplicates, a path used both as a file and as a folder; and the limits.

`list_members` streams: it reads the archive in large sequential blocks, keeps its position
itself (never `tell()`), and seeks (SEEK_SET) only over member data beyond what it holds. On
the server every read and seek is a microservice round trip (msiDataObjRead/Lseek), so the
calls stay O(archive bytes / READ_SIZE + large members), never O(members). It returns the
plain files and folders or raises Rejected:

- `not_a_tar`: not a tar, empty, truncated (also a missing end-of-archive marker);
- `unsafe_member`: anything outside the allow-list above, or a path the policy refuses;
- `limit`: member count, member size, total expanded size, path length, name length.
"""

import re
from codecs import getincrementaldecoder
from collections import namedtuple
from zlib import adler32

from omero_irods.errors import Rejected
from omero_irods.manifest import unsafe_path_problem

#: A member the archive may contain: `type` is 'file' or 'dir'; `size` is 0 for directories.
Member = namedtuple("Member", "path size type")

#: Limits a tar must respect (config.py fills them from the policy config's `limits`).
ArchiveLimits = namedtuple(
    "ArchiveLimits", "max_members max_member_bytes max_expanded_bytes max_path_length max_name_length"
)

#: Pax records and GNU long names for paths within the limits fit easily in this
#: (libarchive itself refuses more than 1 MiB: read_body_to_string).
MAX_EXTENDED_HEADER_BYTES = 16 * 1024

#: Bytes asked of the reader per read(): one msiDataObjRead round trip on the server.
READ_SIZE = 1 << 20

#: The first read after a seek over at least READ_SIZE of member data, doubled on every
#: following read up to READ_SIZE. After a large member the next header is usually followed
#: by another large member's data, which a full READ_SIZE read would fetch only to seek over
#: it (1 MiB per large member: 0.06 extra bytes read per archive byte for 16 MiB members).
#: The doubling keeps runs of small members at a read per READ_SIZE.
READ_SIZE_AFTER_SEEK = 16 * 1024

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_POSIX_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
_FILE, _DIRECTORY, _PAX, _LONG_NAME = b"0", b"5", b"x", b"L"

#: Header fields (offset, length) per POSIX ustar / libarchive tar.c archive_entry_header_ustar.
_NAME = (0, 100)
_NUMBERS = {"mode": (100, 8), "uid": (108, 8), "gid": (116, 8), "mtime": (136, 12),
            "devmajor": (329, 8), "devminor": (337, 8)}
_SIZE = (124, 12)
_CHECKSUM = (148, 8)
_TYPEFLAG = 156
_LINKNAME = (157, 100)
_OWNER_NAMES = ((265, 32), (297, 32))
_PREFIX = (345, 155)
_GNU_TAIL = (345, 167)  # atime ctime offset longnames unused sparse isextended realsize pad
_POSIX_PAD = (500, 12)

_OCTAL_FIELD = re.compile(rb" *([0-7]*)[ \x00]*\Z")
#: What libarchive tar.c checksum() accepts in the checksum field, reduced to one spelling:
#: optional spaces, octal digits, then spaces or NULs.
_CHECKSUM_FIELD = re.compile(rb" *([0-7]{1,8})[ \x00]*\Z")

#: Pax keys whose meaning libarchive and this reader share exactly, and each value's form.
#: libarchive tar.c pax_attribute: 'size' sets the data length, 'path' the name; times and
#: owners only touch metadata (pax_time, tar_atol10). Values are strcpy'd there, so a NUL
#: would cut them: refused by these patterns, as are empty values.
_DECIMAL = re.compile(rb"[0-9]{1,18}\Z")
_TIME = re.compile(rb"[0-9]{1,18}(\.[0-9]{1,9})?\Z")
_OWNER = re.compile(rb"[\x21-\x7e]{1,64}\Z")
_PAX_KEYS = {b"path": None, b"size": _DECIMAL, b"mtime": _TIME, b"atime": _TIME, b"ctime": _TIME,
             b"uid": _DECIMAL, b"gid": _DECIMAL, b"uname": _OWNER, b"gname": _OWNER}
_PAX_RECORD = re.compile(rb"([1-9][0-9]{0,5}) ([A-Za-z][A-Za-z0-9._]*)=")

#: A libarchive decompression filter that bids on the first bytes wins over every format reader
#: (archive_read.c choose_filters), and then what it decompresses is what gets extracted. The
#: first header's name must therefore be printable and start as UTF-8 (no binary magic: gzip, compress, xz,
#: lzop, lz4, zstd and its skippable frames, rpm -- archive_read_support_filter_*.c) and must
#: not start with a printable one (bzip2, lzip, lrzip, grzip). uudecode (filter_uu.c) needs a
#: NUL-free first line and lzma (filter_xz.c lzma_bidder_bid) a dictionary size in bytes 1-4,
#: which the NUL padding of text fields and the empty link name required below rule out.
_DECOMPRESSOR_SIGNATURES = (b"BZh", b"LZIP", b"LRZI", b"GRZipII")
_PRINTABLE_NAME = re.compile(rb"[^\x00-\x1f\x7f]+\x00*\Z")


class _Refused(Exception):
    """A header outside the allow-list; becomes Rejected('unsafe_member')."""


class _Truncated(Exception):
    """The archive ends early; becomes Rejected('not_a_tar')."""


def list_members(fileobj, limits, what="archive"):
    """Walk the tar in binary `fileobj` (seekable or not); return [Member] in archive order.

    `what` names the archive in error messages (e.g. 'run1.tar'). Raises Rejected for a bad
    archive; errors raised by `fileobj` itself pass through for the caller to retry.
    """
    stream = _Stream(fileobj)
    walk = _Walk(limits, what)
    try:
        _read_headers(stream, walk)
    except _Truncated as error:
        raise Rejected("not_a_tar", "%s is not a complete tar archive: %s" % (what, error))
    except _Refused as error:
        raise Rejected("unsafe_member", "%s: %s" % (what, error))
    if not walk.members:
        raise Rejected("not_a_tar", "%s holds no files" % what)
    return walk.finish()


# ---------------------------------------------------------------- reading the stream


class _Stream:
    """Sequential reads of READ_SIZE, a locally kept position, seeks only past the buffer.

    Round trips stay O(archive bytes / READ_SIZE): a seek happens only over member data
    beyond the buffer, and the shorter reads after a seek (READ_SIZE_AFTER_SEEK, doubling)
    follow only seeks over at least READ_SIZE bytes.
    """

    __slots__ = ("_fileobj", "_seekable", "_buffer", "_start", "_read_size", "position")

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._seekable = _seekable(fileobj)
        self._buffer = b""
        self._start = 0  # archive offset of _buffer[0]
        self._read_size = READ_SIZE
        self.position = 0

    def take(self, size):
        """The next `size` bytes (fewer only at the end of the archive)."""
        offset = self.position - self._start
        if offset + size > len(self._buffer):
            self._fill(size)
            offset = 0
        data = self._buffer[offset:offset + size]
        self.position += len(data)
        return data

    def _fill(self, size):
        pieces = [self._buffer[self.position - self._start:]]
        missing = size - len(pieces[0])
        while missing > 0:
            data = self._fileobj.read(max(self._read_size, missing))
            self._read_size = min(2 * self._read_size, READ_SIZE)
            if not data:
                break
            pieces.append(data)
            missing -= len(data)
        self._buffer = b"".join(pieces)
        self._start = self.position

    def skip(self, size):
        target = self.position + size
        buffered_end = self._start + len(self._buffer)
        if target <= buffered_end:
            self.position = target
            return
        self._buffer, self._start = b"", target
        if self._seekable:
            self._fileobj.seek(target)
            if target - buffered_end >= READ_SIZE:
                self._read_size = READ_SIZE_AFTER_SEEK
        else:
            self._read_through(target - buffered_end)
        self.position = target

    def _read_through(self, size):
        while size > 0:
            data = self._fileobj.read(min(READ_SIZE, size))
            if not data:
                raise _Truncated("member data ends early")
            size -= len(data)

    def rest_is_zero(self):
        """True if every byte after the position is zero (reads to the end)."""
        if self._buffer[self.position - self._start:].count(0) != len(self._buffer) - (self.position - self._start):
            return False
        while True:
            data = self._fileobj.read(READ_SIZE)
            if not data:
                return True
            if data.count(0) != len(data):
                return False


def _seekable(fileobj):
    try:
        return bool(fileobj.seekable())
    except AttributeError:
        return hasattr(fileobj, "seek")


# ---------------------------------------------------------------- headers


def _read_headers(stream, walk):
    block = stream.take(BLOCK)
    _check_first_block(block)
    take, skip, add_file = stream.take, stream.skip, walk.add_file
    while block is not None:
        # Fast path: a plain file or folder header as GNU tar, tarfile and the push client write
        # it (canonical numbers, no link, ustar magic, no owner names, unused tail zero).
        common = _COMMON_MEMBER.match(block, 100)
        if (common is not None and block.count(0, 265, 512) == 247
                and int(common.group(2), 8) == _unsigned_sum(block)):
            end = block.find(0, 0, 100)
            if end > 0 and block.count(0, end, 100) == 100 - end:
                size = int(common.group(1), 8)
                if common.group(3) == _FILE:
                    add_file(block[:end], size)
                    if size:
                        skip((size + BLOCK - 1) & ~(BLOCK - 1))
                    block = take(BLOCK)
                    continue
                if not size:
                    walk.add_directory(block[:end])
                    block = take(BLOCK)
                    continue
        block = _read_member(stream, walk, block)


def _read_member(stream, walk, block):
    """Any member the fast path did not take; the next header block, or None at the end."""
    if len(block) < BLOCK:
        raise _Truncated("it lacks the end-of-archive marker" if not block else "a header is cut short")
    if block == _ZERO_BLOCK:
        _read_end_marker(stream)
        return None
    typeflag, size = _check_header(block)
    name = None
    if typeflag == _PAX:
        # pax records override the next header's fields (header_pax_extensions).
        records = _read_pax(stream, block, size)
        block, typeflag, size = _next_member_header(stream, "a pax header")
        name = records.get(b"path")
        if b"size" in records:
            size = int(records[b"size"])
    elif typeflag == _LONG_NAME:
        # header_longname: the long name overrides the next header's name.
        name = _read_long_name(stream, block, size)
        block, typeflag, size = _next_member_header(stream, "a GNU long name")
    if name is None:
        name = _header_name(block)
    if typeflag != _FILE and typeflag != _DIRECTORY:
        raise _Refused("member %r has type %s; only files ('0') and folders ('5') are accepted%s"
                       % (_shown_bytes(name), _typeflag_text(typeflag), _TYPE_HINTS.get(typeflag, "")))
    if block.count(0, 157, 257) != 100:
        raise _Refused("member %r names a link target" % _shown_bytes(name))
    if typeflag == _FILE:
        walk.add_file(name, size)
        stream.skip((size + BLOCK - 1) & ~(BLOCK - 1))
    elif size:
        # libarchive tar.c header_common reads no data for '5'; tarfile neither.
        raise _Refused("folder %r has a size of %d; folders carry no data" % (_shown_bytes(name), size))
    else:
        walk.add_directory(name)
    return stream.take(BLOCK)


_TYPE_HINTS = {
    b"1": " (a hard link)", b"2": " (a symbolic link)", b"3": " (a device)", b"4": " (a device)",
    b"6": " (a fifo)", b"7": " (contiguous file)", b"\x00": " (old-style file)",
    b"g": " (a global pax header)", b"K": " (a GNU long link name)", b"S": " (a GNU sparse file)",
    b"V": " (a volume header)", b"M": " (a multi-volume continuation)", b"X": " (a Solaris pax header)",
    b"A": " (a Solaris ACL)", b"D": " (a GNU incremental folder)", b"N": " (an old GNU long name)",
}


def _typeflag_text(typeflag):
    return repr(typeflag.decode("latin-1"))


def _next_member_header(stream, after):
    block = stream.take(BLOCK)
    if len(block) < BLOCK:
        raise _Truncated("the archive ends after %s" % after)
    if block == _ZERO_BLOCK:
        raise _Refused("%s is followed by the end-of-archive marker" % after)
    typeflag, size = _check_header(block)
    if typeflag == _PAX or typeflag == _LONG_NAME:
        raise _Refused("%s is followed by another extended header (%s); one is accepted"
                       % (after, _typeflag_text(typeflag)))
    return block, typeflag, size


def _check_first_block(block):
    """The first header decides what libarchive reads the stream as (archive_read.c: the
    tar reader's bid needs a valid checksum; the magic is required here)."""
    if len(block) < BLOCK or block == _ZERO_BLOCK or block[257:265] not in (_POSIX_MAGIC, _GNU_MAGIC):
        raise _Truncated("it does not start with a tar header")
    match = _CHECKSUM_FIELD.match(block, _CHECKSUM[0], _CHECKSUM[0] + _CHECKSUM[1])
    if not match or int(match.group(1), 8) != _unsigned_sum(block):
        raise _Truncated("it does not start with a tar header")
    name_is_text = _PRINTABLE_NAME.match(block, 0, 100)
    try:
        # The filters look at the first 14 bytes at most; GNU tar may cut a long UTF-8 name
        # of its own pax header further on.
        getincrementaldecoder("utf-8")().decode(block[:16], final=False)
    except UnicodeDecodeError:
        name_is_text = None
    if not name_is_text:
        raise _Refused("the first header's name %r contains a control character or is not UTF-8; "
                       "libarchive might take the archive for compressed data" % block[:100].rstrip(b"\x00")[:60])
    for signature in _DECOMPRESSOR_SIGNATURES:
        if block.startswith(signature):
            raise _Refused("the archive starts like compressed data (%r); libarchive would "
                           "decompress it instead of reading it as a tar" % signature)


#: The spelling GNU tar, Python's tarfile and the push client give mode, uid, gid, size, mtime
#: (zero-padded octal, NUL-terminated) and the checksum ("%06o\0 "): one match checks them all.
_COMMON_NUMBERS = re.compile(rb"[0-7]{7}\x00[0-7]{7}\x00[0-7]{7}\x00([0-7]{11})\x00[0-7]{11}\x00([0-7]{6})\x00 ")
#: The same, then a file or folder type, no link name and a ustar magic (offsets 100-265).
_COMMON_MEMBER = re.compile(_COMMON_NUMBERS.pattern + rb"([05])\x00{100}(?:ustar\x0000|ustar  \x00)")


def _check_header(block):
    """(typeflag, size field) of a header that libarchive reads as this module does."""
    common = _COMMON_NUMBERS.match(block, 100)
    if common:
        size, checksum = int(common.group(1), 8), int(common.group(2), 8)
    else:
        size, checksum = _number(block, _SIZE, "size"), _checksum_field(block)
        for name, field in _NUMBERS.items():
            _number(block, field, name)
    if checksum != _unsigned_sum(block):
        raise _Refused("the header of %r has a bad checksum" % _header_label(block))
    magic = block[257:265]
    if magic != _POSIX_MAGIC and magic != _GNU_MAGIC:
        raise _Refused("the header of %r is neither POSIX ustar nor GNU tar (magic %r)"
                       % (_header_label(block), magic))
    if block.count(0, 329, 512) != 183:  # device numbers, prefix or GNU tail in use
        _check_tail(block, magic)
    if block.count(0, 265, 329) != 64:  # owner names
        for field in _OWNER_NAMES:
            _text_field(block, field)
    return block[_TYPEFLAG:_TYPEFLAG + 1], size


def _check_tail(block, magic):
    for name in ("devmajor", "devminor"):
        _number(block, _NUMBERS[name], name)
    if magic == _GNU_MAGIC:
        # header_gnutar: this area holds atime, ctime, a sparse map and a real size that
        # change what libarchive reads; GNU tar leaves it zero for ordinary members.
        if _nonzero(block, _GNU_TAIL):
            raise _Refused("the GNU header of %r uses sparse, incremental or real-size fields"
                           % _header_label(block))
    elif _nonzero(block, _POSIX_PAD):
        raise _Refused("the header of %r has data in its unused tail" % _header_label(block))
    else:
        _text_field(block, _PREFIX)


def _unsigned_sum(block):
    """libarchive tar.c checksum(): the unsigned byte sum, the checksum field counted as
    spaces (the signed variant it also accepts is refused). Adler-32's low half is 1 + the
    byte sum, exact for 256 bytes (at most 65280 < 65521)."""
    return ((adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2
            - sum(block[148:156]) + 256)


def _checksum_field(block):
    match = _CHECKSUM_FIELD.match(block, _CHECKSUM[0], _CHECKSUM[0] + _CHECKSUM[1])
    if not match:
        raise _Refused("a header's checksum field is not an octal number")
    return int(match.group(1), 8)


def _nonzero(block, field):
    start, length = field
    return block.count(0, start, start + length) != length


def _text_field(block, field):
    """A NUL-terminated, NUL-padded text field (what libarchive's archive_strncpy reads)."""
    start, length = field
    end = block.find(0, start, start + length)
    if end < 0:
        return block[start:start + length]
    if block.count(0, end, start + length) != start + length - end:
        raise _Refused("a header field holds bytes after its terminating NUL")
    return block[start:end]


def _number(block, field, name):
    """An octal field, or base-256 in the 0x80 form GNU tar and Python write for big values.

    libarchive tar.c tar_atol: base-256 when the first byte has its high bit set, else
    octal digits after leading blanks up to the first other byte. Accepted here: only
    blanks, digits, then blanks or NULs -- one spelling both readers value alike."""
    start, length = field
    if block[start] & 0x80:
        # tar_atol256 with the 0x80 marker: a positive big-endian number in the last 8 bytes.
        if block[start] != 0x80 or block.count(0, start + 1, start + length - 8) != length - 9 or block[start + length - 8] & 0x80:
            raise _Refused("header field %s uses a base-256 form that is not accepted" % name)
        return int.from_bytes(block[start + length - 8:start + length], "big")
    match = _OCTAL_FIELD.match(block, start, start + length)
    if not match:
        raise _Refused("header field %s is not an octal number: %r" % (name, block[start:start + length]))
    digits = match.group(1)
    return int(digits, 8) if digits else 0


def _header_name(block):
    # header_ustar: prefix + '/' (unless it ends with one) + name; GNU magic has no prefix
    # (its tail was checked to be zero).
    name = _text_field(block, _NAME)
    if block[_PREFIX[0]] and block[257:265] == _POSIX_MAGIC:
        prefix = _text_field(block, _PREFIX)
        return prefix + (b"" if prefix.endswith(b"/") else b"/") + name
    return name


def _extended_body(stream, block, size, kind):
    if _nonzero(block, _LINKNAME):
        raise _Refused("a %s header names a link target" % kind)
    if size > MAX_EXTENDED_HEADER_BYTES:
        raise _Refused("the archive has an extended (%s) header of %d bytes; at most %d are accepted"
                       % (kind, size, MAX_EXTENDED_HEADER_BYTES))
    if size == 0:
        raise _Refused("the archive has an empty %s header" % kind)
    padded = (size + BLOCK - 1) & ~(BLOCK - 1)
    data = stream.take(padded)
    if len(data) < padded:
        raise _Truncated("a %s header is cut short" % kind)
    return data[:size]


def _read_pax(stream, block, size):
    """The records of one pax 'x' header as {key: value}; refuses anything not allowed."""
    body = _extended_body(stream, block, size, "pax")
    records, offset = {}, 0
    while offset < len(body):
        match = _PAX_RECORD.match(body, offset)
        if not match:
            raise _Refused("a pax header has a malformed record at byte %d" % offset)
        end = offset + int(match.group(1))
        key = match.group(2)
        if end > len(body) or body[end - 1] != 0x0A:
            raise _Refused("a pax record's length does not match its text (%r)" % key)
        value = body[match.end():end - 1]
        if key not in _PAX_KEYS:
            raise _Refused("a pax header uses the key %r, which is not accepted" % key.decode("ascii"))
        if key in records:
            raise _Refused("a pax header sets %r twice" % key.decode("ascii"))
        pattern = _PAX_KEYS[key]
        if not value or (pattern is not None and not pattern.match(value)) or b"\x00" in value:
            raise _Refused("a pax header has an empty or malformed %r value" % key.decode("ascii"))
        records[key] = value
        offset = end
    return records


def _read_long_name(stream, block, size):
    # header_longname: the body up to its first NUL replaces the next header's name.
    body = _extended_body(stream, block, size, "GNU long name")
    if body[-1] != 0 or 0 in body[:-1]:
        raise _Refused("a GNU long name is not one NUL-terminated name")
    return body[:-1]


def _read_end_marker(stream):
    # tar_read_header stops at the first zero block and consumes a second one if present;
    # a complete archive has both, and nothing but zero padding after them.
    second = stream.take(BLOCK)
    if second != _ZERO_BLOCK:
        if len(second) < BLOCK and not second.strip(b"\x00"):
            raise _Truncated("it lacks the end-of-archive marker")
        raise _Refused("data follows the first end-of-archive block")
    if not stream.rest_is_zero():
        raise _Refused("data follows the end-of-archive marker")


def _header_label(block):
    return _shown_bytes(block[:100].split(b"\x00", 1)[0])


def _shown_bytes(name):
    return _shown(name.decode("utf-8", "replace"))


def _shown(path):
    return path if len(path) <= 200 else path[:100] + "..." + path[-50:]


# ---------------------------------------------------------------- members


#: Control characters (as manifest.unsafe_path_problem refuses them).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


class _Walk:
    """The members found so far and the policy's checks on them."""

    def __init__(self, limits, what):
        self.limits, self.what = limits, what
        self.members = []
        self.seen = set()
        self.folders_used = {}
        self.expanded = 0
        # Names no longer than this cannot break the length limits (UTF-8: <= 4 bytes a character).
        self.short_name = min(limits.max_path_length, limits.max_name_length // 4)

    def add_file(self, raw_name, size):
        self._add(self._path(raw_name, folder=False), size, "file")

    def add_directory(self, raw_name):
        path = self._path(raw_name, folder=True)
        if path is not None:
            self._add(path, 0, "dir")

    def _add(self, path, size, kind):
        limits, what = self.limits, self.what
        if size > limits.max_member_bytes:
            raise Rejected("limit", "%s: member %r is %d bytes; the limit is %d"
                           % (what, _shown(path), size, limits.max_member_bytes))
        self.expanded += size
        if self.expanded > limits.max_expanded_bytes:
            raise Rejected("limit", "%s expands to more than %d bytes" % (what, limits.max_expanded_bytes))
        members = self.members
        if len(members) >= limits.max_members:
            raise Rejected("limit", "%s has more than %d members" % (what, limits.max_members))
        seen = self.seen
        if path in seen:
            raise Rejected("unsafe_member", "%s holds %r twice" % (what, _shown(path)))
        seen.add(path)
        folders_used = self.folders_used
        slash = path.rfind("/")
        while slash > 0:
            parent = path[:slash]
            if parent in folders_used:
                break
            folders_used[parent] = path
            slash = parent.rfind("/")
        members.append(Member(path, size, kind))

    def _path(self, raw_name, folder):
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("unsafe_member", "%s: member name %r is not valid UTF-8" % (self.what, raw_name[:200]))
        if folder or name[:1] == ".":
            # `tar -C dir -cf x.tar .` writes './a'; the extracted file is 'a'.
            while name.startswith("./"):
                name = name[2:]
            if folder:
                if name in ("", "."):  # the archive's own root
                    return None
                if name.endswith("/"):
                    name = name[:-1]
        if (not name or name[0] == "." or name[0] == "/" or name[-1] == "/" or "/." in name
                or "//" in name or len(name) > self.short_name or _CONTROL_CHARACTER.search(name)):
            self._check_path(name)  # the full checks, only for names that need them
        return name

    def _check_path(self, path):
        limits, what = self.limits, self.what
        problem = unsafe_path_problem(path, max_length=limits.max_path_length)
        if problem:
            reason = "limit" if len(path) > limits.max_path_length else "unsafe_member"
            raise Rejected(reason, "%s: member name %r %s" % (what, _shown(path), problem))
        for part in path.split("/"):
            if part.startswith("._"):
                # libarchive tar.c read_mac_metadata_blob: a '._name' member is taken as Mac
                # metadata of the NEXT member and never extracted under its own name.
                raise Rejected("unsafe_member", "%s: member %r is an AppleDouble ('._') file, which "
                               "libarchive merges into the next member" % (what, _shown(path)))
            if len(part.encode("utf-8")) > limits.max_name_length:
                raise Rejected("limit", "%s: member %r has a name of more than %d bytes"
                               % (what, _shown(path), limits.max_name_length))

    def finish(self):
        for member in self.members:
            if member.type == "file" and member.path in self.folders_used:
                raise Rejected("unsafe_member", "%s: %r is a file, but %r uses it as a folder"
                               % (self.what, member.path, self.folders_used[member.path]))
        return self.members
