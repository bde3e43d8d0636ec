"""The records collection: the only place whose content drives the pipeline.

Users can write AVUs on their placed data (they get `own` on it) and, where an admin allows,
in the landing zone; so neither may say what the pipeline does next. Every decision is read
from the zone's records collection (`records` in the config, default
`/<zone>/home/<service account>/omero-irods-records`), which only the service account (and
rodsadmins, who can do anything anyway) may write: `admin provision` creates it with the
service account's `own` only and inheritance off, and every delayed rule refuses to trust it
(`untrusted_writers`) while anyone else holds more than read on it.

Layout, per request:

    <records>/<request_id>/                 the request's record: its AVUs are its state
        omero_irods::payload_id            the catalog id of the landing payload it claimed
        omero_irods::request_id, operation, omero_user, omero_group, state, state_since,
        error, destination, staged, import_root, omero_target, omero_image_count, omero_images,
        reprocess (an admin's or the OMERO side's mark)
    <records>/<request_id>/attempt-N/       claim of processing attempt N
    <records>/<request_id>/import-N/        claim of import attempt N
    <records>/<request_id>/staging-N/       attempt N's extraction (renamed into place)
    <records>/<request_id>/<request_id>.omero-irods.json   the payload, moved here once placed
    <records>/links/                        what OMERO links to, for the guard (see below)
        omero_irods::linked_under          each allowed root anything was ever linked in
    <records>/links/<request_id>/          one request's links
        omero_irods::linked_root = <root> [<OMERO user who holds the links>]

The guard's query runs as whoever moves or removes data, and GenQuery shows a rodsuser only
the collections they may read (checked on iRODS 5.0.2: a rodsuser's query of another user's
collection AVUs answers CAT_NO_ROWS_FOUND), so `links` and its entries are readable by the
group `public`: every user can see which roots OMERO links to, under which request id and for
which OMERO user. Nobody but the service account (and rodsadmins) may change them. A request
id has at least 8 characters, so `links` is never a request's record.

Claims are collections created without parents: the catalog's unique index on collection
names (R_COLL_MAIN coll_name, irods/irods scripts/irods/database/icatSysTables.sql) makes the
second create of a name fail with CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME however many agents
try at once, where an AVU add is a look-up then an insert (db_plugin.cpp findOrInsertAVU) that
two agents can both pass.
"""

import posixpath

from omero_irods import names
from omero_irods.errors import ConfigError
from omero_irods.ports import ZoneError

ATTEMPT = "attempt-"
IMPORT_ATTEMPT = "import-"
IMPORT_CHECKED = "checked-"  # the check that recorded import-N's result
STAGING = "staging-"
LINKS = "links"
#: Everyone may read the links (the guard's query runs as the caller); only the service account writes.
LINKS_READERS = "public"

#: Access levels that write nothing: iRODS 4.3+/5 names and the older spaced spellings
#: (irods/irods lib/core/include/irods/objInfo.h access types). Anything else (create_object,
#: the metadata levels, own...) lets its holder make or mark records.
_READ_ONLY_LEVELS = frozenset(["null", "read_metadata", "read_object", "read object", "read"])


#: Access levels that can change neither a data object's bytes nor what a collection holds
#: nor an ACL: the metadata levels and below (irods/irods plugins/database/src/icatSysInserts.sql,
#: access_type numbers 1000-1090; administer_object, 1100, may change ACLs). A landing
#: payload's AVUs are never read, so holding these on landing data makes nothing untrustworthy.
_NO_CONTENT_LEVELS = _READ_ONLY_LEVELS | frozenset([
    "execute", "read_annotation", "read_system_metadata", "write_annotation", "create_metadata",
    "modify_metadata", "delete_metadata"])


class UntrustedRecords(ConfigError):
    """The records collection is missing or others may write there: nothing is processed
    (a delayed rule is deferred, logged, until an admin fixes it). Its message says what is
    wrong in the zone and what the admin must do: the config file itself is not at fault."""

    def __init__(self, path, pointer, problem):
        super().__init__(path, pointer, problem)
        self.message = problem
        self.args = (problem,)

    def __str__(self):
        return self.message


def check_trusted(zone, zone_config, config_path):
    """Raise UntrustedRecords unless the records collection exists and only the service
    account and rodsadmins may write there or in its links (four GenQueries). A missing one
    is created, as the provisioning would, where its parent lets the service account."""
    where, pointer = zone_config.records, "/zones/%s/records" % zone_config.name
    _ensure_exists(zone, where, config_path, pointer)
    for collection in (where, links_path(where)):
        writers = untrusted_writers(zone.collection_acl(collection), zone_config.service_account)
        if writers:
            raise UntrustedRecords(config_path, pointer, "the records collection %s is not trusted, nothing is "
                                   "processed: %s may write in %s; only the service account %s may (remove "
                                   "their access: ichmod -M null NAME %s)" % (
                                       where, ", ".join("%s (%s)" % writer for writer in writers), collection,
                                       zone_config.service_account, collection))


def check_record_trusted(zone, zone_config, config_path, record):
    """Raise UntrustedRecords unless only the service account and rodsadmins may write in
    `record` (one request's record; two GenQueries). The collection-wide check does not see a
    grant an admin made on one record (to let a user mark "their" request, say), and whoever
    may write a record decides its state, reprocess mark, import root and OMERO user."""
    writers = untrusted_writers(zone.collection_acl(record), zone_config.service_account)
    if writers:
        raise UntrustedRecords(config_path, "/zones/%s/records" % zone_config.name, "the record %s is not trusted, "
                               "it is not processed: %s may write in it; only the service account %s may (remove "
                               "their access: ichmod -M null NAME %s)" % (
                                   record, ", ".join("%s (%s)" % writer for writer in writers),
                                   zone_config.service_account, record))


def link_entry_writers(zone, entry, service_account):
    """[(name, level)] of whoever but the service account and rodsadmins may write the link
    entry `entry`: they could have removed a link from it (unprotecting data OMERO links to)
    or forged one. The links collection itself is checked with the records (check_trusted)."""
    return untrusted_writers(zone.collection_acl(entry), service_account)


def secure_link_entry(zone, entry, service_account):
    """Make a link entry the service account's alone again (everyone keeps read, for the
    guard's query): removes every other writer's access, logged. Returns who was removed."""
    writers = link_entry_writers(zone, entry, service_account)
    for name, _level in writers:
        zone.grant(entry, name, "read" if name == LINKS_READERS else "null")
    if writers:
        zone.log("omero-irods: the link entry %s was writable by %s: removed (only the service account %s may "
                 "change links; a link removed meanwhile is restored from the request's record by the sweep)"
                 % (entry, ", ".join("%s (%s)" % writer for writer in writers), service_account))
    return writers


def _ensure_exists(zone, where, config_path, pointer):
    if zone.kind(where) is None:
        try:
            if zone.create_collection_exclusive(where):
                zone.log("omero-irods: created the records collection %s" % where)
        except ZoneError as error:
            raise UntrustedRecords(config_path, pointer, "%s does not exist and could not be created (%s): run "
                                   "`omero-irods admin provision`" % (where, error))


def record_path(records, request_id):
    return posixpath.join(records, request_id)


def links_path(records):
    return posixpath.join(records, LINKS)


def link_path(records, request_id):
    return posixpath.join(records, LINKS, request_id)


def request_id_of(records, path):
    """The request id when `path` is a record (directly in `records`), else None."""
    parent, name = posixpath.split(path.rstrip("/"))
    return name if parent == records.rstrip("/") and name and name != LINKS else None


def claim_path(record, prefix, number):
    return posixpath.join(record, "%s%d" % (prefix, number))


def numbers(entry_names, prefix):
    """The numbers N of the entries named `<prefix>N`, sorted."""
    found = []
    for name in entry_names:
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            found.append(int(name[len(prefix):]))
    return sorted(found)


def payload_record_path(record, request_id):
    """Where the payload ends up once its data is placed."""
    return posixpath.join(record, request_id + names.PAYLOAD_SUFFIX)


def untrusted_writers(acl, service_account):
    """[(name, level)] of the principals, other than the service account and rodsadmins, that
    may write where `acl` was read. `acl`: [(name, user type, access level)]."""
    return sorted((name, level) for name, user_type, level in acl
                  if name != service_account and user_type != "rodsadmin"
                  and level.replace("_", " ") not in {lvl.replace("_", " ") for lvl in _READ_ONLY_LEVELS})


def content_writers(acl, service_account):
    """[(name, level)] of the principals, other than the service account and rodsadmins, that
    may change content or ACLs where `acl` was read (a landing collection and what it holds):
    more than the metadata levels, or a level this code does not know."""
    return sorted((name, level) for name, user_type, level in acl
                  if name != service_account and user_type != "rodsadmin"
                  and _spaced(level) not in {_spaced(known) for known in _NO_CONTENT_LEVELS})


def _spaced(level):
    return level.replace("_", " ")


def value(avus, attribute):
    """The last value of `attribute` in [(a, v, u)], or None."""
    values = [v for a, v, _u in avus if a == attribute]
    return values[-1] if values else None


def values(avus, attribute):
    return [v for a, v, _u in avus if a == attribute]
