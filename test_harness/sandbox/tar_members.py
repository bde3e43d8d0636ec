"""Read a tar the way msiTarFileExtract would unpack it, without writing anything.

The real microservice (irods/irods `server/re/src/reDataObjOpr.cpp` msiTarFileExtract ->
`server/api/src/rsStructFileExtAndReg.cpp`) lets libarchive extract the whole tar into a
directory in the vault (irods/irods `plugins/resources/src/structfile.cpp`, extract_file:
flags = ARCHIVE_EXTRACT_TIME only, no ARCHIVE_EXTRACT_SECURE_* flag): a member named with `..` or an absolute path, or written
through a symbolic link, lands outside that directory on the server's disk. The sandbox
refuses such tars before writing a byte and says what the real server would have done, so a
policy that forgets to validate members fails its tests instead of passing silently.
"""

import posixpath
import tarfile

from .error_codes import IrodsError

#: The sandbox's code for a refused tar (the real server would not refuse: it would extract).
#: The name is rodsErrorTable.h's for a failed tar extraction.
REFUSED = "SYS_TAR_EXTRACT_ALL_ERR"


class TarPlan:
    """What extraction would produce: `directories` and `files` ({relative path: TarInfo}),
    relative POSIX paths; later members with the same name replace earlier ones, as a second
    write of the same file does."""

    def __init__(self):
        self.directories = set()
        self.files = {}


def plan_extraction(tar_file_path, tar_logical_path):
    """The TarPlan of a tar on disk; IrodsError for an unreadable tar or an escaping member."""
    try:
        with tarfile.open(tar_file_path, "r:*") as archive:
            members = archive.getmembers()
    except (tarfile.TarError, OSError) as error:
        raise IrodsError(REFUSED, "%s is not a readable tar archive: %s" % (tar_logical_path, error)) from None
    plan = TarPlan()
    for member in members:
        relative = _checked_relative_path(member, tar_logical_path)
        if relative is None:
            continue
        _add_parents(plan, relative)
        if member.isdir():
            plan.directories.add(relative)
        else:
            plan.files[relative] = member
    for directory in plan.directories:
        plan.files.pop(directory, None)
    return plan


def read_member(tar_file_path, member):
    """The bytes of one regular-file member."""
    with tarfile.open(tar_file_path, "r:*") as archive:
        handle = archive.extractfile(member)
        return handle.read() if handle is not None else b""


def _checked_relative_path(member, tar_logical_path):
    name = member.name
    where = "member %r of %s" % (name, tar_logical_path)
    if name.startswith("/"):
        _refuse(where, "has an absolute path: the real server would have written it outside the "
                       "collection, at that path on the server's disk")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        _refuse(where, "contains '..': the real server would have written outside the collection")
    if member.issym() or member.islnk():
        _refuse(where, "is a link to %r: the real server would have created it in the vault and "
                       "written later members through it, outside the collection" % member.linkname)
    if not (member.isfile() or member.isdir()):
        _refuse(where, "is a device, fifo or other special file, which the real server would have "
                       "tried to create in its vault")
    return posixpath.join(*parts) if parts else None


def _add_parents(plan, relative):
    parent = posixpath.dirname(relative)
    while parent:
        plan.directories.add(parent)
        parent = posixpath.dirname(parent)


def _refuse(where, why):
    raise IrodsError(REFUSED, "sandbox refused to extract: %s %s" % (where, why))
