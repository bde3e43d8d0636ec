"""Zone operations on data objects: create/open/read/write/close, unlink, replicas,
checksums and tar extraction.

A mixin of `catalog.Zone`. Sources are irods/irods, branch 4-3-stable, unless named otherwise.
Opening for write makes the replica intermediate until its last writer closes; a second
writer must present the first one's replica token, as PRC's parallel transfer does
(`server/core/src/logical_locking.cpp`: INTERMEDIATE_REPLICA_ACCESS without a valid token,
LOCKED_DATA_OBJECT_ACCESS for a sibling replica or an operation on a locked object).
"""

import contextlib
import errno
import hashlib
import os
import posixpath

from . import tar_members
from . import vault
from .error_codes import IrodsError, code
from .records import GOOD, INTERMEDIATE, STALE, Collection, DataObject, OpenDescriptor, Replica

#: iRODS hands out L1 descriptors from 3 upwards (`server/core/src/objDesc.cpp` allocL1desc).
FIRST_FD = 3
OPEN_MODES = ("r", "w", "a", "r+")
SEEK_WHENCE = (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END)
#: itrim's default minimum number of replicas to keep (`server/api/include/irods/rsDataObjTrim.hpp`).
DEFAULT_MINIMUM_COPIES = 2


class _WriteSession:
    """The writers of one replica sharing a replica token."""

    def __init__(self, token, data_object, replica):
        self.token = token
        self.data_object = data_object
        self.replica = replica
        self.prior_status = replica.status
        self.fds = set()
        self.changed = False


@contextlib.contextmanager
def _vault_errors(error_name, descriptor):
    """An OS error on the vault file becomes the iRODS code plus errno, as the
    unixfilesystem plugin reports it (`plugins/resources/unixfilesystem/src/unixfilesystem.cpp`)."""
    try:
        yield
    except OSError as error:
        raise IrodsError(code(error_name) - (error.errno or 0), "%s of %s (%s) failed: %s"
                         % (error_name, descriptor.path, descriptor.physical_path, error.strerror)) from None


class DataObjectOperations:
    """Data objects, descriptors, replicas, checksums and tar extraction."""

    # ---- create and open -------------------------------------------------------------
    def create_data_object(self, actor, path, resource=None, force=False, data_type="generic"):
        """rsDataObjCreate: a new object (or, with force=True, an existing one truncated) open
        for writing; returns its fd. Needs modify_object on the collection (db_plugin.cpp
        db_reg_data_obj_op). An existing object without force is OVERWRITE_WITHOUT_FORCE_FLAG;
        a collection at the path is CAT_NAME_EXISTS_AS_COLLECTION; a missing collection is
        CAT_UNKNOWN_COLLECTION."""
        path = self._normalize(path)
        explicit_resource = resource
        resource = self._resource(resource or self.default_resource)
        existing = self._entries.get(path)
        if isinstance(existing, Collection):
            raise IrodsError("CAT_NAME_EXISTS_AS_COLLECTION", "cannot create data object %s: a collection "
                             "has that path" % path)
        if isinstance(existing, DataObject):
            if not force:
                raise IrodsError("OVERWRITE_WITHOUT_FORCE_FLAG", "data object %s exists; overwriting it needs "
                                 "the force flag" % path)
            return self.open_data_object(actor, path, "w", resource=explicit_resource)
        parent = self._entries.get(posixpath.dirname(path))
        if not isinstance(parent, Collection):
            raise IrodsError("CAT_UNKNOWN_COLLECTION", "cannot create %s: collection %s is unknown"
                             % (path, posixpath.dirname(path)))
        self._require(actor, parent, "modify_object", "create data object %s in it" % path)
        data_object = DataObject(self._new_id(), path, actor, self.clock.now(), data_type)
        data_object.acl = self._inherited_acl(parent, actor)
        replica = self._new_replica(data_object, resource.name)
        vault.create_empty(replica.physical_path)
        self._entries[path] = data_object
        self._touch(parent.path)
        return self._open_descriptor(actor, data_object, replica, "w", created=True, replica_token=None)

    def open_data_object(self, actor, path, mode="r", resource=None, replica_number=None, replica_token=None):
        """rsDataObjOpen of an existing object: 'r' needs read_object; 'w' (truncate), 'a'
        (append) and 'r+' need modify_object. Picks the replica by number, by resource (a
        write to a resource without a replica makes a new one there), else a good one on the
        default resource, else the first good one. Returns an fd."""
        if mode not in OPEN_MODES:
            raise IrodsError("SYS_INVALID_INPUT_PARAM", "open mode %r for %s is not one of %s"
                             % (mode, path, ", ".join(OPEN_MODES)))
        data_object = self._data_object_or_raise(path, "open")
        self._require(actor, data_object, "read_object" if mode == "r" else "modify_object", "open it (%s)" % mode)
        replica = self._replica_to_open(data_object, mode, resource, replica_number)
        self._check_open_allowed(data_object, replica, replica_token)
        return self._open_descriptor(actor, data_object, replica, mode, created=False, replica_token=replica_token)

    def _replica_to_open(self, data_object, mode, resource, replica_number):
        if replica_number is not None:
            return self._replica_by_number(data_object, replica_number)
        if resource is not None:
            self._resource(resource)
            replica = data_object.replica_on(resource)
            if replica is not None:
                return replica
            if mode == "r":
                raise IrodsError("SYS_REPLICA_DOES_NOT_EXIST", "%s has no replica on resource %s"
                                 % (data_object.path, resource))
            replica = self._new_replica(data_object, resource)
            vault.create_empty(replica.physical_path)
            return replica
        good = [replica for replica in data_object.replicas if replica.status == GOOD]
        preferred = [replica for replica in good if replica.resource == self.default_resource]
        chosen = preferred or good or ([] if mode == "r" else data_object.replicas)
        if not chosen:
            raise IrodsError("SYS_NO_GOOD_REPLICA", "%s has no good replica to read" % data_object.path)
        return chosen[0]

    def _check_open_allowed(self, data_object, replica, replica_token):
        if replica.status == INTERMEDIATE:
            session = self._write_sessions.get(replica_token)
            if session is None or session.replica is not replica:
                raise IrodsError("INTERMEDIATE_REPLICA_ACCESS", "replica %d of %s is being written; opening it "
                                 "again needs that writer's replica token" % (replica.number, data_object.path))
            return
        if any(other.status == INTERMEDIATE for other in data_object.replicas if other is not replica):
            raise IrodsError("LOCKED_DATA_OBJECT_ACCESS", "%s is locked: another replica is being written"
                             % data_object.path)

    def _open_descriptor(self, actor, data_object, replica, mode, created, replica_token):
        fd = FIRST_FD
        while fd in self._descriptors:
            fd += 1
        token = replica_token
        if mode != "r":
            token = self._join_write_session(data_object, replica, replica_token, fd)
        descriptor = OpenDescriptor(fd, actor, data_object, replica, mode, created, token)
        if mode == "w" and not created:
            vault.truncate(replica.physical_path)
            descriptor.truncated = True
        if mode == "a":
            descriptor.position = vault.size_of(replica.physical_path)
        self._descriptors[fd] = descriptor
        return fd

    def _join_write_session(self, data_object, replica, replica_token, fd):
        session = self._write_sessions.get(replica_token) if replica_token else None
        if session is None:
            self._token_counter += 1
            session = _WriteSession("sandbox-replica-token-%d" % self._token_counter, data_object, replica)
            self._write_sessions[session.token] = session
            replica.status = INTERMEDIATE
        session.fds.add(fd)
        return session.token

    # ---- descriptors -----------------------------------------------------------------
    def descriptor(self, fd):
        """The OpenDescriptor of an open fd. Out of range: SYS_FILE_DESC_OUT_OF_RANGE; not open:
        BAD_INPUT_DESC_INDEX (`server/core/src/objDesc.cpp`, the rsDataObj* APIs)."""
        if not isinstance(fd, int) or fd < FIRST_FD:
            raise IrodsError("SYS_FILE_DESC_OUT_OF_RANGE", "descriptor %r is out of range (iRODS starts at 3)" % (fd,))
        if fd not in self._descriptors:
            raise IrodsError("BAD_INPUT_DESC_INDEX", "descriptor %d is not open" % fd)
        return self._descriptors[fd]

    def open_descriptors(self):
        """Every OpenDescriptor, by fd."""
        return [self._descriptors[fd] for fd in sorted(self._descriptors)]

    def write(self, fd, data):
        """Write bytes at the descriptor's position; returns the count. A descriptor opened for
        reading fails as the vault's write(2) does: UNIX_FILE_WRITE_ERR - EBADF."""
        descriptor = self.descriptor(fd)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise IrodsError("SYS_INVALID_INPUT_PARAM", "write to %s needs bytes, got %s"
                             % (descriptor.path, type(data).__name__))
        if not descriptor.writable:
            raise IrodsError(code("UNIX_FILE_WRITE_ERR") - errno.EBADF, "%s (descriptor %d) is open for reading only"
                             % (descriptor.path, fd))
        data = bytes(data)
        with _vault_errors("UNIX_FILE_WRITE_ERR", descriptor):
            vault.write_at(descriptor.physical_path, descriptor.position, data)
        descriptor.position += len(data)
        descriptor.bytes_written += len(data)
        return len(data)

    def read(self, fd, length=-1):
        """Read up to `length` bytes (all that remain for -1)."""
        descriptor = self.descriptor(fd)
        if not descriptor.readable:
            raise IrodsError(code("UNIX_FILE_READ_ERR") - errno.EBADF, "%s (descriptor %d) is open for writing only"
                             % (descriptor.path, fd))
        with _vault_errors("UNIX_FILE_READ_ERR", descriptor):
            data = vault.read_at(descriptor.physical_path, descriptor.position, length)
        descriptor.position += len(data)
        return data

    def seek(self, fd, offset, whence=os.SEEK_SET):
        """lseek: whence 0 (set), 1 (current), 2 (end); returns the new position. A negative
        position fails as lseek(2) does: UNIX_FILE_LSEEK_ERR - EINVAL."""
        descriptor = self.descriptor(fd)
        if whence not in SEEK_WHENCE:
            raise IrodsError("SYS_INVALID_INPUT_PARAM", "seek whence %r is not 0, 1 or 2" % (whence,))
        base = {os.SEEK_SET: 0, os.SEEK_CUR: descriptor.position,
                os.SEEK_END: vault.size_of(descriptor.physical_path)}[whence]
        if base + offset < 0:
            raise IrodsError(code("UNIX_FILE_LSEEK_ERR") - errno.EINVAL, "seek to %d in %s is before its start"
                             % (base + offset, descriptor.path))
        descriptor.position = base + offset
        return descriptor.position

    def close(self, fd):
        """Close a descriptor. When the last writer of a replica closes, the replica records
        its size and modify time and becomes good, the other good replicas stale, and stored
        checksums are dropped (rs_data_object_finalize / rsDataObjClose finalize). A writer
        that changed nothing leaves the statuses as they were. Returns the DataObject."""
        descriptor = self.descriptor(fd)
        del self._descriptors[fd]
        data_object = descriptor.data_object
        if not descriptor.writable:
            return data_object
        session = self._write_sessions[descriptor.replica_token]
        session.fds.discard(fd)
        session.changed = session.changed or descriptor.bytes_written > 0 or descriptor.truncated or descriptor.created
        if not session.fds:
            del self._write_sessions[session.token]
            self._finalize(session)
        return data_object

    def _finalize(self, session):
        replica, data_object = session.replica, session.data_object
        if not session.changed:
            replica.status = session.prior_status
            return
        now = self.clock.now()
        replica.size = vault.size_of(replica.physical_path)
        replica.checksum = ""
        replica.modify_time = now
        replica.status = GOOD
        for other in data_object.replicas:
            if other is not replica and other.status == GOOD:
                other.status = STALE
        data_object.modify_time = now

    def truncate_data_object(self, actor, path, size, resource=None):
        """rsDataObjTruncate / rs_replica_truncate: cut a replica to `size` bytes (needs
        modify_object), finalized like a write; with `resource`, that resource's replica, else
        the one a write would open. Returns the DataObject."""
        if int(size) < 0:
            raise IrodsError("SYS_INVALID_INPUT_PARAM", "cannot truncate %s to %s bytes" % (path, size))
        fd = self.open_data_object(actor, path, "r+", resource=resource)
        descriptor = self.descriptor(fd)
        with _vault_errors("UNIX_FILE_TRUNCATE_ERR", descriptor):
            vault.truncate_to(descriptor.physical_path, int(size))
        descriptor.truncated = True
        return self.close(fd)

    def put(self, actor, path, data, resource=None, force=False, data_type="generic"):
        """iput convenience: create (or overwrite with force) + write `data` + close."""
        fd = self.create_data_object(actor, path, resource=resource, force=force, data_type=data_type)
        try:
            self.write(fd, data)
        finally:
            data_object = self.close(fd)
        return data_object

    def read_bytes(self, actor, path, resource=None):
        """iget convenience: all bytes of a good replica (on `resource` if given)."""
        fd = self.open_data_object(actor, path, "r", resource=resource)
        try:
            return self.read(fd)
        finally:
            self.close(fd)

    # ---- unlink ----------------------------------------------------------------------
    def unlink(self, actor, path, force=False):
        """irm (`server/api/src/rsDataObjUnlink.cpp`). Needs delete_object (db_plugin.cpp
        db_unreg_replica_op). Without force the object moves to the actor's trash
        (rsMvDataObjToTrash, a rename: it also needs own). With force its catalog entry and
        every replica's file go. Returns the trash path, or None."""
        data_object = self._data_object_or_raise(path, "remove")
        self._refuse_if_locked(data_object, "remove it")
        self._require(actor, data_object, "delete_object", "remove it")
        if not force:
            return self._move_to_trash(actor, data_object.path)
        for replica in data_object.replicas:
            vault.remove(replica.physical_path)
        del self._entries[data_object.path]
        self._touch(data_object.parent)
        return None

    # ---- replicas --------------------------------------------------------------------
    def replicate(self, actor, path, resource, source_resource=None, admin_mode=False):
        """irepl (`server/api/src/rsDataObjRepl.cpp`): needs modify_object (admin mode: a
        rodsadmin). A good replica already on `resource` is left alone; a stale one is
        updated from a good source; otherwise a new replica is made. Returns that Replica."""
        data_object = self._data_object_or_raise(path, "replicate")
        if not self._require_admin_mode(actor, admin_mode):
            self._require(actor, data_object, "modify_object", "replicate it")
        self._resource(resource)
        self._refuse_if_locked(data_object, "replicate it")
        source = self._source_replica(data_object, source_resource)
        destination = data_object.replica_on(resource)
        if destination is source:
            raise IrodsError("SYS_NOT_ALLOWED", "cannot replicate %s from resource %s onto itself"
                             % (data_object.path, resource))
        if destination is not None and destination.status == GOOD:
            return destination
        if destination is None:
            destination = self._new_replica(data_object, resource)
        self._copy_replica(source, destination)
        return destination

    def trim(self, actor, path, resource=None, replica_number=None,
             minimum_copies=DEFAULT_MINIMUM_COPIES, admin_mode=False):
        """itrim (`server/api/src/rsDataObjTrim.cpp`): needs delete_object (admin mode: a
        rodsadmin). Keeps at least `minimum_copies` replicas (default 2, as itrim) and never
        the last good one: a named replica that is the last good one is
        USER_INCOMPATIBLE_PARAMS. Stale replicas go first. Returns the trimmed numbers."""
        data_object = self._data_object_or_raise(path, "trim")
        if not self._require_admin_mode(actor, admin_mode):
            self._require(actor, data_object, "delete_object", "trim it")
        if resource is not None and replica_number is not None:
            raise IrodsError("USER_INCOMPATIBLE_PARAMS", "trim %s: give a resource or a replica number, not both"
                             % data_object.path)
        if int(minimum_copies) <= 0:
            raise IrodsError("SYS_INVALID_INPUT_PARAM", "trim %s: minimum copies %r must be positive"
                             % (data_object.path, minimum_copies))
        if resource is not None:
            self._resource(resource)
        self._refuse_if_locked(data_object, "trim it")
        doomed = self._replicas_to_trim(data_object, resource, replica_number, int(minimum_copies))
        for replica in doomed:
            vault.remove(replica.physical_path)
            data_object.replicas.remove(replica)
        return [replica.number for replica in doomed]

    def _replicas_to_trim(self, data_object, resource, replica_number, minimum_copies):
        replicas = list(data_object.replicas)
        good_count = sum(1 for replica in replicas if replica.status == GOOD)
        if len(replicas) <= minimum_copies:
            return []
        if replica_number is not None:
            target = self._replica_by_number(data_object, replica_number)
            if target.status == GOOD and good_count <= 1:
                raise IrodsError("USER_INCOMPATIBLE_PARAMS", "cannot remove the last good replica (%d) of %s"
                                 % (target.number, data_object.path))
            return [target]
        doomed = []
        for wanted, keep_good in ((STALE, None), (GOOD, 1)):
            for replica in replicas:
                if len(replicas) - len(doomed) <= minimum_copies:
                    return doomed
                if keep_good and good_count - sum(1 for r in doomed if r.status == GOOD) <= keep_good:
                    return doomed
                if replica.status == wanted and (resource is None or replica.resource == resource):
                    doomed.append(replica)
        return doomed

    def phymv(self, actor, path, destination_resource, source_resource=None, replica_number=None, admin_mode=False):
        """iphymv (`server/api/src/rsDataObjPhymv.cpp`): replicate to the destination, then
        remove the source replica and its file. Needs delete_object on the object (admin
        mode: a rodsadmin); the source must be named (USER__NULL_INPUT_ERR); a destination
        holding a replica that is not stale, or the source's own resource, is
        SYS_NOT_ALLOWED (`server/core/src/replication_utilities.cpp` is_allowed). Returns the
        replica now on the destination (a new replica number, as a replication makes)."""
        data_object = self._data_object_or_raise(path, "move a replica of")
        if not self._require_admin_mode(actor, admin_mode):
            self._require(actor, data_object, "delete_object", "move a replica of it")
        if source_resource is None and replica_number is None:
            raise IrodsError("USER__NULL_INPUT_ERR", "phymv %s: source resource or replica number required"
                             % data_object.path)
        source = (self._replica_by_number(data_object, replica_number) if replica_number is not None
                  else self._replica_on_or_raise(data_object, source_resource))
        self._resource(destination_resource)
        self._refuse_if_locked(data_object, "move a replica of it")
        destination = data_object.replica_on(destination_resource)
        if source.resource == destination_resource or (
                destination is not None and (destination.status != STALE or source.status != GOOD)):
            raise IrodsError("SYS_NOT_ALLOWED", "phymv %s to %s is not allowed: the resource already holds a "
                             "replica that is not stale, or is the source" % (data_object.path, destination_resource))
        if destination is None:
            destination = self._new_replica(data_object, destination_resource)
        self._copy_replica(source, destination)
        vault.remove(source.physical_path)
        data_object.replicas.remove(source)
        return destination

    def _source_replica(self, data_object, source_resource):
        if source_resource is not None:
            return self._replica_on_or_raise(data_object, source_resource)
        good = [replica for replica in data_object.replicas if replica.status == GOOD]
        if not good:
            raise IrodsError("SYS_NO_GOOD_REPLICA", "%s has no good replica to copy from" % data_object.path)
        return good[0]

    def _copy_replica(self, source, destination):
        if destination.status == STALE and source.status != GOOD:
            raise IrodsError("SYS_NOT_ALLOWED", "source replica %d is not good and would overwrite replica %d"
                             % (source.number, destination.number))
        vault.copy(source.physical_path, destination.physical_path)
        destination.size = source.size
        destination.checksum = source.checksum
        destination.status = source.status
        destination.modify_time = self.clock.now()

    def _new_replica(self, data_object, resource):
        number = max((replica.number for replica in data_object.replicas), default=-1) + 1
        physical = self._resource(resource).physical_path(data_object.path)
        if os.path.lexists(physical):
            # physPath.cpp resolveDupFilePath: a taken vault path gets '.<replica number>'.
            physical = "%s.%d" % (physical, number)
        replica = Replica(number, resource, physical, self.clock.now())
        data_object.replicas.append(replica)
        return replica

    def _replica_by_number(self, data_object, number):
        replica = data_object.replica_number(int(number))
        if replica is None:
            raise IrodsError("SYS_REPLICA_DOES_NOT_EXIST", "%s has no replica number %s" % (data_object.path, number))
        return replica

    def _replica_on_or_raise(self, data_object, resource):
        self._resource(resource)
        replica = data_object.replica_on(resource)
        if replica is None:
            raise IrodsError("SYS_REPLICA_DOES_NOT_EXIST", "%s has no replica on resource %s"
                             % (data_object.path, resource))
        return replica

    # ---- checksums -------------------------------------------------------------------
    def checksum(self, actor, path, resource=None, force=False, replica_number=None):
        """ichksum: the replica's checksum, computed and stored unless it has one (force=True
        recomputes). SHA256 form: 'sha2:' + base64(digest) (see vault.sha256_checksum).
        Needs read_object (db_plugin.cpp db_mod_data_obj_meta_op: a checksum-only update)."""
        data_object = self._data_object_or_raise(path, "checksum")
        self._require(actor, data_object, "read_object", "checksum it")
        if replica_number is not None:
            replica = self._replica_by_number(data_object, replica_number)
        elif resource is not None:
            replica = self._replica_on_or_raise(data_object, resource)
        else:
            replica = data_object.representative_replica()
        if replica.status == INTERMEDIATE:
            raise IrodsError("INTERMEDIATE_REPLICA_ACCESS", "replica %d of %s is being written"
                             % (replica.number, data_object.path))
        if force or not replica.checksum:
            replica.checksum = self._computed_checksum(replica)
        return replica.checksum

    def verify_put_checksum(self, path, client_checksum):
        """A put with VERIFY_CHKSUM_KW (`iput -K`): the client sends the checksum it computed
        in its own environment's irods_default_hash_scheme (irods/irods lib/core/src/
        putUtil.cpp); the server computes the replica's in that scheme under match_hash_policy
        "compatible" and registers it, so an MD5 client leaves an MD5 checksum in a SHA256
        zone. Under "strict" a different scheme is USER_HASH_TYPE_MISMATCH and a wrong digest
        USER_CHKSUM_MISMATCH; the replica is then left stale with no checksum (seen on iRODS
        5.0.2: `ils -L` shows X)."""
        replica = self._data_object_or_raise(path, "checksum").representative_replica()
        try:
            computed = self._computed_checksum(replica, original=client_checksum)
            if computed != client_checksum:
                raise IrodsError("USER_CHKSUM_MISMATCH", "%s: the client's checksum %s is not the replica's %s"
                                 % (path, client_checksum, computed))
        except IrodsError:
            replica.status, replica.checksum = STALE, ""
            raise
        replica.checksum = computed
        return computed

    def _computed_checksum(self, replica, original=None):
        """The scheme as irods/irods server/api/src/rsFileChksum.cpp (file_checksum) picks it,
        with lib/hasher's checksum.h prefixes: server_config.json's default_hash_scheme, unless
        an `original` checksum is handed in (ORIG_CHKSUM_KW: a verification, or a put with the
        client's checksum), whose scheme is kept under match_hash_policy "compatible" and is
        USER_HASH_TYPE_MISMATCH under "strict" when it differs. A forced recompute hands none in
        (server/api/src/rsDataObjChksum.cpp), so `ichksum -f` / msiDataObjChksum forceChksum=
        of a replica holding an MD5 checksum answers in the default scheme (seen on iRODS 5.0.2
        under "compatible")."""
        scheme = self.server.default_hash_scheme
        if original:
            original_scheme = "SHA256" if original.startswith("sha2:") else "MD5"
            if self.server.match_hash_policy == "strict" and original_scheme != scheme:
                raise IrodsError("USER_HASH_TYPE_MISMATCH", "%s checksum given; the zone's scheme is %s"
                                 % (original_scheme, scheme))
            scheme = original_scheme
        if scheme == "MD5":
            return _md5_checksum(replica.physical_path)
        return vault.sha256_checksum(replica.physical_path)

    # ---- tar extraction --------------------------------------------------------------
    def extract_tar(self, actor, tar_path, destination, resource=None):
        """msiTarFileExtract / ibun -x (`server/api/src/rsStructFileExtAndReg.cpp`).

        Reads the tar's replica (on `resource` if given, else REPLICA_NOT_IN_RESC), makes
        `destination` with its parents and needs delete_object on it (chkCollForExtAndReg).
        The system libarchive then unpacks it into `<tar's vault file>.dir` exactly as the
        real plugin does (see tar_members): a member that climbs out of that folder is written
        where it points on the emulated server disk and logged as an ERROR in `server_log`.
        regUnbunSubfiles then registers what is in the folder: every directory as a
        collection, every regular file as a data object on the tar's resource (its vault file
        hard-linked into place, regSubfile). A member whose vault file exists is
        SYS_COPY_ALREADY_IN_RESC; one whose logical path is a data object elsewhere is
        CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME. Like the real one it goes on past failing
        members and reports the last failure at the end (registered members stay). Returns the
        registered data object paths."""
        tar_object = self._data_object_or_raise(tar_path, "extract")
        self._require(actor, tar_object, "read_object", "extract it")
        tar_replica = (self._replica_on_or_code(tar_object, resource) if resource is not None
                       else tar_object.representative_replica())
        destination = self._normalize(destination)
        collection = self.create_collection(actor, destination, parents=True)
        self._require(actor, collection, "delete_object", "extract %s into it" % tar_object.path)
        root = tar_members.server_root(self.root_dir)
        extraction = tar_members.extract(tar_replica.physical_path, tar_object.path, root)
        self._log_extraction_problems(tar_object.path, extraction)
        folders, files = tar_members.relative_files_and_folders(extraction.cache_dir)
        failures, registered = [], []
        for relative in folders:
            try:
                self.create_collection(actor, destination + "/" + relative, parents=True)
            except IrodsError as error:
                failures.append((relative, error))
        for relative in files:
            cache_file = os.path.join(extraction.cache_dir, *relative.split("/"))
            try:
                registered.append(self._register_member(actor, tar_replica, cache_file, destination + "/" + relative))
            except IrodsError as error:
                failures.append((relative, error))
            finally:
                vault.remove(cache_file)  # regUnbunSubfiles unlinks it, registered or not
        tar_members.remove_cache_dir(extraction.cache_dir)
        if failures:
            raise IrodsError(failures[-1][1].code, "extracting %s into %s: %s" % (
                tar_object.path, destination, "; ".join("%s: %s" % (name, error) for name, error in failures)))
        return registered

    def _log_extraction_problems(self, tar_path, extraction):
        log = self.server_log
        for name, message in extraction.failed:
            # structfile.cpp extract_file logs a member it could not write at LOG_NOTICE.
            log.append("NOTICE: extract_file - failed to write [%s] of %s: %s" % (name, tar_path, message))
        for name, where in extraction.misplaced:
            log.append("ERROR: sandbox: msiTarFileExtract of %s wrote member %r to %s on the server's disk, "
                       "outside its extraction folder: the policy let an escaping member through"
                       % (tar_path, name, where))

    def _replica_on_or_code(self, data_object, resource):
        replica = data_object.replica_on(resource)
        if replica is None:
            raise IrodsError("REPLICA_NOT_IN_RESC", "%s does not exist or is not a replica on the target "
                             "resource [%s]" % (data_object.path, resource))
        return replica

    def _register_member(self, actor, tar_replica, cache_file, logical_path):
        physical = self._resource(tar_replica.resource).physical_path(logical_path)
        if os.path.lexists(physical):
            raise IrodsError("SYS_COPY_ALREADY_IN_RESC", "vault path %s of %s is already in use"
                             % (physical, logical_path))
        existing = self._entries.get(logical_path)
        if isinstance(existing, Collection):
            raise IrodsError("CAT_NAME_EXISTS_AS_COLLECTION", "%s is a collection" % logical_path)
        if isinstance(existing, DataObject):
            raise IrodsError("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", "data object %s already exists" % logical_path)
        parent = self._entries[posixpath.dirname(logical_path)]
        self._require(actor, parent, "modify_object", "register %s in it" % logical_path)
        data_object = DataObject(self._new_id(), logical_path, actor, self.clock.now())
        data_object.acl = self._inherited_acl(parent, actor)
        replica = self._new_replica(data_object, tar_replica.resource)
        vault.link(cache_file, replica.physical_path)  # regSubfile: link(subfilePath, vault path)
        replica.size = vault.size_of(replica.physical_path)
        replica.status = GOOD
        self._entries[logical_path] = data_object
        return logical_path

    # ---- shared checks ---------------------------------------------------------------
    def _data_object_or_raise(self, path, doing):
        entry = self._entries.get(self._normalize(path))
        if not isinstance(entry, DataObject):
            what = "is a collection" if isinstance(entry, Collection) else "does not exist"
            raise IrodsError("CAT_NO_ROWS_FOUND", "cannot %s %s: it %s" % (doing, path, what))
        return entry

    def _refuse_if_locked(self, data_object, doing):
        if any(replica.status == INTERMEDIATE for replica in data_object.replicas):
            raise IrodsError("LOCKED_DATA_OBJECT_ACCESS", "cannot %s: %s is open for writing"
                             % (doing, data_object.path))


def _md5_checksum(path):
    """iRODS' MD5 checksum string: the hex digest, no prefix (irods/irods lib/hasher/src/
    MD5Strategy.cpp)."""
    return vault.file_digest(path, hashlib.md5()).hex()
