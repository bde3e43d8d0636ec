"""Check a tar archive's members before anything is extracted.

`msiTarFileExtract` (what `ibun -x` runs) extracts through the tar structured-file plugin
(irods/irods plugins/resources/src/structfile.cpp, `extract_file`): it prefixes each member
name with a cache directory and calls libarchive's `archive_read_extract` with only
ARCHIVE_EXTRACT_TIME -- no SECURE_NODOTDOT / SECURE_SYMLINKS -- and a member that fails is only
logged. So every member must be checked first. `list_members` reads only the headers -- on a
seekable file it seeks over member data, so the PREP adapter can pass a reader over
msiDataObjRead/msiDataObjLseek and the cost is one header read per member -- and returns the
plain files and directories, or raises Rejected:

- `not_a_tar`: not a tar, empty, truncated (also a missing end-of-archive marker);
- `unsafe_member`: absolute path, '..' or '.' component, '//' , control characters (python-
  irodsclient cannot carry them over the XML protocol: irods/python-irodsclient pull #172,
  #311), a name that is not UTF-8, a symbolic or hard link, a device, a fifo, a sparse or
  unknown member type, a duplicate name, or a path used both as a file and as a directory;
- `limit`: member count, member size, total expanded size, path length, name length.

Pax and GNU long names are handled by the stdlib `tarfile`; their extended headers are
refused above MAX_EXTENDED_HEADER_BYTES so a hostile header cannot make us read gigabytes.
"""

import tarfile
from collections import namedtuple

from omero_irods.errors import Rejected
from omero_irods.manifest import unsafe_path_problem

#: A member the archive may contain: `type` is 'file' or 'dir'; `size` is 0 for directories.
Member = namedtuple("Member", "path size type")

#: Limits a tar must respect (config.py fills them from the policy config's `limits`).
ArchiveLimits = namedtuple(
    "ArchiveLimits", "max_members max_member_bytes max_expanded_bytes max_path_length max_name_length"
)

#: Pax records and GNU long names for paths within the limits fit easily in this.
MAX_EXTENDED_HEADER_BYTES = 16 * 1024

_EXTENDED_HEADER_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE) + tarfile.GNU_TYPES[:2]
_BLOCK = tarfile.BLOCKSIZE


class _HeaderTooLarge(Exception):
    pass


class _BoundedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses oversized pax / GNU long-name headers before tarfile reads them."""

    def _proc_member(self, tarfile_):
        # tarfile reads these header payloads into memory in one go (Lib/tarfile.py
        # _proc_gnulong/_proc_pax), so the size check must come first.
        if self.type in _EXTENDED_HEADER_TYPES and self.size > MAX_EXTENDED_HEADER_BYTES:
            raise _HeaderTooLarge(self.size)
        return super()._proc_member(tarfile_)


def list_members(fileobj, limits, what="archive"):
    """Walk the tar in binary `fileobj` (seekable or not); return [Member] in archive order.

    `what` names the archive in error messages (e.g. 'run1.tar'). Raises Rejected for a bad
    archive; errors raised by `fileobj` itself pass through for the caller to retry.
    """
    mode = "r:" if _seekable(fileobj) else "r|"
    try:
        with tarfile.open(fileobj=fileobj, mode=mode, tarinfo=_BoundedTarInfo) as tar:
            members = _walk(tar, limits, what)
            _require_end_marker(tar, what)
    except _HeaderTooLarge as error:
        raise Rejected(
            "unsafe_member",
            "%s has an extended (pax or GNU long name) header of %d bytes; at most %d are accepted"
            % (what, error.args[0], MAX_EXTENDED_HEADER_BYTES),
        )
    except (tarfile.TarError, EOFError, ValueError) as error:
        # ValueError: Python 3.9's tarfile seeks to -1 on some malformed input. Errors of the
        # reader itself (OSError, the adapter's own) propagate: they are not the archive's fault.
        raise Rejected("not_a_tar", "%s is not a complete tar archive (%s)" % (what, error))
    if not members:
        raise Rejected("not_a_tar", "%s holds no files" % what)
    return members


def _seekable(fileobj):
    try:
        return bool(fileobj.seekable())
    except AttributeError:
        return hasattr(fileobj, "seek") and hasattr(fileobj, "tell")


def _walk(tar, limits, what):
    members, seen, directories_used = [], {}, {}
    expanded = 0
    while True:
        info = tar.next()
        if info is None:
            return _check_file_directory_clashes(members, directories_used, what)
        if len(members) >= limits.max_members:
            raise Rejected("limit", "%s has more than %d members" % (what, limits.max_members))
        member = _member(info, limits, what)
        if member is None:
            continue
        if member.path in seen:
            raise Rejected("unsafe_member", "%s holds %r twice" % (what, member.path))
        seen[member.path] = member
        parts = member.path.split("/")
        for depth in range(1, len(parts)):
            directories_used.setdefault("/".join(parts[:depth]), member.path)
        expanded += member.size
        if expanded > limits.max_expanded_bytes:
            raise Rejected(
                "limit", "%s expands to more than %d bytes" % (what, limits.max_expanded_bytes)
            )
        members.append(member)


def _member(info, limits, what):
    path = _normalised_name(info.name)
    if path is None:  # the archive's own root, './'
        return None
    _check_path(path, limits, what)
    if info.isdir():
        return Member(path, 0, "dir")
    kind = _refused_kind(info)
    if kind:
        raise Rejected("unsafe_member", "%s: member %r is a %s; only files and folders are accepted" % (what, path, kind))
    if info.size > limits.max_member_bytes:
        raise Rejected(
            "limit", "%s: member %r is %d bytes; the limit is %d" % (what, path, info.size, limits.max_member_bytes)
        )
    return Member(path, info.size, "file")


def _normalised_name(name):
    # `tar -C dir -cf x.tar .` writes './a'; extraction treats it as 'a'.
    while name.startswith("./"):
        name = name[2:]
    return None if name in ("", ".") else name


def _check_path(path, limits, what):
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # tarfile decodes non-UTF-8 bytes as surrogates
        raise Rejected("unsafe_member", "%s: member name %r is not valid UTF-8" % (what, path))
    problem = unsafe_path_problem(path, max_length=limits.max_path_length)
    if problem:
        reason = "limit" if path and len(path) > limits.max_path_length else "unsafe_member"
        raise Rejected(reason, "%s: member name %r %s" % (what, _shown(path), problem))
    for part in path.split("/"):
        if len(part.encode("utf-8")) > limits.max_name_length:
            raise Rejected(
                "limit",
                "%s: member %r has a name of more than %d bytes" % (what, _shown(path), limits.max_name_length),
            )


def _shown(path):
    return path if len(path) <= 200 else path[:100] + "..." + path[-50:]


def _refused_kind(info):
    if info.issym():
        return "symbolic link (to %r)" % info.linkname
    if info.islnk():
        return "hard link (to %r)" % info.linkname
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "fifo"
    if info.issparse():
        return "sparse file"
    if not info.isreg():
        return "member of unknown type %r" % info.type
    return None


def _check_file_directory_clashes(members, directories_used, what):
    for member in members:
        if member.type == "file" and member.path in directories_used:
            raise Rejected(
                "unsafe_member",
                "%s: %r is a file, but %r uses it as a folder" % (what, member.path, directories_used[member.path]),
            )
    return members


def _require_end_marker(tar, what):
    # tarfile stops quietly at the first empty or short header block; a complete archive ends
    # with two zero blocks. tarfile has just read the first of them at tar.offset.
    stream = tar.fileobj
    complete = stream.tell() == tar.offset + _BLOCK and stream.read(_BLOCK) == tarfile.NUL * _BLOCK
    if not complete:
        raise Rejected("not_a_tar", "%s is truncated: it lacks the end-of-archive marker" % what)
