"""Stream files as a pax tar, hashing every member and the archive in the same pass.

No temporary file and bounded memory whatever the file sizes: headers are built with
`tarfile.TarInfo.tobuf`, file bytes are read block by block, and chunks are handed to the
caller as they are produced (at most `chunk_size` bytes each, plus one block being filled).

The archive holds regular files only (no directory, link or device entries), in a
deterministic order (sorted archive paths), with normalised owner, group and mode, so the
policy's member checks and the payload's `manifest` (one entry per file, in archive order)
line up exactly. Empty directories are therefore not carried.
"""

import hashlib
import os
import stat
import tarfile

from omero_irods.manifest import ManifestEntry, unsafe_path_problem

#: Default chunk size: python-irodsclient writes uploads in blocks of this size
#: (`DataObjectManager.WRITE_BUFFER_SIZE = 1024 * io.DEFAULT_BUFFER_SIZE`, in
#: python-irodsclient irods/manager/data_object_manager.py); one write = one DATA_OBJ_WRITE.
CHUNK_SIZE = 8 * 1024 * 1024

BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 20 blocks: tarfile and GNU tar pad the archive to a record
MAX_PATH_CHARS = 1024  # payload.v1.schema.json $defs/relative_path
FILE_MODE = 0o644


class SourceError(ValueError):
    """The files to archive cannot be archived as asked; the message names the file."""


class Member:
    """One regular file of the archive: where it goes, how big it is, how to read it.

    `open()` returns a binary reader (`read(n)`, `close()`); it is called once per pass,
    so a retried upload reads the source again instead of keeping a copy.
    """

    __slots__ = ("path", "size", "mtime", "open")

    def __init__(self, path, size, mtime, open):
        check_archive_path(path)
        if not isinstance(size, int) or size < 0:
            raise SourceError("%s: size must be a non-negative integer, not %r" % (path, size))
        self.path = path
        self.size = size
        self.mtime = int(mtime)
        self.open = open

    def __repr__(self):
        return "Member(%r, size=%d)" % (self.path, self.size)


def check_archive_path(path):
    """Refuse paths the policy would refuse anyway (manifest.unsafe_path_problem), early."""
    problem = unsafe_path_problem(path, MAX_PATH_CHARS)
    if problem:
        raise SourceError("%r: cannot be archived: the path %s" % (path[:200], problem))
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError("%r: cannot be archived: the name is not valid UTF-8 "
                          "(iRODS stores UTF-8 names)" % (path,))


# ---------------------------------------------------------------- local files


def members_from_paths(paths, follow_symlinks=False):
    """Members for local files and directories, sorted by archive path.

    One directory `run1` gives `run1/...`; several paths are stored relative to their
    common parent directory. Symbolic links are refused unless `follow_symlinks` (then the
    target's content is stored as a regular file; directory loops are refused). Devices,
    FIFOs and sockets are always refused.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    absolute = [os.path.abspath(os.fspath(p)) for p in paths]
    if not absolute:
        raise SourceError("nothing to archive: no files or directories given")
    base = os.path.dirname(absolute[0]) if len(absolute) == 1 else os.path.commonpath(
        [os.path.dirname(p) for p in absolute])
    members = {}
    for path in absolute:
        for member in _walk(path, base, follow_symlinks, ancestors=()):
            if member.path in members:
                raise SourceError("%s: given twice" % (member.path,))
            members[member.path] = member
    if not members:
        raise SourceError("nothing to archive: %s holds no regular files" % ", ".join(absolute))
    return [members[name] for name in sorted(members)]


def default_archive_name(paths):
    """`run1.tar` for a directory `run1`; for several paths, named after their common parent."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    absolute = [os.path.abspath(os.fspath(p)) for p in paths]
    if len(absolute) == 1:
        stem = os.path.basename(absolute[0])
        if os.path.isfile(absolute[0]):
            stem = os.path.splitext(stem)[0] or stem
    else:
        stem = os.path.basename(os.path.commonpath([os.path.dirname(p) for p in absolute]))
    return (stem or "files") + ".tar"


def _walk(path, base, follow_symlinks, ancestors):
    archive_path = os.path.relpath(path, base).replace(os.sep, "/")
    st = _stat(path, follow_symlinks)
    if stat.S_ISREG(st.st_mode):
        yield Member(archive_path, st.st_size, st.st_mtime, _file_opener(path))
    elif stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            raise SourceError("%s: symbolic link loop back to a parent directory" % path)
        try:
            names = sorted(os.listdir(path))
        except OSError as error:
            raise SourceError("%s: cannot list directory: %s" % (path, error.strerror))
        for name in names:
            yield from _walk(os.path.join(path, name), base, follow_symlinks, ancestors + (key,))
    else:
        raise SourceError("%s: %s cannot be archived (only regular files and directories)"
                          % (path, _kind(st.st_mode)))


def _stat(path, follow_symlinks):
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if not follow_symlinks:
                raise SourceError("%s: is a symbolic link (refused; use --follow-symlinks to store "
                                  "its target's content)" % path)
            st = os.stat(path)
    except FileNotFoundError:
        raise SourceError("%s: no such file (or a broken symbolic link)" % path)
    except OSError as error:
        raise SourceError("%s: cannot read: %s" % (path, error.strerror))
    return st


def _kind(mode):
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _file_opener(path):
    def open_file():
        try:
            return open(path, "rb")
        except OSError as error:
            raise SourceError("%s: cannot open: %s" % (path, error.strerror))
    return open_file


# ---------------------------------------------------------------- the stream


class TarStream:
    """A pax tar of `members`, produced as chunks by `chunks()`; hashes are ready after it ends.

    `predicted_size` is exact before the first byte is produced (progress bars use it).
    After a complete pass: `size`, `sha256` (hex, of the archive bytes) and `manifest`
    (ManifestEntry tuples, archive order). Each call to `chunks()` starts over.
    """

    def __init__(self, members, chunk_size=CHUNK_SIZE):
        if chunk_size < BLOCK or chunk_size % BLOCK:
            raise ValueError("chunk_size must be a positive multiple of %d" % BLOCK)
        self.members = list(members)
        seen = set()
        for member in self.members:
            if member.path in seen:
                raise SourceError("%s: two members with the same archive path" % member.path)
            seen.add(member.path)
        self.chunk_size = chunk_size
        self.size = None
        self.sha256 = None
        self.manifest = None

    @property
    def predicted_size(self):
        body = sum(len(_header(m)) + _padded(m.size) for m in self.members) + 2 * BLOCK
        return _padded(body, RECORD)

    def chunks(self):
        self.size = self.sha256 = self.manifest = None
        archive_hash = hashlib.sha256()
        manifest = []
        size = 0
        for piece in _coalesce(self._pieces(manifest), self.chunk_size):
            archive_hash.update(piece)
            size += len(piece)
            yield piece
        self.size, self.sha256, self.manifest = size, archive_hash.hexdigest(), manifest

    def _pieces(self, manifest):
        offset = 0  # bytes produced so far; file reads end on chunk boundaries
        for member in self.members:
            header = _header(member)
            yield header
            offset += len(header)
            member_hash = hashlib.sha256()
            for data in _read_exactly(member, self.chunk_size, offset):
                member_hash.update(data)
                offset += len(data)
                yield data
            manifest.append(ManifestEntry(member.path, member.size, member_hash.hexdigest()))
            padding = _padded(member.size) - member.size
            if padding:
                yield bytes(padding)
                offset += padding
        yield bytes(_padded(offset + 2 * BLOCK, RECORD) - offset)


def _header(member):
    info = tarfile.TarInfo(member.path)
    info.size = member.size
    info.mtime = member.mtime
    info.mode = FILE_MODE
    info.type = tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def _padded(size, unit=BLOCK):
    return -(-size // unit) * unit


def _read_exactly(member, chunk_size, offset):
    """Yield exactly member.size bytes; a file that shrinks or grows meanwhile is an error.

    Each read stops at the next multiple of chunk_size in the archive, so that after the
    first one, reads pass through _coalesce without being copied.
    """
    reader = member.open()
    try:
        remaining = member.size
        while remaining:
            want = min(remaining, chunk_size - offset % chunk_size)
            data = reader.read(want)
            if not data:
                raise SourceError("%s: file shrank while being archived (%d of %d bytes read)"
                                  % (member.path, member.size - remaining, member.size))
            if len(data) > want:
                raise SourceError("%s: the reader returned more bytes than asked" % member.path)
            remaining -= len(data)
            offset += len(data)
            yield data
        if reader.read(1):
            raise SourceError("%s: file grew while being archived (expected %d bytes); "
                              "archive it once it is complete" % (member.path, member.size))
    finally:
        reader.close()


def _coalesce(pieces, chunk_size):
    """Regroup pieces into chunks of exactly chunk_size (the last one may be shorter)."""
    pending = bytearray()
    for piece in pieces:
        if not pending and len(piece) == chunk_size:
            yield piece  # aligned: pass through without a copy
            continue
        pending += piece
        if len(pending) >= chunk_size:
            full = len(pending) - len(pending) % chunk_size
            with memoryview(pending) as view:
                for start in range(0, full, chunk_size):
                    yield bytes(view[start:start + chunk_size])
            del pending[:full]
    if pending:
        yield bytes(pending)
