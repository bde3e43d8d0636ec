"""Plain records of the sandbox catalog: what the dump, genquery and tests read.

The zone owns them; callers treat them as read-only (copies come from `Zone.acl()` and
`Zone.avus()`). Times are whole seconds of the zone clock, as iRODS stores them
(create_ts/modify_ts are seconds since the epoch in the catalog).
"""

import collections

Avu = collections.namedtuple("Avu", "attribute value units")

#: Replica status names. iRODS 4.3 stores numbers (irods/irods
#: `lib/core/include/irods/objInfo.h`: STALE_REPLICA 0, GOOD_REPLICA 1,
#: INTERMEDIATE_REPLICA 2); the sandbox shows the names.
GOOD, STALE, INTERMEDIATE = "good", "stale", "intermediate"
REPLICA_STATUS_NUMBERS = {STALE: 0, GOOD: 1, INTERMEDIATE: 2}

RODSADMIN, RODSUSER, GROUPADMIN, RODSGROUP = "rodsadmin", "rodsuser", "groupadmin", "rodsgroup"


class Clock:
    """The zone's clock: integer seconds, moved only by `advance` (tests stay repeatable)."""

    def __init__(self, start=1767225600):  # 2026-01-01T00:00:00Z
        self._now = int(start)

    def now(self):
        """Current zone time in whole seconds since the epoch."""
        return self._now

    def advance(self, seconds):
        """Move the clock forward by `seconds` (>= 0); returns the new time."""
        seconds = int(seconds)
        if seconds < 0:
            raise ValueError("the zone clock only moves forward (asked to advance %d s)" % seconds)
        self._now += seconds
        return self._now


class User:
    """A user or group. `groups` holds group names (every user is in 'public')."""

    def __init__(self, name, user_type, user_id, zone):
        self.name = name
        self.type = user_type
        self.id = user_id
        self.zone = zone
        self.groups = []

    @property
    def is_group(self):
        return self.type == RODSGROUP

    def __repr__(self):
        return "User(%r, %r)" % (self.name, self.type)


class _Entry:
    """What collections and data objects share: identity, owner, times, ACL, AVUs."""

    def __init__(self, entry_id, path, owner, now):
        self.id = entry_id
        self.path = path
        self.owner = owner
        self.create_time = now
        self.modify_time = now
        self.acl = {}
        self._index = None
        self.avus = []

    # AVUs: a list in catalog order (duplicates possible, see catalog_tree.add_avu) with a
    # count per triple so that "is it attached?" is one look-up, not a scan.
    @property
    def avus(self):
        return self._avus

    @avus.setter
    def avus(self, avus):
        index = self._index
        if index is not None:
            for avu in getattr(self, "_avus", ()):
                index.avu_removed(self, avu)
        self._avus = list(avus)
        self._avu_counts = collections.Counter(self._avus)
        if index is not None:
            for avu in self._avus:
                index.avu_added(self, avu)

    def has_avu(self, avu):
        return self._avu_counts[avu] > 0

    def attach_avu(self, avu):
        self._avus.append(avu)
        self._avu_counts[avu] += 1
        if self._index is not None:
            self._index.avu_added(self, avu)

    def detach_avu(self, avu):
        """Remove one copy of `avu` (it must be attached)."""
        self._avus.remove(avu)
        self._avu_counts[avu] -= 1
        if self._index is not None:
            self._index.avu_removed(self, avu)

    def attach_index(self, index):
        """Called by catalog_index.EntryTable when the entry enters or leaves the table."""
        if self._index is not None:
            for avu in self._avus:
                self._index.avu_removed(self, avu)
        self._index = index
        if index is not None:
            for avu in self._avus:
                index.avu_added(self, avu)

    @property
    def name(self):
        return self.path.rsplit("/", 1)[1] or "/"

    @property
    def parent(self):
        if self.path == "/":
            return None
        return self.path.rsplit("/", 1)[0] or "/"


class Collection(_Entry):
    """A collection. `inherit` is iRODS' coll_inheritance flag."""

    kind = "collection"

    def __init__(self, entry_id, path, owner, now):
        super().__init__(entry_id, path, owner, now)
        self.inherit = False

    def __repr__(self):
        return "Collection(%r)" % self.path


class Replica:
    """One copy of a data object on one resource, with its real file."""

    def __init__(self, number, resource, physical_path, now):
        self.number = number
        self.resource = resource
        self.physical_path = physical_path
        self.size = 0
        self.status = INTERMEDIATE
        self.checksum = ""
        self.modify_time = now
        self.create_time = now

    def __repr__(self):
        return "Replica(%d, %r, %s)" % (self.number, self.resource, self.status)


class DataObject(_Entry):
    """A data object. `size` and `checksum` are those of its first good replica (iRODS
    keeps them per replica: DATA_SIZE and DATA_CHECKSUM are replica columns)."""

    kind = "data_object"

    def __init__(self, entry_id, path, owner, now, data_type="generic"):
        super().__init__(entry_id, path, owner, now)
        self.data_type = data_type
        self.replicas = []

    @property
    def collection(self):
        return self.parent

    def representative_replica(self):
        good = [replica for replica in self.replicas if replica.status == GOOD]
        chosen = good or self.replicas
        return chosen[0] if chosen else None

    @property
    def size(self):
        replica = self.representative_replica()
        return replica.size if replica else 0

    @property
    def checksum(self):
        replica = self.representative_replica()
        return replica.checksum if replica else ""

    def replica_on(self, resource):
        for replica in self.replicas:
            if replica.resource == resource:
                return replica
        return None

    def replica_number(self, number):
        for replica in self.replicas:
            if replica.number == number:
                return replica
        return None

    def __repr__(self):
        return "DataObject(%r)" % self.path


class OpenDescriptor:
    """An open data object (iRODS' L1 descriptor). It follows its replica, so a rename of the
    object while it is open for reading keeps the descriptor usable, as an open file does."""

    def __init__(self, fd, actor, data_object, replica, mode, created, replica_token):
        self.fd = fd
        self.actor = actor
        self.data_object = data_object
        self.replica = replica
        self.mode = mode
        self.position = 0
        self.bytes_written = 0
        self.truncated = False
        self.created = created
        self.replica_token = replica_token

    @property
    def path(self):
        return self.data_object.path

    @property
    def resource(self):
        return self.replica.resource

    @property
    def replica_number(self):
        return self.replica.number

    @property
    def physical_path(self):
        return self.replica.physical_path

    @property
    def writable(self):
        return self.mode != "r"

    @property
    def readable(self):
        return self.mode in ("r", "r+")

    def __repr__(self):
        return "OpenDescriptor(%d, %r, %r)" % (self.fd, self.path, self.mode)
