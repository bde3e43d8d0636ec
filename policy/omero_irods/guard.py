"""The guard: data that OMERO links to in place keeps its vault files.

`omero import --transfer=ln_s` leaves symlinks in OMERO's ManagedRepository that point at the
vault files of the placed data (ome/omero-documentation `sysadmins/in-place-import.rst`). The
import rule records, BEFORE the importer runs, the root it links in the records collection:
`<records>/links/<request_id>` carries `omero_irods::linked_root = <root>` with the OMERO user
who holds the links as units (omero_irods.records). Only the service account (and rodsadmins)
may write there, and everyone may read it, so what the guard protects follows the data OMERO
links to: neither a user's AVUs on their own data nor a later change of `allowed_roots` can
switch it off. iRODS moves or deletes vault files behind such links in five client APIs, so
their pre-PEPs ask this module whether to refuse (a failing pre-PEP fails the call and nothing
happens: irods/irods `lib/core/include/irods/apiHandler.hpp`, api_entry::call_handler):

- rename (imv, objects and collections): the vault files follow the new logical path
  (irods/irods `server/api/src/rsDataObjRename.cpp`: syncDataObjPhyPath, syncCollPhyPath);
- unlink (irm, iunreg): delete, move to the trash (itself a rename), or unregister
  (`server/api/src/rsDataObjUnlink.cpp`: rsMvDataObjToTrash, UNREG_OPR);
- rm_coll (irm -r): the same for everything below the collection (`rsRmColl.cpp`);
- trim (itrim): deletes replicas' files (`rsDataObjTrim.cpp`);
- phymv (iphymv): moves a replica's file to another resource (`rsDataObjPhymv.cpp`).

Trim and phymv are refused for every replica: each resource keeps its own vault path, and
the import took one physical path per object without recording which replica's, so the guard
cannot tell a harmless replica from the linked one. Replication (irepl) only adds a file and
stays allowed. A rodsadmin is refused like anyone: the release is to remove the link (the
refusal says how: once the OMERO user deleted those images, the service account or an iRODS
admin removes `linked_root` from `<records>/links/<request_id>`).

What is guarded: a linked root, everything below it, and for renames and collection removals
also every collection above it.

Cost, in the order the PEP pays it (these PEPs fire on every such call in the zone):
1. the path's string test against the zone's `allowed_roots` together with every allowed root
   anything was ever linked in (`omero_irods::linked_under` on `<records>/links`: a handful of
   values, read with one GenQuery the first time an agent needs them and again only when the
   config file changes). The config is cached per agent (config.allowed_roots: one stat per
   call after the first read): the per-agent CPU of that first read is cheaper for the zone than
   a catalog query on every call, the catalog being the one database every agent shares.
   Paths outside those roots are never guarded, and an unreadable config makes every path go
   to step 2.
2. ONE GenQuery: the link entries in `<records>/links` whose linked root is the path, an
   ancestor of it (GenQuery1 `parent_of`, an IN list of the path's prefixes: irods/irods
   `plugins/database/src/general_query.cpp` addInClauseToWhereForParentOf, the idiom of
   `server/core/src/specColl.cpp`) or below it (`like '<path>/%'`), as one condition on
   META_COLL_ATTR_VALUE joined by `||` (checked on iRODS 5.0.2). Rows are filtered here by path
   boundaries, since `%` and `_` are wildcards inside `like`; a path with a quote or backslash
   is queried from its deepest ancestor without one (a larger answer, filtered the same way).

Pure logic: no iRODS imports. The adapter (adapters/prep.py) extracts paths, runs the queries,
returns the error code and writes `log_line()` to the serverLog.
"""

import posixpath
from collections import namedtuple

from omero_irods.names import AVU_LINKED_ROOT, AVU_LINKED_UNDER
from omero_irods.records import links_path

RENAME = "rename"
UNLINK = "unlink"
RM_COLL = "rm_coll"
TRIM = "trim"
PHYMV = "phymv"
OVERWRITE = "overwrite"  # a data object's bytes rewritten in place
TRUNCATE = "truncate"
OVERWRITE_BELOW = "overwrite_below"  # a forced bulk upload or extraction into a collection

#: How many guarding collections a log line names before it says "N more collections".
LOG_HOLDERS = 5

Operation = namedtuple("Operation", "verb consequence error_name on_object", defaults=(False,))
Operation.__doc__ = """verb: what the client asked, for people; consequence: what iRODS would
do to the vault files; error_name: the iRODS error the client gets (irods/irods
lib/core/include/irods/rodsErrorTable.h); on_object: the call changes one data object's bytes,
so only a link at or above it matters, and only if the object exists (a new object breaks
nothing): the adapter asks the catalog that only when a link was found."""

#: Removals fail as the server's own delete policy does (SYS_DELETE_DISALLOWED, what
#: acDataDeletePolicy/msiDeleteDisallowed return); moves as a refused operation (SYS_NOT_ALLOWED).
OPERATIONS = {
    RENAME: Operation("rename", "iRODS would rename its vault files", "SYS_NOT_ALLOWED"),
    UNLINK: Operation("removal", "iRODS would delete its vault files or move them to the trash",
                      "SYS_DELETE_DISALLOWED"),
    RM_COLL: Operation("removal", "iRODS would delete the vault files below it or move them to the trash",
                       "SYS_DELETE_DISALLOWED"),
    TRIM: Operation("trim", "iRODS would delete a replica's vault file, maybe the one OMERO links to",
                    "SYS_DELETE_DISALLOWED"),
    PHYMV: Operation("physical move", "iRODS would move a replica's vault file, maybe the one OMERO links to",
                     "SYS_NOT_ALLOWED"),
    OVERWRITE: Operation("overwrite", "iRODS would rewrite its vault file in place", "SYS_NOT_ALLOWED",
                         on_object=True),
    TRUNCATE: Operation("truncation", "iRODS would cut its vault file short", "SYS_NOT_ALLOWED", on_object=True),
    OVERWRITE_BELOW: Operation("forced upload or extraction", "iRODS would rewrite vault files below it in place",
                               "SYS_NOT_ALLOWED"),
}

# GenQuery1 literals are single-quoted and a quote inside cannot be escaped; a backslash is
# the default LIKE escape character of the catalog databases.
_UNQUERYABLE = ("'", "\\")


class Refusal(namedtuple("Refusal", "operation path user holders problem")):
    """Why a call is refused. holders: ((linked root, ((OMERO user, link entry), ...)), ...)
    sorted by path; problem: set instead when the guard could not check and refuses to be safe."""

    __slots__ = ()

    @property
    def error_name(self):
        return OPERATIONS[self.operation].error_name

    def log_line(self):
        operation = OPERATIONS[self.operation]
        head = "omero-irods: refused %s of %s by %s (%s): " % (operation.verb, self.path, self.user, self.error_name)
        if self.problem:
            return head + ("could not check whether OMERO links to its vault files (%s), so it is refused "
                           "to be safe; try again, and ask an iRODS admin if this persists" % self.problem)
        return head + "OMERO links in place to the vault files of %s; %s and break those images. %s" % (
            _describe(self.holders), operation.consequence, _release_hint(self.holders))


def normal_path(path):
    """The logical path with '//' , '.', '..' and a trailing '/' resolved, so that the string
    test and the query see the collection the server would."""
    normal = posixpath.normpath(str(path))
    return "/" + normal.lstrip("/") if normal.startswith("/") else normal


def zone_of(path):
    """The zone a logical path lives in: its first component."""
    return path.strip("/").split("/", 1)[0]


def in_scope(path, roots):
    """May moving or removing `path` touch data placed below one of `roots`? Only paths at or
    below a root, or above one (a rename or removal above a root carries everything below)."""
    for root in roots:
        root = normal_path(root)
        if _at_or_below(path, root) or _at_or_below(root, path):
            return True
    return False


def linked_under_query(records):
    """(columns, condition) of the query for the allowed roots anything was ever linked in."""
    return "META_COLL_ATTR_VALUE", "COLL_NAME = '%s' and META_COLL_ATTR_NAME = '%s'" % (
        links_path(records), AVU_LINKED_UNDER)


def guarded_roots(allowed_roots, linked_under_rows):
    """What the string test checks: today's allowed roots and every root ever linked in."""
    return tuple(sorted(set(allowed_roots) | {row[0] for row in linked_under_rows}))


def holder_query(path, records):
    """(columns, condition) of the one GenQuery: link entries whose linked root is at, above or
    below `path`. A path holding a quote or backslash is queried from its deepest ancestor
    without one (a superset, filtered by holders_from_rows). records None (the config cannot
    be read): any collection named like a link entry counts -- more refusals, never fewer."""
    anchor = _queryable_anchor(path)
    below = anchor.rstrip("/") + "/%"
    where = ("COLL_PARENT_NAME = '%s'" % links_path(records) if records
             else "COLL_PARENT_NAME like '%%/%s'" % posixpath.basename(links_path("/")))
    condition = ("%s and META_COLL_ATTR_NAME = '%s' and META_COLL_ATTR_VALUE parent_of '%s' || like '%s'"
                 % (where, AVU_LINKED_ROOT, anchor, below))
    return "COLL_NAME, META_COLL_ATTR_VALUE, META_COLL_ATTR_UNITS", condition


def holders_from_rows(path, rows):
    """((linked root, ((OMERO user, link entry), ...)), ...) from the query's rows, keeping only
    roots that are `path`, an ancestor of it or below it."""
    holders = {}
    for entry, root, omero_user in rows:
        if _at_or_below(path, root) or _at_or_below(root, path):
            holders.setdefault(root, set()).add((omero_user, entry))
    return tuple((root, tuple(sorted(holders[root]))) for root in sorted(holders))


def refusal(operation, path, user, rows):
    """The Refusal for `operation` on `path` given the query's rows, or None to let it run.
    For a call on one object's bytes (Operation.on_object) only links at or above it count;
    the adapter then lets it run if no such object exists."""
    if operation not in OPERATIONS:
        raise ValueError("unknown guarded operation %r (known: %s)" % (operation, ", ".join(sorted(OPERATIONS))))
    holders = holders_from_rows(path, rows)
    if OPERATIONS[operation].on_object:
        holders = tuple((root, held) for root, held in holders if _at_or_below(path, root))
    return Refusal(operation, path, user, holders, None) if holders else None


def needs_existing_object(operation):
    """Whether a refusal of `operation` stands only if the data object exists."""
    return OPERATIONS[operation].on_object


def object_query(path):
    """(columns, condition) of the query for the data object at `path`, or None when its name
    cannot be written in a GenQuery1 literal (then the refusal stands: safe, never lost data)."""
    collection, name = posixpath.split(path)
    if any(mark in path for mark in _UNQUERYABLE) or not name:
        return None
    return "DATA_ID", "COLL_NAME = '%s' and DATA_NAME = '%s'" % (collection, name)


def unchecked(operation, path, user, problem):
    """The Refusal when the query itself failed: refusing is recoverable, a lost file is not."""
    return Refusal(operation, path, user, (), str(problem))


def _at_or_below(path, ancestor):
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def _queryable_anchor(path):
    anchor = path
    while any(mark in anchor for mark in _UNQUERYABLE):
        anchor = posixpath.dirname(anchor)
    return anchor


def _describe(holders):
    named = ["%s (linked by %s)" % (root, ", ".join("OMERO user %s, request %s" % (user, posixpath.basename(entry))
                                                    for user, entry in held))
             for root, held in holders[:LOG_HOLDERS]]
    if len(holders) > LOG_HOLDERS:
        named.append("%d more roots" % (len(holders) - LOG_HOLDERS))
    return ", ".join(named)


def _release_hint(holders):
    root, held = holders[0]
    omero_user, entry = held[0]
    return ("To release it, the OMERO user(s) named delete those images in OMERO first; then the service account "
            "(or an iRODS admin, with imeta -M) removes each link, e.g. imeta rm -C %s %s %s %s"
            % (entry, AVU_LINKED_ROOT, root, omero_user))
