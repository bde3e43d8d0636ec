"""Unpack a tar the way msiTarFileExtract does: with the system libarchive, same calls, same flags.

The real microservice (irods/irods `server/re/src/reDataObjOpr.cpp` msiTarFileExtract ->
`server/api/src/rsStructFileExtAndReg.cpp`) makes the cache directory `<tar's vault path>.dir`
(`server/api/src/rsStructFileBundle.cpp` createPhyBundleDir) and has the tar structured-file
plugin unpack into it (`plugins/resources/src/structfile.cpp`, extract_file):
`archive_read_support_filter_all` + `archive_read_support_format_all`, `archive_read_open` with
a read callback only (no seek callback), then `while (archive_read_next_header(...) ==
ARCHIVE_OK)`: pathname := cache directory + '/' + the member's pathname, then
`archive_read_extract(..., ARCHIVE_EXTRACT_TIME)` -- no SECURE_NODOTDOT, no SECURE_SYMLINKS --
and a member that fails is only logged. libarchive keeps '..' (libarchive
`archive_write_disk_posix.c` cleanup_pathname_fsobj: "Under no circumstances do we remove '..'
elements"), so a member named `../../etc/irods/core.py` is written there as the iRODS user.

The sandbox calls the same library (ctypes, stdlib only) the same way (its one added flag,
ARCHIVE_EXTRACT_SPARSE, leaves zero runs as holes: same bytes, less disk), on an emulated server
file system: `<zone root>/server_root` stands for '/', holds the vaults at their default places
and an `etc/irods/core.py` stand-in. A name that climbs above '/' stays at '/' as on a real
disk. What lands outside the cache directory stays where libarchive wrote it and is reported by
`Extraction.misplaced` (the zone logs an ERROR line), so a policy that forgot a check fails its
tests instead of passing silently. Links, devices and fifos are refused before anything is
written (SYS_TAR_EXTRACT_ALL_ERR): the sandbox does not emulate writes through them, and it
never lets a write leave its own temporary folder.
"""

import ctypes
import ctypes.util
import os

from . import vault
from .error_codes import IrodsError

#: The sandbox's code for a tar it refuses to unpack. The name is rodsErrorTable.h's for a
#: failed tar extraction (the real extract_file returns -1 when archive_read_open fails).
REFUSED = "SYS_TAR_EXTRACT_ALL_ERR"

#: libarchive `archive.h`.
ARCHIVE_OK, ARCHIVE_EOF = 0, 1
ARCHIVE_EXTRACT_TIME = 0x0004
#: Zero runs written as holes: the same bytes read back, on less of the test machine's disk (a
#: test's sparse 2 GiB member stays sparse). The only flag the sandbox adds to the plugin's; it
#: changes where libarchive writes nothing, not what it writes or where (archive_write_disk_posix.c).
ARCHIVE_EXTRACT_SPARSE = 0x1000
AE_IFMT, AE_IFREG, AE_IFDIR = 0o170000, 0o100000, 0o040000
#: Bytes handed to libarchive per read callback (the size is the caller's choice, archive.h).
_READ_BLOCK = 1 << 20
#: The same for the sandbox's own header pass (skip_data), which the real server does not make:
#: after each skip over a member libarchive asks for one block, and a large one would count the
#: next member's data against the policy in the benchmark's server-read measure.
_HEADER_READ_BLOCK = 64 * 1024

#: The rule base the iRODS user may write, and so a member climbing out of the cache may too.
CORE_PY = "/etc/irods/core.py"


class Extraction:
    """What an extraction did: `cache_dir` (host path), `misplaced` ([(member name, emulated
    server path)] written outside the cache directory) and `failed` ([(member name, message)]
    that libarchive could not write, as the real plugin logs them), and `stopped` (libarchive's
    message when it stopped before the end of the archive, else None)."""

    def __init__(self, cache_dir):
        self.cache_dir = cache_dir
        self.misplaced = []
        self.failed = []
        self.stopped = None


def server_root(zone_root):
    """The host folder standing for the emulated server's '/', with its core.py stand-in."""
    root = os.path.join(zone_root, vault.SERVER_ROOT)
    stand_in = os.path.join(root, CORE_PY.lstrip("/"))
    if not os.path.exists(stand_in):
        os.makedirs(os.path.dirname(stand_in), exist_ok=True)
        with open(stand_in, "w", encoding="utf-8") as handle:
            handle.write("# stand-in for the server's /etc/irods/core.py (owned by the iRODS user)\n")
    return root


def extract(tar_file_path, tar_logical_path, root):
    """Unpack the tar at host path `tar_file_path` (inside `root`, the emulated '/') into its
    cache directory `<tar_file_path>.dir`; returns an Extraction."""
    cache_dir = tar_file_path + ".dir"
    targets = _planned_targets(tar_file_path, tar_logical_path, cache_dir, root)
    os.makedirs(cache_dir, exist_ok=True)
    extraction = Extraction(cache_dir)
    with _Archive(tar_file_path, tar_logical_path) as archive:
        for index, entry in enumerate(archive.entries()):
            name, host_path = targets[index]
            _libarchive().archive_entry_set_pathname(entry, os.fsencode(host_path))
            flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SPARSE
            if _libarchive().archive_read_extract(archive.pointer, entry, flags) != ARCHIVE_OK:
                extraction.failed.append((name, archive.error()))
            if not _inside(host_path, cache_dir):
                extraction.misplaced.append((name, "/" + os.path.relpath(host_path, root).replace(os.sep, "/")))
        extraction.stopped = archive.stopped
    return extraction


def _planned_targets(tar_file_path, tar_logical_path, cache_dir, root):
    """[(member name, host path)] in archive order, every path checked before a byte is written."""
    cache_on_server = "/" + os.path.relpath(cache_dir, root).replace(os.sep, "/")
    targets = []
    with _Archive(tar_file_path, tar_logical_path, skip_data=True) as archive:
        for entry in archive.entries():
            name = os.fsdecode(_libarchive().archive_entry_pathname(entry) or b"")
            _refuse_links_and_special_files(entry, name, tar_logical_path)
            # structfile.cpp: cache_dir (with a trailing '/') + the member's own pathname.
            on_server, clamped = _resolved(cache_on_server + "/" + name)
            # Unless the name climbs above '/', libarchive gets it as the server would (it then
            # makes the folders named on the way, as there); else its place on the emulated disk.
            host_path = os.path.join(root, on_server.lstrip("/")) if clamped else cache_dir + "/" + name
            if not _inside(os.path.realpath(host_path), os.path.realpath(root)):
                raise IrodsError(REFUSED, "sandbox refused to extract member %r of %s: it would be written at "
                                 "%s, outside the sandbox's folder %s" % (name, tar_logical_path, host_path, root))
            targets.append((name, host_path))
    return targets


def _refuse_links_and_special_files(entry, name, tar_logical_path):
    lib = _libarchive()
    link = lib.archive_entry_hardlink(entry) or lib.archive_entry_symlink(entry)
    kind = lib.archive_entry_filetype(entry) & AE_IFMT
    if link or kind not in (AE_IFREG, AE_IFDIR):
        what = "a link to %r" % os.fsdecode(link) if link else "a device, fifo or other special file"
        raise IrodsError(REFUSED, "sandbox refused to extract %s: member %r is %s; the real server would "
                         "have created it in the vault and written later members through it"
                         % (tar_logical_path, name, what))


def _resolved(server_path):
    """(path, clamped): a path as the kernel resolves it on a disk without symbolic links --
    '.' and empty components dropped, '..' removes the previous component and stays at '/'
    at the top (`clamped` then True)."""
    parts, clamped = [], False
    for part in server_path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
            else:
                clamped = True
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts), clamped


def _inside(path, folder):
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder + os.sep)


class _Archive:
    """One libarchive read handle opened as structfile.cpp opens it (read callback only).
    `skip_data`: the sandbox's own look at the headers before extracting also gives a skip
    callback, so libarchive seeks over member data instead of reading it."""

    def __init__(self, path, logical_path, skip_data=False):
        self.path, self.logical_path = path, logical_path
        self.pointer = None
        self.stopped = None
        self._handle = None
        self._block = _HEADER_READ_BLOCK if skip_data else _READ_BLOCK
        self._buffer = ctypes.create_string_buffer(self._block)
        self._callback = _READ_CALLBACK(self._read)
        self._skip_callback = _SKIP_CALLBACK(self._skip) if skip_data else None

    def __enter__(self):
        lib = _libarchive()
        self._handle = open(self.path, "rb", buffering=0)
        self._position = 0
        self.pointer = lib.archive_read_new()
        lib.archive_read_support_filter_all(self.pointer)
        lib.archive_read_support_format_all(self.pointer)
        if self._skip_callback is not None:
            opened = lib.archive_read_open2(self.pointer, None, None, self._callback, self._skip_callback, None)
        else:
            opened = lib.archive_read_open(self.pointer, None, None, self._callback, None)
        if opened != ARCHIVE_OK:
            message = self.error()
            self.__exit__(None, None, None)
            raise IrodsError(REFUSED, "%s is not an archive libarchive can open: %s" % (self.logical_path, message))
        return self

    def __exit__(self, *exc):
        if self.pointer is not None:
            _libarchive().archive_read_free(self.pointer)
            self.pointer = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read(self, _archive, _client_data, buffer_pointer):
        # A hole of a sparse file is handed over as zeros without reading it: the same bytes
        fd = self._handle.fileno()
        hole = vault.hole_length(fd, self._position)
        if hole:
            count = min(hole, self._block)
            buffer_pointer[0] = ctypes.cast(_ZERO_BLOCK, ctypes.c_void_p)
        else:
            os.lseek(fd, self._position, os.SEEK_SET)
            count = self._handle.readinto(self._buffer)
            buffer_pointer[0] = ctypes.cast(self._buffer, ctypes.c_void_p)
        self._position += count
        return count

    def _skip(self, _archive, _client_data, request):
        count = max(0, min(request, os.fstat(self._handle.fileno()).st_size - self._position))
        self._position += count
        return count

    def entries(self):
        """Entry pointers while archive_read_next_header returns ARCHIVE_OK (structfile.cpp)."""
        lib = _libarchive()
        entry = ctypes.c_void_p()
        while True:
            status = lib.archive_read_next_header(self.pointer, ctypes.byref(entry))
            if status != ARCHIVE_OK:
                if status != ARCHIVE_EOF:
                    self.stopped = self.error()
                return
            yield entry

    def error(self):
        message = _libarchive().archive_error_string(self.pointer)
        return message.decode("utf-8", "replace") if message else "unknown libarchive error"


_READ_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_void_p))
_ZERO_BLOCK = ctypes.create_string_buffer(_READ_BLOCK)  # what a hole reads as (libarchive only reads it)
#: la_int64_t archive_skip_callback(struct archive *, void *client_data, la_int64_t request)
_SKIP_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
_LIBRARY = []


def _libarchive():
    """The system libarchive (what the iRODS server links), typed for the calls used here."""
    if _LIBRARY:
        return _LIBRARY[0]
    name = ctypes.util.find_library("archive") or "libarchive.so.13"
    try:
        lib = ctypes.CDLL(name)
    except OSError as error:
        raise IrodsError(REFUSED, "the sandbox unpacks tars with the system libarchive (as iRODS does), "
                         "which cannot be loaded: %s" % error) from None
    pointer, text = ctypes.c_void_p, ctypes.c_char_p
    for function, arguments, result in (
            ("archive_read_new", [], pointer),
            ("archive_read_support_filter_all", [pointer], ctypes.c_int),
            ("archive_read_support_format_all", [pointer], ctypes.c_int),
            ("archive_read_open", [pointer, pointer, pointer, _READ_CALLBACK, pointer], ctypes.c_int),
            ("archive_read_open2", [pointer, pointer, pointer, _READ_CALLBACK, _SKIP_CALLBACK, pointer],
             ctypes.c_int),
            ("archive_read_next_header", [pointer, ctypes.POINTER(pointer)], ctypes.c_int),
            ("archive_read_extract", [pointer, pointer, ctypes.c_int], ctypes.c_int),
            ("archive_read_free", [pointer], ctypes.c_int),
            ("archive_error_string", [pointer], text),
            ("archive_entry_pathname", [pointer], text),
            ("archive_entry_set_pathname", [pointer, text], None),
            ("archive_entry_hardlink", [pointer], text),
            ("archive_entry_symlink", [pointer], text),
            ("archive_entry_filetype", [pointer], ctypes.c_uint)):
        getattr(lib, function).argtypes = arguments
        getattr(lib, function).restype = result
    _LIBRARY.append(lib)
    return lib


def relative_files_and_folders(cache_dir):
    """What regUnbunSubfiles registers (rsStructFileExtAndReg.cpp): folders and regular files
    below the cache directory, as sorted relative POSIX paths: (folders, files). Symbolic links
    there are SYMLINKED_BUNFILE_NOT_ALLOWED on the real server (none exist: links are refused)."""
    folders, files = [], []
    for directory, names, file_names in os.walk(cache_dir):
        names.sort()
        relative = os.path.relpath(directory, cache_dir)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        folders.extend(prefix + name for name in names)
        files.extend(prefix + name for name in sorted(file_names)
                     if os.path.isfile(os.path.join(directory, name)) and not os.path.islink(os.path.join(directory, name)))
    return sorted(folders), sorted(files)


def remove_cache_dir(cache_dir):
    """regUnbunSubfiles unlinks each registered file and rmdir()s the folders it emptied."""
    for directory, _names, _files in sorted(os.walk(cache_dir), key=lambda item: -len(item[0])):
        try:
            os.rmdir(directory)
        except OSError:
            pass

