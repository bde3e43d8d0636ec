"""Zone operations on the namespace: stat, collections, rename, trash, ACLs and AVUs.

A mixin of `catalog.Zone` (it uses the zone's lookups and access checks). Sources are
irods/irods, branch 4-3-stable, unless named otherwise.
"""

import os
import posixpath

from . import acl as levels
from . import vault
from .error_codes import IrodsError
from .records import Collection, DataObject


class TreeOperations:
    """Collections, renames, the trash, ACLs and AVUs."""

    # ---- looking -----------------------------------------------------------------------
    def stat(self, actor, path):
        """rsObjStat: the Collection or DataObject at `path`. Missing, or hidden from the
        actor by GenQuery's access control, is USER_FILE_DOES_NOT_EXIST
        (`server/api/src/rsObjStat.cpp` uses it instead of OBJ_PATH_DOES_NOT_EXIST)."""
        entry = self._entries.get(self._normalize(path))
        if entry is None or not self._visible(actor, entry):
            raise IrodsError("USER_FILE_DOES_NOT_EXIST",
                             "%s does not exist or user %s lacks access permission" % (path, actor))
        return entry

    def list_collection(self, actor, path):
        """ils: (sub-collection paths, data object paths) the actor can see, sorted."""
        collection = self.stat(actor, path)
        if not isinstance(collection, Collection):
            raise IrodsError("CAT_UNKNOWN_COLLECTION", "%s is a data object, not a collection" % path)
        children = [entry for entry in self._children(collection.path) if self._visible(actor, entry)]
        return (sorted(entry.path for entry in children if isinstance(entry, Collection)),
                sorted(entry.path for entry in children if isinstance(entry, DataObject)))

    # ---- collections -----------------------------------------------------------------
    def create_collection(self, actor, path, parents=False, admin_mode=False):
        """imkdir [-p] (db_plugin.cpp db_reg_coll_op): needs modify_object on the parent;
        admin_mode is `iadmin mkdir` (rsGeneralAdmin "add" "dir"), a rodsadmin only.
        An existing collection is CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME (its unique index)
        unless parents=True (rsMkCollR skips existing ones); a data object there is
        CAT_NAME_EXISTS_AS_DATAOBJ; a missing parent without parents=True is
        CAT_UNKNOWN_COLLECTION. Returns the Collection."""
        path = self._normalize(path)
        existing = self._entries.get(path)
        if isinstance(existing, DataObject):
            raise IrodsError("CAT_NAME_EXISTS_AS_DATAOBJ", "cannot create collection %s: a data object "
                             "has that path" % path)
        if existing is not None:
            if parents:
                return existing
            raise IrodsError("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", "collection %s already exists" % path)
        parent_path = posixpath.dirname(path)
        parent = self._entries.get(parent_path)
        if parent is None and parents:
            parent = self.create_collection(actor, parent_path, parents=True, admin_mode=admin_mode)
        if parent is None:
            raise IrodsError("CAT_UNKNOWN_COLLECTION", "cannot create %s: collection %s is unknown"
                             % (path, parent_path))
        if isinstance(parent, DataObject):
            raise IrodsError("CAT_NAME_EXISTS_AS_DATAOBJ", "cannot create %s: %s is a data object"
                             % (path, parent_path))
        if admin_mode:
            self._require_admin_mode(actor, True)
        else:
            self._require(actor, parent, "modify_object", "create collection %s in it" % path)
        collection = self._new_collection(path, actor, self._inherited_acl(parent, actor), parent.inherit)
        self._touch(parent_path)
        return collection

    def remove_collection(self, actor, path, recursive=False, force=False):
        """irm -r / rmdir of a collection (`server/api/src/rsRmColl.cpp`).

        Non-recursive: db_plugin.cpp _delColl needs modify_object on the parent and
        delete_object on the collection, which must be empty (CAT_COLLECTION_NOT_EMPTY).
        Recursive without force: the collection moves to the actor's trash (rsMvCollToTrash;
        a rename, so it needs own). Recursive with force: every data object is unlinked and
        every sub-collection removed, continuing past failures as _rsPhyRmColl does; the
        last failure is raised at the end. A non-empty home collection is
        CANT_RM_NON_EMPTY_HOME_COLL. Returns the trash path when moved there."""
        collection = self._collection_for_removal(path)
        if not recursive:
            self._delete_empty_collection(actor, collection)
            return None
        if not force:
            for entry in self._subtree(collection.path):
                if isinstance(entry, DataObject):
                    self._require(actor, entry, "delete_object", "move collection %s to the trash" % collection.path)
            return self._move_to_trash(actor, collection.path)
        self._remove_tree(actor, collection)
        return None

    def _collection_for_removal(self, path):
        entry = self._entries.get(self._normalize(path))
        if not isinstance(entry, Collection):
            raise IrodsError("CAT_UNKNOWN_COLLECTION", "collection %s does not exist" % path)
        return entry

    def _delete_empty_collection(self, actor, collection):
        self._require(actor, self._entries[collection.parent], "modify_object",
                      "remove collection %s from it" % collection.path)
        self._require(actor, collection, "delete_object", "remove it")
        if self._children(collection.path):
            raise IrodsError("CAT_COLLECTION_NOT_EMPTY", "collection %s is not empty" % collection.path)
        del self._entries[collection.path]
        self._touch(collection.parent)

    def _remove_tree(self, actor, collection):
        children = self._children(collection.path)
        if children and self._is_home(collection.path):
            raise IrodsError("CANT_RM_NON_EMPTY_HOME_COLL", "cannot remove the non-empty home collection %s"
                             % collection.path)
        failures = []
        for child in sorted(children, key=lambda entry: entry.path):
            try:
                if isinstance(child, DataObject):
                    self.unlink(actor, child.path, force=True)
                else:
                    self._remove_tree(actor, child)
            except IrodsError as error:
                failures.append(error)
        if not failures:
            try:
                self._delete_empty_collection(actor, collection)
            except IrodsError as error:
                failures.append(error)
        if failures:
            last = failures[-1]
            raise IrodsError(last.code, "removing %s left %d failure(s); last: %s"
                             % (collection.path, len(failures), last.message))

    def _is_home(self, path):
        parts = path.strip("/").split("/")
        return len(parts) == 3 and parts[1] == "home"

    # ---- rename ---------------------------------------------------------------------
    def rename(self, actor, source, destination):
        """imv (`server/api/src/rsDataObjRename.cpp`, db_plugin.cpp db_rename_object_op and
        db_move_object_op). A data object needs delete_object and own; a move to another
        collection also needs modify_object there. A collection needs own; a move needs
        modify_object on both parents, and not into itself (CAT_RECURSIVE_MOVE). An existing
        destination is CAT_NAME_EXISTS_AS_DATAOBJ / CAT_NAME_EXISTS_AS_COLLECTION. The
        physical files of every replica follow the new logical path in their vaults
        (`server/core/src/physPath.cpp` syncDataObjPhyPath / syncCollPhyPath). Returns the
        renamed record."""
        source, destination = self._normalize(source), self._normalize(destination)
        entry = self._entries.get(source)
        if entry is None:
            raise IrodsError("CAT_NO_ROWS_FOUND", "cannot rename %s: it does not exist" % source)
        if source == destination:
            raise IrodsError("SAME_SRC_DEST_PATHS_ERR", "cannot rename %s onto itself" % source)
        target_parent = self._entries.get(posixpath.dirname(destination))
        if not isinstance(target_parent, Collection):
            raise IrodsError("CAT_UNKNOWN_COLLECTION", "cannot rename %s to %s: collection %s does not exist"
                             % (source, destination, posixpath.dirname(destination)))
        if isinstance(entry, DataObject):
            self._check_data_object_rename(actor, entry, target_parent)
        else:
            self._check_collection_rename(actor, entry, destination, target_parent)
        self._refuse_existing(destination, source)
        self._refuse_sibling_clash(entry, destination)
        self._move_entries(source, destination)
        self._touch(posixpath.dirname(source))
        self._touch(posixpath.dirname(destination))
        return self._entries[destination]

    def _check_data_object_rename(self, actor, entry, target_parent):
        self._refuse_if_locked(entry, "rename")
        self._require(actor, entry, "delete_object", "rename it")
        self._require(actor, entry, "own", "rename it")
        if target_parent.path != entry.parent:
            self._require(actor, target_parent, "modify_object", "move %s into it" % entry.path)

    def _check_collection_rename(self, actor, entry, destination, target_parent):
        self._require(actor, entry, "own", "rename it")
        if destination.startswith(entry.path + "/"):
            raise IrodsError("CAT_RECURSIVE_MOVE", "cannot move collection %s into itself (%s)"
                             % (entry.path, destination))
        if target_parent.path != entry.parent:
            self._require(actor, target_parent, "modify_object", "move %s into it" % entry.path)
            self._require(actor, self._entries[entry.parent], "modify_object", "move %s out of it" % entry.path)
        for data_object in self._subtree(entry.path):
            if isinstance(data_object, DataObject):
                self._refuse_if_locked(data_object, "rename its collection")

    def _refuse_existing(self, destination, source):
        existing = self._entries.get(destination)
        if isinstance(existing, DataObject):
            raise IrodsError("CAT_NAME_EXISTS_AS_DATAOBJ", "cannot rename %s to %s: a data object has that path"
                             % (source, destination))
        if isinstance(existing, Collection):
            raise IrodsError("CAT_NAME_EXISTS_AS_COLLECTION", "cannot rename %s to %s: a collection has that path"
                             % (source, destination))

    def _refuse_sibling_clash(self, entry, destination):
        """rsDataObjRename.cpp _rsDataObjRename renames in two catalog steps: chlRenameObject
        gives the entry its new name INSIDE ITS SOURCE COLLECTION, then chlMoveObject moves it
        to the destination collection. So a sibling in the source collection that already has
        the new name makes the rename fail, even when the destination is free."""
        new_name = posixpath.basename(destination)
        if posixpath.dirname(destination) == entry.parent or new_name == entry.name:
            return
        intermediate = posixpath.join(entry.parent, new_name)
        if intermediate in self._entries:
            self._refuse_existing(intermediate, entry.path)

    def _move_entries(self, source, destination):
        moved = self._subtree(source)
        moves = []
        for entry in moved:
            new_path = destination + entry.path[len(source):]
            if isinstance(entry, DataObject):
                moves.extend(self._planned_file_moves(entry, new_path))
        for old_file, new_file in moves:
            if old_file != new_file and os.path.lexists(new_file):
                raise IrodsError("SYS_PHY_PATH_INUSE", "cannot move %s to %s: a file is already there"
                                 % (old_file, new_file))
        for entry in moved:
            del self._entries[entry.path]
        for entry in moved:
            entry.path = destination + entry.path[len(source):]
            self._entries[entry.path] = entry
        for old_file, new_file in moves:
            vault.move(old_file, new_file)

    def _planned_file_moves(self, data_object, new_path):
        """Replicas whose file sits where the vault scheme puts it follow the rename; others
        (registered elsewhere) stay (physPath.cpp syncDataObjPhyPathS)."""
        moves = []
        for replica in data_object.replicas:
            resource = self._resource(replica.resource)
            if replica.physical_path == resource.physical_path(data_object.path):
                new_file = resource.physical_path(new_path)
                moves.append((replica.physical_path, new_file))
                replica.physical_path = new_file
        return moves

    # ---- trash ------------------------------------------------------------------------
    def trash_path(self, actor, path):
        """Where irm puts `path` (`server/api/src/rsRmColl.cpp` rsMkTrashPath):
        /<zone>/trash/home/<actor>/ + the path below /<zone>/, minus 'home/<actor>/'."""
        below_zone = self._normalize(path)[len(self.root) + 1:]
        own_home = "home/%s/" % actor
        if below_zone.startswith(own_home):
            below_zone = below_zone[len(own_home):]
        return "%s/%s" % (self.trash_home(actor), below_zone)

    def _move_to_trash(self, actor, path):
        """rsMvDataObjToTrash / rsMvCollToTrash: make the trash collections, then rename;
        a taken name gets '.<random number>' appended (lib/core/src/rcMisc.cpp appendRandomToPath)."""
        target = self.trash_path(actor, path)
        trash_collection = posixpath.dirname(target)
        if trash_collection not in self._entries:
            self.create_collection(actor, trash_collection, parents=True)
        while target in self._entries:
            target = "%s.%d" % (self.trash_path(actor, path), self._random.getrandbits(32))
        self.rename(actor, path, target)
        return target

    # ---- ACLs -------------------------------------------------------------------------
    def set_acl(self, actor, path, level, user, recursive=False, admin_mode=False):
        """ichmod [-r] [-M] (db_plugin.cpp db_mod_access_control_op). Needs own on the path
        (admin mode: a rodsadmin, any path). 'null' removes the entry; 'inherit'/'noinherit'
        set the flag. Recursive applies to everything below a collection WITHOUT checking
        access there (only the top is checked); on a data object it is CAT_INVALID_ARGUMENT.
        Unknown level: CAT_INVALID_ARGUMENT; unknown user: CAT_INVALID_USER."""
        if level in ("inherit", "noinherit"):
            return self.set_inheritance(actor, path, level == "inherit", recursive, admin_mode)
        level = levels.canonical(level)
        self._require_admin_mode(actor, admin_mode, code="CAT_NO_ACCESS_PERMISSION")
        entry = self._acl_target(actor, path, admin_mode)
        self.user(user)
        if recursive and isinstance(entry, DataObject):
            raise IrodsError("CAT_INVALID_ARGUMENT", "recursive ACL change on data object %s" % entry.path)
        targets = self._subtree(entry.path) if recursive else [entry]
        for target in targets:
            if level == "null":
                target.acl.pop(user, None)
            else:
                target.acl[user] = level
        return None

    def set_inheritance(self, actor, path, inherit, recursive=False, admin_mode=False):
        """ichmod [-r] inherit|noinherit on a collection (db_plugin.cpp _modInheritance):
        needs own on it (or admin mode); changes no existing ACL, only what new entries get."""
        self._require_admin_mode(actor, admin_mode, code="CAT_NO_ACCESS_PERMISSION")
        entry = self._entries.get(self._normalize(path))
        if not isinstance(entry, Collection) or not (admin_mode or self._allows(actor, entry, "own")):
            raise IrodsError("CAT_NO_ACCESS_PERMISSION", "cannot set inheritance on %s: either the collection "
                             "does not exist or user %s does not own it" % (path, actor))
        targets = self._subtree(entry.path) if recursive else [entry]
        for target in targets:
            if isinstance(target, Collection):
                target.inherit = bool(inherit)

    def _acl_target(self, actor, path, admin_mode):
        entry = self._entries.get(self._normalize(path))
        if entry is None:
            raise IrodsError("CAT_INVALID_ARGUMENT", "input path is not a collection and not a data object: %s"
                             % path)
        if not admin_mode:
            self._require(actor, entry, "own", "change its ACL")
        return entry

    # ---- AVUs -------------------------------------------------------------------------
    def add_avu(self, actor, path, attribute, value, units="", admin_mode=False):
        """imeta add (db_plugin.cpp db_add_avu_metadata_op): needs create_metadata. Empty
        attribute or value: CAT_INVALID_ARGUMENT. An identical AVU already attached is
        CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME (the unique R_OBJT_METAMAP row, mapped by
        `plugins/database/src/low_level_odbc.cpp`).

        Not atomic, as in the real catalog: db_plugin.cpp findOrInsertAVU looks the triple up
        in R_META_MAIN and inserts a new row (a new meta_id) when it finds none, then the
        (object_id, meta_id) row goes into R_OBJT_METAMAP, whose unique index
        (schema/icatSysTables.sql) is the only duplicate check. Two agents adding the same NEW
        triple at once both find nothing, insert two meta rows, and BOTH succeed: the object
        carries the AVU twice (confirmed on iRODS 5.0.2 with two concurrent delayed rules).
        A triple the catalog already knows has one meta_id, so the second add fails."""
        entry = self._avu_target(actor, path, "create_metadata", "add metadata", admin_mode)
        avu = self._checked_avu(attribute, value, units)
        known = self._entries.knows_triple(avu)  # findOrInsertAVU's look-up
        self.between_calls("findOrInsertAVU")
        if known and entry.has_avu(avu):  # the unique (object_id, meta_id) index
            raise IrodsError("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", "%s already has the AVU (%s, %s, %s)"
                             % (entry.path, avu.attribute, avu.value, avu.units))
        entry.attach_avu(avu)

    def remove_avu(self, actor, path, attribute, value, units="", admin_mode=False):
        """imeta rm (db_plugin.cpp db_del_avu_metadata_op): needs delete_metadata; deleting
        nothing is CAT_SUCCESS_BUT_WITH_NO_INFO (what the row-less delete returns)."""
        entry = self._avu_target(actor, path, "delete_metadata", "remove metadata", admin_mode)
        avu = self._checked_avu(attribute, value, units)
        if not entry.has_avu(avu):
            raise IrodsError("CAT_SUCCESS_BUT_WITH_NO_INFO", "%s has no AVU (%s, %s, %s) to remove"
                             % (entry.path, avu.attribute, avu.value, avu.units))
        entry.detach_avu(avu)

    def set_avu(self, actor, path, attribute, value, units="", admin_mode=False):
        """imeta set (db_plugin.cpp db_set_avu_metadata_op): needs create_metadata; with more
        than one existing value the old ones are deleted first, which needs delete_metadata."""
        entry = self._avu_target(actor, path, "create_metadata", "set metadata", admin_mode)
        avu = self._checked_avu(attribute, value, units)
        old = [existing for existing in entry.avus if existing.attribute == avu.attribute]
        if len(old) > 1 and not admin_mode:
            self._require(actor, entry, "delete_metadata", "replace the values of %s" % avu.attribute)
        entry.avus = [existing for existing in entry.avus if existing.attribute != avu.attribute] + [avu]

    def avus(self, actor, path):
        """[Avu] attached to a collection or data object the actor can see, in insertion order."""
        return list(self.stat(actor, path).avus)

    def _avu_target(self, actor, path, level, doing, admin_mode):
        # checkAndGetObjectId: admin mode needs a privileged client; a missing target is
        # CAT_UNKNOWN_FILE (data object) or CAT_UNKNOWN_COLLECTION.
        admin_mode = self._require_admin_mode(actor, admin_mode)
        entry = self._entries.get(self._normalize(path))
        if entry is None:
            raise IrodsError("CAT_UNKNOWN_FILE", "cannot %s: %s is neither a data object nor a collection"
                             % (doing, path))
        if not admin_mode:
            self._require(actor, entry, level, doing)
        return entry

    def _checked_avu(self, attribute, value, units):
        if not attribute or value is None or str(value) == "":
            raise IrodsError("CAT_INVALID_ARGUMENT", "an AVU needs a non-empty attribute and value (got %r, %r)"
                             % (attribute, value))
        return self._avu(attribute, value, units)
