"""Unixfilesystem resources: vault directories holding the real bytes of replicas.

Vault path scheme: iRODS' default `acSetVaultPathPolicy {msiSetGraftPathScheme("no","1")}`
(irods/irods `packaging/core.re.template`) grafts the logical path, minus its first element
(the zone), onto the vault: `/tempZone/home/alice/x` -> `<vault>/home/alice/x`
(irods/irods `server/core/src/physPath.cpp`, setPathForGraftPathScheme). Parent directories
are made on demand (physPath.cpp mkDirForFilePath); a rename leaves old directories behind.

The vaults sit where a default install keeps them, on an emulated server disk:
`<zone root>/server_root` stands for the server's '/' (see tar_members: msiTarFileExtract can
write anywhere on it, as the real one can). demoResc-style default resource:
`/var/lib/irods/Vault` (irods/irods `scripts/setup_irods.py` default vault directory); other
resources: `/var/lib/irods/<name>Vault`.

Every path the sandbox writes is checked to stay inside its vault, so a policy bug can never
write elsewhere on the test machine.
"""

import base64
import errno
import hashlib
import os
import shutil

from .error_codes import IrodsError

_CHUNK = 1024 * 1024
_HASH_CHUNK = 1024 * 1024
_ZEROS = memoryview(bytes(_HASH_CHUNK))
_ZERO_RUNS = {}  # length -> that many zero bytes, to compare a written chunk with
SERVER_ROOT = "server_root"
IRODS_HOME = "var/lib/irods"


def vault_directory(zone_root, resource, default_resource):
    """The host folder of `resource`'s vault below the emulated server root of a zone."""
    name = "Vault" if resource == default_resource else resource + "Vault"
    return os.path.join(zone_root, SERVER_ROOT, IRODS_HOME, name)


class Resource:
    """A unixfilesystem resource: a name and a vault directory."""

    def __init__(self, name, vault):
        self.name = name
        self.vault = os.path.abspath(vault)
        os.makedirs(self.vault, exist_ok=True)
        self._real_vault = os.path.realpath(self.vault)
        #: folder -> its realpath. Nothing in the sandbox makes a symbolic link (extraction
        #: refuses link members: tar_members.py), so a folder's resolution never changes; only
        #: a link at the last component could, and that one is resolved every time. (A full
        #: realpath per path, an lstat per component, was most of a 100k-member ingest.)
        self._real_folders = {}

    def physical_path(self, logical_path):
        """The graft-scheme path of a logical path (trim count 1, no user name)."""
        without_zone = logical_path.lstrip("/").split("/", 1)
        relative = without_zone[1] if len(without_zone) > 1 else ""
        return self.contained(os.path.join(self.vault, relative))

    def contained(self, path):
        """`path` itself, after checking it resolves inside the vault."""
        real_vault, real_path = self._real_vault, self._realpath(path)
        if real_path != real_vault and not real_path.startswith(real_vault + os.sep):
            raise IrodsError("SYS_INVALID_FILE_PATH",
                             "sandbox refused to touch %s: it is outside the vault %s of resource %s"
                             % (path, self.vault, self.name))
        return path

    def _realpath(self, path):
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or os.path.islink(path):
            return os.path.realpath(path)
        real_folder = self._real_folders.get(folder)
        if real_folder is None:
            real_folder = self._real_folders[folder] = os.path.realpath(folder)
        return os.path.join(real_folder, name)

    def __repr__(self):
        return "Resource(%r, %r)" % (self.name, self.vault)


def create_empty(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb"):
        pass


def write_at(path, offset, data):
    """pwrite(2) at `offset`. Zeros past the end of the file are a hole instead (ftruncate(2)):
    they read back as zeros all the same, and a sparse test file of gigabytes stays a few
    blocks on the test machine's disk."""
    with open(path, "r+b") as handle:
        if offset >= handle.seek(0, os.SEEK_END) and _all_zeros(data):
            handle.truncate(offset + len(data))
            return
        handle.seek(offset)
        handle.write(data)


def _all_zeros(data):
    zeros = _ZERO_RUNS.get(len(data))
    if zeros is None:
        if len(_ZERO_RUNS) > 8:
            _ZERO_RUNS.clear()
        zeros = _ZERO_RUNS[len(data)] = bytes(len(data))
    return data == zeros


def read_at(path, offset, length):
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read() if length < 0 else handle.read(length)


def truncate(path):
    with open(path, "wb"):
        pass


def truncate_to(path, size):
    with open(path, "r+b") as handle:
        handle.truncate(size)


def size_of(path):
    return os.path.getsize(path)


def move(source, destination):
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.replace(source, destination)


def link(source, destination):
    """A second name for a file (what regSubfile does from the tar's cache folder)."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.link(source, destination)


def copy(source, destination):
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(source, destination)


def remove(path):
    if os.path.lexists(path):
        os.remove(path)


def sha256_checksum(path):
    """iRODS' SHA256 checksum string: 'sha2:' + base64 of the raw digest (irods/irods
    `lib/hasher/src/SHA256Strategy.cpp` base64-encodes the digest; the prefix is
    SHA256_CHKSUM_PREFIX in `lib/hasher/include/irods/checksum.h`)."""
    return "sha2:" + base64.b64encode(file_digest(path, hashlib.sha256())).decode("ascii")


def file_digest(path, digest):
    """`digest` updated with the file's bytes: data read into one reused buffer, the holes of a
    sparse file hashed from zeros without reading them (hash, not read, is what they cost)."""
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        position = 0
        while True:
            hole = hole_length(handle.fileno(), position)
            if hole:
                count = min(hole, _HASH_CHUNK)
                digest.update(_ZEROS[:count])
                position += count
                continue
            os.lseek(handle.fileno(), position, os.SEEK_SET)
            count = handle.readinto(buffer)
            if not count:
                return digest.digest()
            digest.update(view[:count])
            position += count


def hole_length(fd, position):
    """How many bytes from `position` are a hole of a sparse file (0 where there is data or at
    the end; lseek(2) SEEK_DATA, which moves the descriptor's offset: callers seek back)."""
    try:
        data = os.lseek(fd, position, os.SEEK_DATA)
    except (AttributeError, OSError) as error:
        if getattr(error, "errno", None) == errno.ENXIO:  # no data after `position`: a hole to the end
            return max(0, os.fstat(fd).st_size - position)
        return 0  # no SEEK_DATA here: read everything
    return data - position
