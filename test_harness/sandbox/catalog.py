"""The sandbox's zone: an emulated iRODS 4.3 catalog with real files in vaults on disk.

Every client or microservice operation is a `Zone` method taking the ACTING user's name
first; it checks permissions as the iRODS 4.3 server does and raises `IrodsError` with
iRODS' code. The harness (dump, genquery, tests) reads state without checks through
`collection()`, `data_object()`, `collections()`, `data_objects()`, `acl()`, `users()`.

Records (module `records`, re-exported here; read-only for callers):
  User: name, type ('rodsadmin'|'rodsuser'|'groupadmin'|'rodsgroup'), id, zone, groups, is_group.
  Collection: id, path, name, parent, owner, create_time, modify_time, acl {name: level},
      inherit, avus [Avu].
  DataObject: id, path, name, collection, owner, create_time, modify_time, data_type, acl,
      avus, replicas [Replica]; size and checksum of its first good replica.
  Replica: number, resource, physical_path, size, status ('good'|'stale'|'intermediate'),
      checksum ('' or 'sha2:...'), create_time, modify_time.
  Avu: (attribute, value, units) namedtuple, units '' when none.
  OpenDescriptor: fd, actor, data_object, replica, path, resource, replica_number,
      physical_path, mode ('r'|'w'|'a'|'r+'), position, bytes_written, created, replica_token.
  Clock: now(), advance(seconds).

Permission model (irods/irods `plugins/database/src/db_plugin.cpp` and
`mid_level_routines.cpp`, branch 4-3-stable): a check joins the user's own row and its
groups (R_USER_GROUP), keeping the highest level; a rodsadmin gets NO bypass there, only
through an explicit admin mode (`ichmod -M`, `imeta -M`, `itrim -M`, `irepl -M`). Queries are
different: GenQuery skips access control for a rodsadmin (irods/irods
`plugins/database/src/general_query.cpp`, doCheck), and needs read_object on every data object
and collection it returns for anyone else -- see `visible()`.

The operations live in three modules by subject: `catalog_tree.py` (collections, stat,
rename, removal, ACLs, AVUs), `catalog_data.py` (data objects, descriptors, replicas,
checksums, tar extraction), and this file (zone set-up, users, lookups, access checks).
"""

import collections
import os
import random

from . import acl as levels
from . import tar_members
from .catalog_data import DataObjectOperations
from .catalog_index import EntryTable
from .catalog_tree import TreeOperations
from .error_codes import IrodsError
from .records import (GOOD, INTERMEDIATE, RODSADMIN, RODSGROUP, STALE, Avu, Clock,
                      Collection, DataObject, OpenDescriptor, Replica, User)
from .vault import Resource, vault_directory

__all__ = ["Zone", "ServerSettings", "IrodsError", "Avu", "Clock", "Collection", "DataObject", "OpenDescriptor",
           "Replica", "User", "GOOD", "STALE", "INTERMEDIATE", "USER_TYPES"]

USER_TYPES = ("rodsuser", "rodsadmin", "groupadmin")
PUBLIC = "public"
ADMIN = "rods"
#: First object id handed out (ids share one sequence, R_ObjectID, for collections,
#: data objects and users: db_plugin.cpp cmlGetNextSeqVal).
FIRST_ID = 10000

#: What the scenario's `server` block sets: the iRODS version ("4.3" or "5.0", where their
#: behaviours differ), server_config.json's default_hash_scheme ("SHA256" | "MD5") and
#: match_hash_policy ("compatible" | "strict"), and the delay server's executors.
ServerSettings = collections.namedtuple(
    "ServerSettings", "version default_hash_scheme match_hash_policy delay_executors")
ServerSettings.__new__.__defaults__ = ("4.3", "SHA256", "compatible", 1)


class Zone(TreeOperations, DataObjectOperations):
    """One iRODS zone: users, groups, resources with vaults, collections, data objects."""

    def __init__(self, name, root_dir, resources=("demoResc", "replResc"),
                 default_resource="demoResc", clock=None, server=None):
        """Create the zone `name` with its vaults below `root_dir/server_root` (vault.vault_directory).

        Starts as a fresh iRODS install does: the rodsadmin `rods`, the group `public`, the
        collections `/`, `/<zone>`, `/<zone>/home`, `/<zone>/trash`, `/<zone>/trash/home`, and
        the home and trash home of rods and of public (owned by rods; public owns its own).
        """
        if not name or "/" in name:
            raise ValueError("zone name %r must be non-empty and contain no '/'" % (name,))
        if default_resource not in resources:
            raise ValueError("default resource %r is not one of the resources %r"
                             % (default_resource, list(resources)))
        self.name = name
        self.server = server or ServerSettings()
        self.root_dir = os.path.abspath(root_dir)
        self.clock = clock or Clock()
        self.default_resource = default_resource
        self._resources = {resource: Resource(resource, vault_directory(self.root_dir, resource, default_resource))
                           for resource in resources}
        #: The server log (lines); the PREP runtime of a scenario writes to the same list.
        self.server_log = []
        tar_members.server_root(self.root_dir)  # the emulated server disk, with its core.py
        self._users = {}
        self._entries = EntryTable()
        self._descriptors = {}
        self._write_sessions = {}  # replica token -> catalog_data._WriteSession
        self._token_counter = 0
        self._next_id = FIRST_ID
        # Set by prep/delay.ConcurrentDelayServer while several delay executors run.
        self.between_calls_hook = None
        self._injected_failures = {}  # microservice name -> [error code, calls left]
        # Deterministic stand-in for irods::getRandom (trash name collisions), so runs repeat.
        self._random = random.Random(name)
        self._install()

    # ---- set-up ------------------------------------------------------------------------
    def _install(self):
        # What setup writes into a new catalog (irods/irods `scripts/irods/database_connect.py`):
        # every install collection is owned by rods, with `own` for rods -- or for the group
        # public on /<zone>/home/public and /<zone>/trash/home/public.
        self._add_principal(ADMIN, RODSADMIN)
        self._add_principal(PUBLIC, RODSGROUP)
        self._users[ADMIN].groups.append(PUBLIC)
        for path in ("/", self.root, self.root + "/home", self.root + "/trash", self.root + "/trash/home"):
            self._new_collection(path, ADMIN, {ADMIN: "own"})
        for path in (self.home(PUBLIC), self.trash_home(PUBLIC), self.home(ADMIN), self.trash_home(ADMIN)):
            owner = PUBLIC if PUBLIC in path.split("/") else ADMIN
            self._new_collection(path, ADMIN, {owner: "own"})

    def _add_principal(self, name, user_type):
        if not name or "/" in name or "#" in name or name != name.strip():
            raise IrodsError("CAT_INVALID_ARGUMENT", "user name %r is not a valid iRODS user name" % (name,))
        if name in self._users:
            raise IrodsError("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", "user or group %r already exists" % name)
        principal = User(name, user_type, self._new_id(), self.name)
        self._users[name] = principal
        return principal

    def _make_homes(self, user):
        # acCreateUser -> acCreateUserZoneCollections makes home and trash home with
        # msiCreateCollByAdmin, owned by the new user or group (irods/irods
        # `packaging/core.re.template`; `server/core/src/administration_utilities.cpp`
        # runs acCreateUser for users and groups alike).
        for path in (self.home(user), self.trash_home(user)):
            self._new_collection(path, user, {user: "own"})

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def _new_collection(self, path, owner, acl, inherit=False):
        entry = Collection(self._new_id(), path, owner, self.clock.now())
        entry.acl = dict(acl)
        entry.inherit = inherit
        self._entries[path] = entry
        return entry

    # ---- paths and resources -------------------------------------------------------
    @property
    def root(self):
        """'/<zone>'."""
        return "/" + self.name

    def home(self, user):
        """'/<zone>/home/<user>'."""
        return "%s/home/%s" % (self.root, user)

    def trash_home(self, user):
        """'/<zone>/trash/home/<user>'."""
        return "%s/trash/home/%s" % (self.root, user)

    def resources(self):
        """Resource names, in creation order."""
        return list(self._resources)

    def vault(self, resource):
        """The vault directory (str) of a resource; SYS_RESC_DOES_NOT_EXIST if unknown."""
        return self._resource(resource).vault

    def physical_path(self, resource, logical_path):
        """Where a replica of `logical_path` lives in `resource`'s vault (graft scheme)."""
        return self._resource(resource).physical_path(self._normalize(logical_path))

    def _resource(self, name):
        if name not in self._resources:
            raise IrodsError("SYS_RESC_DOES_NOT_EXIST", "resource %r does not exist in zone %s (known: %s)"
                             % (name, self.name, ", ".join(self._resources)))
        return self._resources[name]

    def _normalize(self, path):
        """An absolute logical path in this zone without trailing '/'; USER_INPUT_PATH_ERR otherwise."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise IrodsError("USER_INPUT_PATH_ERR", "logical path %r is not absolute" % (path,))
        parts = [part for part in path.split("/") if part]
        if any(part in (".", "..") for part in parts):
            raise IrodsError("USER_INPUT_PATH_ERR", "logical path %r contains '.' or '..'" % path)
        normalized = "/" + "/".join(parts)
        if normalized != "/" and normalized != self.root and not normalized.startswith(self.root + "/"):
            raise IrodsError("USER_INPUT_PATH_ERR", "logical path %s is not in zone %s" % (path, self.name))
        return normalized

    # ---- users and groups ----------------------------------------------------------
    def add_user(self, name, user_type="rodsuser"):
        """iadmin mkuser: a user with home and trash-home collections owned by it, member of
        'public' (core.re.template acCreateUserF1: msiAddUserToGroup("public")). CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME for a taken name, CAT_INVALID_USER_TYPE
        for a type outside USER_TYPES. Returns the User."""
        if user_type not in USER_TYPES:
            raise IrodsError("CAT_INVALID_USER_TYPE", "user type %r of user %r is not one of %s"
                             % (user_type, name, ", ".join(USER_TYPES)))
        user = self._add_principal(name, user_type)
        user.groups.append(PUBLIC)
        self._make_homes(name)
        return user

    def add_group(self, name):
        """iadmin mkgroup: the group, with its home and trash-home collections. Returns its
        User record (type rodsgroup)."""
        group = self._add_principal(name, RODSGROUP)
        self._make_homes(name)
        return group

    def add_to_group(self, group, user):
        """iadmin atg: make `user` a member of `group`."""
        member, team = self._person(user), self._group(group)
        if team.name not in member.groups:
            member.groups.append(team.name)

    def remove_from_group(self, group, user):
        """iadmin rfg: remove `user` from `group`."""
        member, team = self._person(user), self._group(group)
        if team.name == PUBLIC:
            raise IrodsError("SYS_NOT_ALLOWED", "user %r cannot leave the group public" % user)
        if team.name in member.groups:
            member.groups.remove(team.name)

    def user(self, name):
        """The User (or group) record; CAT_INVALID_USER for an unknown name."""
        if name not in self._users:
            raise IrodsError("CAT_INVALID_USER", "user or group %r does not exist in zone %s" % (name, self.name))
        return self._users[name]

    def users(self):
        """Every user and group record, sorted by name."""
        return [self._users[name] for name in sorted(self._users)]

    def user_groups(self, name):
        """Sorted group names of a user (always includes 'public')."""
        return sorted(self._person(name).groups)

    def is_admin(self, name):
        """True for a rodsadmin."""
        return self.user(name).type == RODSADMIN

    def _person(self, name):
        principal = self.user(name)
        if principal.is_group:
            raise IrodsError("CAT_INVALID_USER", "%r is a group, not a user" % name)
        return principal

    def _group(self, name):
        principal = self.user(name)
        if not principal.is_group:
            raise IrodsError("CAT_INVALID_USER", "%r is a user, not a group" % name)
        return principal

    # ---- state access for the harness (no permission checks) -----------------------
    def exists(self, path):
        """'collection', 'data_object' or None."""
        entry = self._entries.get(self._normalize(path))
        return entry.kind if entry else None

    def collection(self, path):
        """The Collection record or None."""
        entry = self._entries.get(self._normalize(path))
        return entry if isinstance(entry, Collection) else None

    def data_object(self, path):
        """The DataObject record or None."""
        entry = self._entries.get(self._normalize(path))
        return entry if isinstance(entry, DataObject) else None

    def collections(self):
        """Every Collection, sorted by path."""
        return [entry for _, entry in sorted(self._entries.items()) if isinstance(entry, Collection)]

    def data_objects(self):
        """Every DataObject, sorted by path."""
        return [entry for _, entry in sorted(self._entries.items()) if isinstance(entry, DataObject)]

    def acl(self, path):
        """{user_or_group: level} of a collection or data object (a copy)."""
        return dict(self._existing(path).acl)

    def access_level(self, user, path):
        """The user's effective level on `path`: the highest over the user's own entry and its
        groups' ('null' when none). Being a rodsadmin does not raise it."""
        return self._level_on(self.user(user), self._existing(path))

    def has_access(self, user, path, level):
        """True when access_level(user, path) is at least `level`."""
        return levels.at_least(self.access_level(user, path), level)

    def visible(self, user, path):
        """Whether GenQuery shows `path` to `user`: always for a rodsadmin, else read_object
        on it and, for a data object, on its collection too (general_query.cpp adds the
        read_object condition for every table the query touches)."""
        entry = self._entries.get(self._normalize(path))
        return entry is not None and self._visible(user, entry)

    def fail_next_calls(self, microservice, code, times=1):
        """The next `times` calls of `microservice` fail with `code` (the scenario's fail_msi)."""
        self._injected_failures[microservice] = [code, times]

    def before_microservice(self, name):
        """Called by the plugin emulation before each microservice runs: another delay
        executor may run first, and a failure the scenario injected is raised."""
        self.between_calls(name)
        injected = self._injected_failures.get(name)
        if injected:
            injected[1] -= 1
            if injected[1] <= 0:
                del self._injected_failures[name]
            raise IrodsError(injected[0], "%s failed as the scenario asked (fail_msi)" % name)

    def between_calls(self, point):
        """A point where another agent's catalog work may run first (each microservice call,
        and between the statements of an operation the real catalog does not make atomic)."""
        hook = self.between_calls_hook
        if hook is not None:
            hook(point)

    # ---- internals shared by the operation modules ---------------------------------
    def _existing(self, path):
        entry = self._entries.get(self._normalize(path))
        if entry is None:
            raise IrodsError("OBJ_PATH_DOES_NOT_EXIST", "%s does not exist in zone %s" % (path, self.name))
        return entry

    def _level_on(self, principal, entry):
        names = [principal.name] + list(principal.groups)
        return levels.highest(entry.acl[name] for name in names if name in entry.acl)

    def _allows(self, actor, entry, level):
        return levels.at_least(self._level_on(self.user(actor), entry), level)

    def _require(self, actor, entry, level, doing):
        """CAT_NO_ACCESS_PERMISSION unless `actor` holds `level` on `entry`."""
        held = self._level_on(self.user(actor), entry)
        if not levels.at_least(held, level):
            raise IrodsError("CAT_NO_ACCESS_PERMISSION", "user %s needs %s on %s %s to %s (holds %s)"
                             % (actor, level, entry.kind.replace("_", " "), entry.path, doing, held))

    def _require_admin_mode(self, actor, admin_mode, code="CAT_INSUFFICIENT_PRIVILEGE_LEVEL"):
        """Admin mode only for a rodsadmin; True when it is on."""
        if admin_mode and not self.is_admin(actor):
            raise IrodsError(code, "user %s is not a rodsadmin and cannot use admin mode" % actor)
        return bool(admin_mode)

    def _visible(self, actor, entry):
        if self.is_admin(actor):
            return True
        if not self._allows(actor, entry, "read_object"):
            return False
        if isinstance(entry, DataObject):
            return self._allows(actor, self._entries[entry.parent], "read_object")
        return True

    def _children(self, path):
        return self._entries.children(path)

    def _subtree(self, path):
        """The entry at `path` and every entry below it, parents first."""
        return self._entries.subtree(path)

    # ---- indexed look-ups for GenQuery (no permission checks) ----------------------
    def children(self, path):
        """The collections and data objects directly in collection `path`, sorted by path."""
        return sorted(self._entries.children(path), key=lambda entry: entry.path)

    def subtree(self, path):
        """The entry at `path` and everything below it, sorted by path."""
        return self._entries.subtree(path)

    def carrying(self, attribute):
        """Collections and data objects with an AVU named `attribute`, sorted by path."""
        return sorted(self._entries.carrying(attribute), key=lambda entry: entry.path)

    def _touch(self, path):
        entry = self._entries.get(path)
        if entry is not None:
            entry.modify_time = self.clock.now()

    def _inherited_acl(self, parent, actor):
        """ACL of a new entry (db_plugin.cpp db_reg_data_obj_op / db_reg_coll_op): a copy of
        the parent's ACL when the parent inherits -- and then NOTHING for the creator unless
        inherited (scripts/irods/test/test_ichmod.py test_ichmod_respects_strict_ACLs__issue_2570)
        -- else `own` for the creator."""
        if parent.inherit:
            return dict(parent.acl)
        return {actor: "own"}

    def _avu(self, attribute, value, units):
        return Avu(str(attribute), str(value), str(units or ""))
