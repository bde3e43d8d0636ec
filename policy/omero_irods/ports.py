"""What the pipeline needs from an iRODS zone, as one small interface.

The pipeline (pure policy) talks only to a `ZonePort`; `adapters/prep_zone.py`
implements it with microservices inside iRODS. Every method acts as the user the
rule runs as (the service account in the delay queue) and raises:
- `NotFound` when a path does not exist,
- `AlreadyExists` when an AVU add or a create collides,
- `ZoneError` (with the iRODS error code) for anything else.
"""


class ZoneError(Exception):
    """An iRODS operation failed; `code` is the iRODS error number."""

    def __init__(self, code, message):
        super().__init__("%s (iRODS error %d)" % (message, code))
        self.code = code


class NotFound(ZoneError):
    pass


class AlreadyExists(ZoneError):
    pass


class ZonePort(object):
    """The operations the pipeline uses; paths are absolute logical paths."""

    zone_name = None  # e.g. "tempZone"
    user_name = None  # who the rule runs as (the client user)
    proxy_name = None  # who authenticated for them (the same user unless a rodsadmin proxies)

    # --- reading ---
    def kind(self, path):
        """'data_object', 'collection' or None when nothing is there."""
        raise NotImplementedError

    def data_object(self, path):
        """{'size', 'owner', 'checksum' (may be ''), 'physical_path'} of a data object."""
        raise NotImplementedError

    def read(self, path, max_bytes):
        """The first max_bytes (+1, so callers can tell "too long") bytes of a data object."""
        raise NotImplementedError

    def open_reader(self, path):
        """A binary, seekable, unbuffered file object over a data object (for walking tar
        headers): each read(n) is one round trip and may return fewer than n bytes."""
        raise NotImplementedError

    def checksum(self, path):
        """The catalog checksum (`sha2:<base64>`), computed by the server if missing."""
        raise NotImplementedError

    def tree(self, collection):
        """Every data object in a collection or below it, and nothing else:
        [{'path', 'size', 'physical_path'}] sorted by path."""
        raise NotImplementedError

    def readable_by(self, collection, user):
        """The set of paths of data objects in or below a collection that `user`, or a group
        of theirs, may read (read or more on the object itself)."""
        raise NotImplementedError

    def request_payloads(self, landing_zone):
        """Payload-named data objects in the landing zone's request collections:
        [{'path', 'owner', 'created' (epoch seconds)}]."""
        raise NotImplementedError

    def avus(self, path):
        """[(attribute, value, units)] of a data object or collection."""
        raise NotImplementedError

    def names_in(self, collection):
        """The set of names (collections and data objects) directly in a collection that the
        rule's user can see; empty when the collection does not exist."""
        raise NotImplementedError

    def user_info(self, name):
        """{'type': 'rodsuser'|'rodsadmin'|'groupadmin'|'rodsgroup', 'groups': set of the group
        names the user is a member of (not their own name)} of a user or group of this zone, or
        None when there is none."""
        raise NotImplementedError

    def access_holders(self, collection):
        """The names of every user or group holding any access on a collection or anything in
        or below it."""
        raise NotImplementedError

    def access_entries(self, collection):
        """{(user or group name, user type, access level)} of every ACL entry on a collection
        and on anything in or below it."""
        raise NotImplementedError

    def inherits(self, collection):
        """Whether a collection's inheritance flag is on (new entries copy its ACL)."""
        raise NotImplementedError

    def find_by_avu(self, attribute, value=None):
        """Paths of data objects carrying the AVU: any value when value is None, one of them
        when it is a tuple or list."""
        raise NotImplementedError

    # --- writing ---
    def create_collection(self, path):
        """Create a collection and its missing parents."""
        raise NotImplementedError

    def extract_tar(self, tar_path, collection):
        """Extract a tar (msiTarFileExtract) into a NEW collection."""
        raise NotImplementedError

    def rename(self, source, destination):
        """Move a data object or collection (the physical files follow in a vault)."""
        raise NotImplementedError

    def remove(self, path):
        """Remove a data object or a collection tree, without the trash."""
        raise NotImplementedError

    def add_avus(self, path, avus, admin_mode=False):
        """Add [(a, v, u)] in ONE transaction (an AVU already there is left as it is);
        admin_mode lets a rodsadmin write where it has no ACL (`imeta -M`)."""
        raise NotImplementedError

    def add_avu_once(self, path, attribute, value, units=""):
        """Add one AVU; AlreadyExists if that exact AVU is there (the once-only claim)."""
        raise NotImplementedError

    def remove_avus(self, path, avus):
        """Remove [(a, v, u)] (AVUs just read from `path`) in ONE transaction."""
        raise NotImplementedError

    def set_avu(self, path, attribute, value, units=""):
        """Replace every value of an attribute with one value."""
        raise NotImplementedError

    def grant(self, path, entity, level, recursive=False, admin_mode=False):
        """Set an ACL (`own`, `write`, `read`, `null`) for a user or group; admin_mode is
        `ichmod -M` (a rodsadmin acting where it has no ACL)."""
        raise NotImplementedError

    def set_inheritance(self, path, recursive=False, admin_mode=False):
        raise NotImplementedError

    # --- side effects ---
    def log(self, message):
        """One line in the server log (serverLog), prefixed by the caller."""
        raise NotImplementedError

    def schedule(self, rule_name, args, delay_seconds):
        """Queue `callback.<rule_name>(*args)` on the delay server."""
        raise NotImplementedError

    # --- the records collection (omero_irods.records) ---
    def create_collection_exclusive(self, path):
        """Create ONE collection (its parent must exist): True, or False when that name is
        taken. The catalog's unique index on collection names decides, so of any number of
        agents creating the same name at once exactly one gets True: the once-only claim."""
        raise NotImplementedError

    def data_object_id(self, path):
        """The catalog id (a string) of a data object, or None when there is none."""
        raise NotImplementedError

    def collection_acl(self, path):
        """[(user or group name, user type, access level)] of a collection's ACL."""
        raise NotImplementedError

    def child_acls(self, parent):
        """{collection path: [(user or group name, user type, access level)]} of the
        collections directly in `parent`, in a fixed number of queries."""
        raise NotImplementedError

    def record_avus(self, records, attributes=None):
        """{collection path: [(a, v, u)]} of the collections directly in `records`, in one
        query; only the AVUs named in `attributes` when given."""
        raise NotImplementedError
