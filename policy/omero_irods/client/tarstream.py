"""Stream files as a pax tar, hashing every member and the archive in the same pass.

No temporary file and bounded memory whatever the file sizes: headers are built with
`tarfile.TarInfo.tobuf`, file bytes are read straight into the chunk being filled, and
chunks are handed to the caller as they are produced (`chunk_size` bytes each, the last
one shorter; a few chunks in memory at most, see TarStream).

The archive holds regular files only (no directory, link or device entries), in a
deterministic order (sorted archive paths), with normalised owner, group and mode, so the
policy's member checks and the payload's `manifest` (one entry per file, in archive order)
line up exactly. Empty directories are therefore not carried.
"""

import hashlib
import os
import queue
import stat
import tarfile
import threading

from omero_irods.manifest import ManifestEntry, unsafe_path_problem

#: Default chunk size. Each chunk is one DATA_OBJ_WRITE: python-irodsclient's buffered
#: writer passes a write larger than its buffer through whole (irods/data_object.py), and
#: its message packing copies the chunk once more (irods/message/__init__.py
#: iRODSMessage.pack: header + body + bs). 4 MiB keeps the push's whole process under 64 MiB
#: (two chunks in flight, one packed copy, the interpreter, python-irodsclient, jsonschema;
#: bench/push_stream.py measures it) at a request per 4 MiB, which on a LAN costs little.
CHUNK_SIZE = 4 * 1024 * 1024

BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 20 blocks: tarfile and GNU tar pad the archive to a record
MAX_PATH_CHARS = 1024  # payload.v1.schema.json $defs/relative_path
FILE_MODE = 0o644


class SourceError(ValueError):
    """The files to archive cannot be archived as asked; the message names the file."""


class Member:
    """One regular file of the archive: where it goes, how big it is, how to read it.

    `open()` returns a binary reader (`read(n)`, `close()`); it is called once per pass,
    so a retried upload reads the source again instead of keeping a copy. `prefetch(n)`,
    if given, asks the operating system to start reading the first `n` bytes in the
    background (a hint: it never fails and returns nothing).
    """

    __slots__ = ("path", "size", "mtime", "open", "prefetch")

    def __init__(self, path, size, mtime, open, prefetch=None):
        check_archive_path(path)
        if not isinstance(size, int) or size < 0:
            raise SourceError("%s: size must be a non-negative integer, not %r" % (path, size))
        self.path = path
        self.size = size
        self.mtime = int(mtime)
        self.open = open
        self.prefetch = prefetch

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
        yield Member(archive_path, st.st_size, st.st_mtime, _file_opener(path), _file_prefetcher(path))
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


def _file_prefetcher(path):
    """posix_fadvise(WILLNEED) on the file's first bytes, where the platform has it.

    Without it each file's first read waits for the disk while nothing else reads: files
    not in the page cache made the push 1.3x slower than `tar | openssl`, whose tar reads
    ahead while openssl hashes. The kernel starts the reads and returns at once.
    """
    if not hasattr(os, "posix_fadvise"):
        return None

    def prefetch(count):
        try:
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return  # open() reports it, with the file's name, when the file's turn comes
        try:
            os.posix_fadvise(handle, 0, count, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(handle)
    return prefetch


# ---------------------------------------------------------------- the stream


class TarStream:
    """A pax tar of `members`, produced as chunks by `chunks()`; hashes are ready after it ends.

    `predicted_size` is exact before the first byte is produced (progress bars use it).
    After a complete pass: `size`, `sha256` (hex, of the archive bytes) and `manifest`
    (ManifestEntry tuples, archive order). Each call to `chunks()` starts over. While a pass
    runs, `produced` and `prefix_sha256()` describe the archive up to the last chunk handed
    out (a resumed upload checks what iRODS holds against them).

    Two threads share the work, because two SHA-256 passes in one thread cannot keep up
    with one pass in `tar | openssl dgst`: a producer reads each file straight into the
    chunk being filled (readinto, no intermediate copy) and hashes the member's bytes there;
    the caller's thread hashes the whole chunk for the archive digest while the producer
    fills the next one. hashlib releases the GIL for buffers over 2047 bytes (CPython
    Modules/hashlib.h HASHLIB_GIL_MINSIZE), so both hashes run on separate cores. Two chunks
    exist at once (double buffering): the one the caller holds and the one being filled; the
    producer starts a third only when the caller asks for the next chunk. Files not in the
    page cache are asked of the disk PREFETCH_BYTES ahead (Member.prefetch), so the producer
    does not wait for each file's first read.
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
        self.produced = 0
        self._archive_hash = hashlib.sha256()
        self._predicted_size = None

    @property
    def predicted_size(self):
        if self._predicted_size is None:  # a header per member: computed once
            body = sum(len(_header(m)) + _padded(m.size) for m in self.members) + 2 * BLOCK
            self._predicted_size = _padded(body, RECORD)
        return self._predicted_size

    def prefix_sha256(self):
        """sha256 (hex) of the archive's first `produced` bytes."""
        return self._archive_hash.copy().hexdigest()

    def chunks(self):
        self.size = self.sha256 = self.manifest = None
        self.produced = 0
        self._archive_hash = archive_hash = hashlib.sha256()
        manifest = []
        with _Producer(lambda emit, allocate: self._fill(emit, allocate, manifest)) as produced:
            for chunk in produced:
                archive_hash.update(chunk)
                self.produced += len(chunk)
                yield chunk
        self.size, self.sha256, self.manifest = self.produced, archive_hash.hexdigest(), manifest

    def _fill(self, emit, allocate, manifest):
        """The producer thread's work: every byte of the archive, in order, into chunks."""
        filler = _ChunkFiller(self.chunk_size, emit, allocate)
        prefetcher = _Prefetcher(self.members)
        for member in self.members:
            prefetcher.reached(member)
            filler.add(_header(member))
            digest = filler.add_file(member)
            manifest.append(ManifestEntry(member.path, member.size, digest))
            filler.add_zeros(_padded(member.size) - member.size)
        filler.add_zeros(_padded(filler.offset + 2 * BLOCK, RECORD) - filler.offset)
        filler.flush()


#: Chunk buffers in existence at once: the caller's and the one being filled.
BUFFERS_IN_FLIGHT = 2

#: How far ahead of the member being read the OS is asked to read (Member.prefetch): enough
#: to cover a disk's latency at hashing speed, little enough not to crowd the page cache.
PREFETCH_BYTES = 32 * 1024 * 1024


class _Prefetcher(object):
    """Keeps PREFETCH_BYTES of member data, from the member about to be read on, hinted to the OS.

    A large member is hinted up to PREFETCH_BYTES only: within a file the kernel's own
    sequential read-ahead takes over.
    """

    def __init__(self, members):
        self.members = members
        self.next = 0  # index of the first member not hinted yet
        self.ahead = 0  # bytes hinted of the members not reached yet

    def reached(self, member):
        """`member` is read next (members are reached in order)."""
        while self.next < len(self.members) and self.ahead < PREFETCH_BYTES:
            upcoming = self.members[self.next]
            self.next += 1
            count = min(upcoming.size, PREFETCH_BYTES)
            if upcoming.prefetch is not None and count:
                upcoming.prefetch(count)
            self.ahead += count
        self.ahead -= min(member.size, PREFETCH_BYTES)


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


class _ChunkFiller(object):
    """Writes archive bytes into chunk-sized buffers and hands each full one to `emit`.

    Each buffer is a new bytearray from `allocate(size)`: the caller may keep a chunk it was
    given (e.g. join them), so a buffer is never reused.
    """

    def __init__(self, chunk_size, emit, allocate=bytearray):
        self.chunk_size, self.emit, self.allocate = chunk_size, emit, allocate
        self.offset = 0  # archive bytes written so far
        self._new_buffer()

    def _new_buffer(self):
        self.buffer = self.allocate(self.chunk_size)
        self.view = memoryview(self.buffer)
        self.fill = 0

    def _advance(self, count):
        self.fill += count
        self.offset += count
        if self.fill == self.chunk_size:
            self.view.release()
            self.emit(self.buffer)
            self._new_buffer()

    def add(self, data):
        data = memoryview(data)
        while data:
            count = min(len(data), self.chunk_size - self.fill)
            self.view[self.fill:self.fill + count] = data[:count]
            data = data[count:]
            self._advance(count)

    def add_zeros(self, count):
        while count:  # a new buffer is already zero-filled
            step = min(count, self.chunk_size - self.fill)
            self._advance(step)
            count -= step

    def add_file(self, member):
        """Read exactly member.size bytes into the chunks; their sha256 (hex). A file that
        shrinks or grows meanwhile is an error."""
        member_hash = hashlib.sha256()
        reader = member.open()
        try:
            read_into = _read_into_function(reader)
            remaining = member.size
            while remaining:
                want = min(remaining, self.chunk_size - self.fill)
                target = self.view[self.fill:self.fill + want]
                count = read_into(target)
                if not count:
                    raise SourceError("%s: file shrank while being archived (%d of %d bytes read)"
                                      % (member.path, member.size - remaining, member.size))
                if count > want:
                    raise SourceError("%s: the reader returned more bytes than asked" % member.path)
                member_hash.update(target[:count])
                target.release()
                remaining -= count
                self._advance(count)
            if reader.read(1):
                raise SourceError("%s: file grew while being archived (expected %d bytes); "
                                  "archive it once it is complete" % (member.path, member.size))
        finally:
            reader.close()
        return member_hash.hexdigest()

    def flush(self):
        if self.fill:
            self.view.release()
            del self.buffer[self.fill:]
            self.emit(self.buffer)
            self.fill = 0


def _read_into_function(reader):
    """`read_into(view) -> count` for a reader: its own readinto (files, BytesIO: no copy),
    else read() copied into the view (readers that offer only read(n))."""
    readinto = getattr(reader, "readinto", None)
    if readinto is not None:
        return lambda view: readinto(view) or 0

    def copy_read(view):
        data = reader.read(len(view))
        if len(data) > len(view):
            return len(data)  # reported as "more bytes than asked"
        view[:len(data)] = data
        return len(data)
    return copy_read


class _Stopped(Exception):
    """The consumer went away; the producer thread ends quietly."""


class _Producer(object):
    """Runs `work(emit, allocate)` in a thread; iterating yields what it emits, in order, and
    re-raises its exception. `allocate(size)` waits until fewer than BUFFERS_IN_FLIGHT
    buffers are out (one is back when the consumer asks for the next item). Leaving the
    `with` early (the consumer stopped) stops the thread."""

    _DONE = object()

    def __init__(self, work):
        self.work = work
        self.queue = queue.Queue(maxsize=1)
        self.slots = threading.Semaphore(BUFFERS_IN_FLIGHT)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tarstream-producer", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def _emit(self, item):
        while True:
            if self.stopping.is_set():
                raise _Stopped()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _allocate(self, size):
        while not self.slots.acquire(timeout=0.1):
            if self.stopping.is_set():
                raise _Stopped()
        return bytearray(size)

    def _run(self):
        try:
            self.work(self._emit, self._allocate)
            self._emit((self._DONE, None))
        except _Stopped:
            pass
        except BaseException as error:  # handed to the consumer, raised there
            try:
                self._emit((self._DONE, error))
            except _Stopped:
                pass

    def __iter__(self):
        while True:
            item = self.queue.get()
            if isinstance(item, tuple):
                if item[1] is not None:
                    raise item[1]
                return
            yield item
            self.slots.release()  # the consumer is done with it

    def __exit__(self, *exc):
        self.stopping.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self.thread.join()
        return False
