"""`PrepZone`: the `ZonePort` over the plugin's microservices, and a file reader over them.

The only code that calls `callback.msi*` or reads plugin types. Facts it relies on
(irods/irods_rule_engine_plugin_python, src/main.cpp and README):
- `session_vars` and `genquery` ship in /etc/irods, `irods_types` is built into the plugin;
  they are imported when first used, so this module imports outside iRODS too.
- `callback.msiX(...)` returns {'code', 'status', 'arguments'}; a failure raises RuntimeError.

The entry points (adapters/prep.py) import this module on first use: an agent whose rules
see no payload never loads it.
"""

import datetime
import io
import json
import re

from omero_irods import names, triggers
from omero_irods.ports import AlreadyExists, NotFound, ZoneError, ZonePort

# iRODS error numbers this adapter tells apart (irods/irods
# lib/core/include/irods/rodsErrorTable.h; python-irodsclient irods/exception.py).
_NOT_FOUND = {-310000, -808000, -814000, -817000}  # USER_FILE_DOES_NOT_EXIST, CAT_NO_ROWS_FOUND,
#                                                    CAT_UNKNOWN_COLLECTION, CAT_UNKNOWN_FILE
_ALREADY_EXISTS = {-809000, -833000, -834000, -312000}  # CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
#            CAT_NAME_EXISTS_AS_COLLECTION, CAT_NAME_EXISTS_AS_DATAOBJ, OVERWRITE_WITHOUT_FORCE_FLAG
# A failed microservice raises RuntimeError("[iRods__Error__Code:N] <error stack>"), whose
# levels read "... status [NAME]  errno [...] -- message [exec_microservice_adapter failed]":
# the code and its name, never the microservice's own message (irods/irods_rule_engine_plugin_
# python src/main.cpp RuleCallWrapper::call; irods/irods lib/core/src/irods_error.cpp; seen on
# iRODS 5.0.2). The detail is in the server's log, so errors here name the call and the code.
_ERROR_CODE = re.compile(r"\[iRods__Error__Code:(-?\d+)\]")
_ERROR_NAME = re.compile(r"status \[([A-Z_0-9]+)\]")

#: Access levels that include reading a collection's data: iRODS 4.3 names, and 4.2's
#: spaced spellings normalised (irods/irods lib/core/include/irods/objInfo.h access types).
_READ_OR_MORE = frozenset(["read_object", "create_metadata", "modify_metadata", "delete_metadata",
                           "create_object", "modify_object", "delete_object", "own", "write"])

#: msiModAVUMetadata reads each argument with parseMspForStr, which takes the string "null" for
#: a missing argument: SYS_INVALID_INPUT_PARAM (irods/irods lib/core/src/msParam.cpp,
#: server/re/src/extractAvuMS.cpp; seen on iRODS 5.0.2). msiSetACL reads its arguments as they are.
_READ_AS_MISSING = "null"

#: Reads of the payload and of tar headers go through the plugin in chunks of this size.
READ_CHUNK = 1 << 20


class PrepZone(ZonePort):
    """ZonePort for code running inside the plugin, as the rule's user."""

    delay_instance = None

    def __init__(self, callback, rei):
        import session_vars

        self.callback = callback
        session = session_vars.get_map(rei)
        client, proxy = session.get("client_user") or {}, session.get("proxy_user") or {}
        self.user_name = client.get("user_name", "")
        self.proxy_name = proxy.get("user_name", "")
        self.zone_name = client.get("irods_zone", "")

    # -- plumbing --
    def _msi(self, name, *args):
        try:
            return getattr(self.callback, name)(*args)["arguments"]
        except RuntimeError as error:
            raise _zone_error(name, args, error)

    def now(self):
        seconds = self._msi("msiGetSystemTime", "", "unix")[0]
        return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc)

    # -- reading --
    def kind(self, path):
        # GenQuery, not msiObjStat: a failing microservice writes an error to the serverLog,
        # and "is it there?" is asked often while planning a placement.
        if self._first("COLL_ID", "COLL_NAME = '%s'" % _quote(path)):
            return "collection"
        if path.count("/") > 1 and self._first("DATA_ID", _object_condition(path)):
            return "data_object"
        return None

    def _existing_kind(self, path):
        # For a path that must exist (what a write acts on): one msiObjStat instead of kind()'s
        # GenQueries; it fails (and logs) only when the path is gone, which the write would too.
        stat = self._msi("msiObjStat", path, _irods_types().RodsObjStat())[1]
        return "data_object" if int(stat.objType) == 1 else "collection"

    def data_object(self, path):
        stat = self._msi("msiObjStat", path, _irods_types().RodsObjStat())[1]
        if int(stat.objType) != 1:
            raise NotFound(-310000, "%s is not a data object" % path)
        row = self._first("DATA_PATH", _object_condition(path))
        return {
            "size": int(stat.objSize),
            "owner": str(stat.ownerName),
            "checksum": str(stat.chksum),
            "physical_path": row[0] if row else "",
        }

    def read(self, path, max_bytes):
        with io.BufferedReader(self.open_reader(path), buffer_size=READ_CHUNK) as reader:
            return reader.read(max_bytes + 1)

    def open_reader(self, path):
        # Unbuffered: the member walk keeps its own buffer and sizes its reads (a short read
        # after seeking over a large member); a BufferedReader would turn each into READ_CHUNK.
        descriptor = self._msi("msiDataObjOpen", "objPath=%s++++openFlags=O_RDONLY" % path, 0)[1]
        return _MsiReader(self, descriptor)

    def checksum(self, path):
        return self._msi("msiDataObjChksum", path, "forceChksum=", "")[2]

    def tree(self, collection):
        objects = {}
        for coll, name, size, physical in self._rows_in_tree("DATA_SIZE, DATA_PATH", collection):
            path = coll + "/" + name  # one row per replica: keep the first
            objects.setdefault(path, {"path": path, "size": int(size), "physical_path": physical})
        return [objects[path] for path in sorted(objects)]

    def readable_by(self, collection, user):
        # The grants of the user and their groups on every object of the tree, in one query;
        # access is checked per object because read on a collection gives none on its objects.
        groups = {row[0] for row in self._rows("USER_GROUP_NAME", "USER_NAME = '%s'" % _quote(user))}
        names_in = ", ".join("'%s'" % _quote(name) for name in sorted(groups | {user}))
        ids = sorted({row[0] for row in self._rows("USER_ID", "USER_NAME in (%s)" % names_in)})
        if not ids:
            return set()
        condition = "DATA_ACCESS_USER_ID in (%s)" % ", ".join("'%s'" % _quote(i) for i in ids)
        rows = self._rows_in_tree("DATA_ACCESS_NAME", collection, condition)
        return {coll + "/" + name for coll, name, level in rows if level.replace(" ", "_") in _READ_OR_MORE}

    def _rows_in_tree(self, columns, collection, condition=None):
        """(COLL_NAME, DATA_NAME, *columns) of the data objects in or below `collection`.
        `_` and `%` are wildcards in `like` (a tree of /z/home/j_doe also matches
        /z/home/jxdoe), so rows are kept only at a path boundary."""
        below = collection.rstrip("/") + "/"
        rows = []
        for where in ("COLL_NAME = '%s'" % _quote(collection), "COLL_NAME like '%s%%'" % _quote(below)):
            for row in self._rows("COLL_NAME, DATA_NAME, " + columns, where + (" and " + condition if condition else "")):
                if row[0] == collection or row[0].startswith(below):
                    rows.append(row)
        return rows

    def request_payloads(self, landing_zone):
        # One query: AVUs on landing payloads are never read (anyone who may write a payload
        # may write its AVUs; state lives on records).
        landing = _quote(landing_zone.rstrip("/"))
        rows = self._rows("COLL_NAME, DATA_NAME, DATA_OWNER_NAME, DATA_CREATE_TIME",
                          "COLL_PARENT_NAME = '%s' and DATA_NAME like '%%%s'" % (landing, names.PAYLOAD_SUFFIX))
        found = {coll + "/" + name: {"path": coll + "/" + name, "owner": owner, "created": int(created)}
                 for coll, name, owner, created in rows}
        return [found[path] for path in sorted(found)]

    def avus(self, path):
        # No kind() first: a collection's AVU query answers nothing for a data object (and for
        # a collection without AVUs, whose data-object query then answers nothing too).
        rows = self._rows("META_COLL_ATTR_NAME, META_COLL_ATTR_VALUE, META_COLL_ATTR_UNITS",
                          "COLL_NAME = '%s'" % _quote(path))
        if not rows and path.count("/") > 1:
            rows = self._rows("META_DATA_ATTR_NAME, META_DATA_ATTR_VALUE, META_DATA_ATTR_UNITS", _object_condition(path))
        return [tuple(row) for row in rows]

    def names_in(self, collection):
        quoted = _quote(collection)
        subcollections = self._rows("COLL_NAME", "COLL_PARENT_NAME = '%s'" % quoted)
        data_objects = self._rows("DATA_NAME", "COLL_NAME = '%s'" % quoted)
        return {row[0].rsplit("/", 1)[-1] for row in subcollections} | {row[0] for row in data_objects}

    def find_by_avu(self, attribute, value=None):
        condition = "META_DATA_ATTR_NAME = '%s'" % _quote(attribute)
        if isinstance(value, (tuple, list)):
            condition += " and META_DATA_ATTR_VALUE in (%s)" % ", ".join("'%s'" % _quote(v) for v in value)
        elif value is not None:
            condition += " and META_DATA_ATTR_VALUE = '%s'" % _quote(value)
        return sorted({coll + "/" + name for coll, name in self._rows("COLL_NAME, DATA_NAME", condition)})

    def _rows(self, columns, condition):
        import genquery

        return list(genquery.row_iterator(columns, condition, genquery.AS_LIST, self.callback))

    def _first(self, columns, condition):
        rows = self._rows(columns, condition)
        return rows[0] if rows else None

    # -- writing --
    def create_collection(self, path):
        if self.kind(path) != "collection":
            self._msi("msiCollCreate", path, 1, 0)

    def extract_tar(self, tar_path, collection):
        self._msi("msiTarFileExtract", tar_path, collection, "null", 0)

    def rename(self, source, destination):
        is_collection = "1" if self._existing_kind(source) == "collection" else "0"
        self._msi("msiDataObjRename", source, destination, is_collection, 0)

    def remove(self, path):
        if self._existing_kind(path) == "collection":
            self._msi("msiRmColl", path, "forceFlag=", 0)
        else:
            self._msi("msiDataObjUnlink", "objPath=%s++++forceFlag=" % path, 0)

    def add_avus(self, path, avus, admin_mode=False):
        self._apply_metadata(path, "add", avus, admin_mode)

    def remove_avus(self, path, avus):
        self._apply_metadata(path, "remove", avus)

    def _apply_metadata(self, path, operation, avus, admin_mode=False):
        entity_type = "collection" if self._existing_kind(path) == "collection" else "data_object"
        operations = [{"operation": operation, "attribute": a, "value": v, "units": u} for a, v, u in avus]
        document = {"entity_name": path, "entity_type": entity_type, "operations": operations}
        if admin_mode:  # a rodsadmin writing where it has no ACL (`imeta -M`)
            document["admin_mode"] = True
        self._msi("msi_atomic_apply_metadata_operations", json.dumps(document), "")

    def add_avu_once(self, path, attribute, value, units=""):
        # msiModAVUMetadata "add" fails with CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME on an
        # existing AVU, whereas the atomic metadata API skips it silently (irods/irods
        # plugins/api/src/atomic_apply_metadata_operations.cpp): only this one can claim.
        if _READ_AS_MISSING in (attribute, value, units):
            raise ZoneError(-130000, "cannot claim %s=%r on %s: msiModAVUMetadata reads 'null' as a missing "
                                     "argument" % (attribute, value, path))
        item_type = "-C" if self._existing_kind(path) == "collection" else "-d"
        self._msi("msiModAVUMetadata", item_type, path, "add", attribute, value, units)

    def set_avu(self, path, attribute, value, units=""):
        item_type = "-C" if self._existing_kind(path) == "collection" else "-d"
        if _READ_AS_MISSING in (attribute, value, units):
            self._set_avu_atomically(path, item_type, attribute, value, units)
            return
        self._msi("msiModAVUMetadata", item_type, path, "set", attribute, value, units)

    def _set_avu_atomically(self, path, item_type, attribute, value, units):
        # A value such as an OMERO user named "null": the atomic metadata API takes its values
        # from JSON, with no such conversion (seen on iRODS 5.0.2). It has no "set": remove the
        # attribute's current values and add the new one, in one call.
        current = [avu for avu in self.avus(path) if avu[0] == attribute]
        operations = [{"operation": "remove", "attribute": a, "value": v, "units": u} for a, v, u in current]
        operations.append({"operation": "add", "attribute": attribute, "value": value, "units": units})
        entity_type = "collection" if item_type == "-C" else "data_object"
        document = {"entity_name": path, "entity_type": entity_type, "operations": operations}
        self._msi("msi_atomic_apply_metadata_operations", json.dumps(document), "")

    def grant(self, path, entity, level, recursive=False, admin_mode=False):
        # msiSetACL takes admin mode as an "admin:" prefix on the level (rsModAccessControl)
        level = ("admin:" + level) if admin_mode else level
        self._msi("msiSetACL", "recursive" if recursive else "default", level, entity, path)

    def set_inheritance(self, path, recursive=False, admin_mode=False):
        self.grant(path, "", "inherit", recursive, admin_mode)

    # -- side effects --
    def log(self, message):
        self.callback.writeLine("serverLog", message)

    def schedule(self, rule_name, args, delay_seconds):
        hints = triggers.delay_hints(self.delay_instance or names.DEFAULT_PREP_INSTANCE, delay_seconds)
        self._msi("delayExec", hints, triggers.delayed_rule_text(rule_name, *args), "")

    # -- the records collection (omero_irods.records) --
    def create_collection_exclusive(self, path):
        # msiCollCreate without parents (flag 0) is rsCollCreate's plain insert into
        # R_COLL_MAIN, whose coll_name has a unique index (irods/irods
        # scripts/irods/database/icatSysTables.sql idx_coll_main2): of 8 concurrent delayed
        # rules creating one name on iRODS 5.0.2, exactly one succeeded, the others got
        # CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME (test_harness/tests/irods_probe/claim_probe.sh).
        try:
            self._msi("msiCollCreate", path, 0, 0)
        except AlreadyExists:
            return False
        return True

    def data_object_id(self, path):
        row = self._first("DATA_ID", _object_condition(path))
        return row[0] if row else None

    def collection_acl(self, path):
        rows = self._rows("COLL_ACCESS_USER_ID, COLL_ACCESS_NAME", "COLL_NAME = '%s'" % _quote(path))
        ids = sorted({user_id for user_id, _level in rows})
        users = {}
        if ids:
            condition = "USER_ID in (%s)" % ", ".join("'%s'" % _quote(user_id) for user_id in ids)
            users = {user_id: (name, kind) for user_id, name, kind in self._rows("USER_ID, USER_NAME, USER_TYPE", condition)}
        return [users.get(user_id, ("user id " + user_id, "")) + (level,) for user_id, level in rows]

    def child_acls(self, parent):
        rows = self._rows("COLL_NAME, COLL_ACCESS_USER_ID, COLL_ACCESS_NAME",
                          "COLL_PARENT_NAME = '%s'" % _quote(parent.rstrip("/")))
        ids = sorted({user_id for _name, user_id, _level in rows})
        users = {}
        if ids:
            condition = "USER_ID in (%s)" % ", ".join("'%s'" % _quote(user_id) for user_id in ids)
            users = {user_id: (name, kind) for user_id, name, kind in self._rows("USER_ID, USER_NAME, USER_TYPE", condition)}
        found = {}
        for collection, user_id, level in rows:
            found.setdefault(collection, []).append(users.get(user_id, ("user id " + user_id, "")) + (level,))
        return found

    def record_avus(self, records, attributes=None):
        condition = "COLL_PARENT_NAME = '%s'" % _quote(records.rstrip("/"))
        if attributes:
            condition += " and META_COLL_ATTR_NAME in (%s)" % ", ".join("'%s'" % _quote(a) for a in attributes)
        found = {}
        for collection, attribute, value, units in self._rows(
                "COLL_NAME, META_COLL_ATTR_NAME, META_COLL_ATTR_VALUE, META_COLL_ATTR_UNITS", condition):
            found.setdefault(collection, []).append((attribute, value, units))
        return found

    # -- identity and access (mapping.check_in_zone, pipeline._apply_acls) --
    def user_info(self, name):
        # Any rodsuser may read user types and memberships; a user is listed as a member of
        # itself and of public (checked on iRODS 5.0.2: `iquest "select USER_GROUP_NAME where
        # USER_NAME = 'alice'"` as a rodsuser answers alice, lab, public).
        condition = "USER_NAME = '%s' and USER_ZONE = '%s'" % (_quote(name), _quote(self.zone_name))
        row = self._first("USER_TYPE", condition)
        if row is None:
            return None
        groups = {group for (group,) in self._rows("USER_GROUP_NAME", condition)}
        return {"type": row[0], "groups": groups - {name}}

    def access_entries(self, collection):
        # Like access_holders, with each entry's level: the seal tells a writer from a reader.
        below = collection.rstrip("/") + "/"
        pairs = set()
        for where in ("COLL_NAME = '%s'" % _quote(collection), "COLL_NAME like '%s%%'" % _quote(below)):
            pairs.update((row[1], row[2]) for row in self._rows("COLL_NAME, COLL_ACCESS_USER_ID, COLL_ACCESS_NAME", where)
                         if row[0] == collection or row[0].startswith(below))
        pairs.update((row[2], row[3]) for row in self._rows_in_tree("DATA_ACCESS_USER_ID, DATA_ACCESS_NAME", collection))
        if not pairs:
            return set()
        listed = ", ".join("'%s'" % _quote(user_id) for user_id in sorted({user_id for user_id, _level in pairs}))
        users = {row[0]: (row[1], row[2]) for row in self._rows("USER_ID, USER_NAME, USER_TYPE", "USER_ID in (%s)" % listed)}
        return {users.get(user_id, ("user id " + user_id, "")) + (level,) for user_id, level in pairs}

    def inherits(self, collection):
        row = self._first("COLL_INHERITANCE", "COLL_NAME = '%s'" % _quote(collection))
        return bool(row) and row[0] == "1"

    def access_holders(self, collection):
        # ACL rows carry user ids: one query per kind of entry over the tree, one for the names.
        below = _quote(collection.rstrip("/") + "/")
        ids = set()
        for where in ("COLL_NAME = '%s'" % _quote(collection), "COLL_NAME like '%s%%'" % below):
            ids.update(row[1] for row in self._rows("COLL_NAME, COLL_ACCESS_USER_ID", where)
                       if row[0] == collection or row[0].startswith(collection.rstrip("/") + "/"))
        ids.update(row[2] for row in self._rows_in_tree("DATA_ACCESS_USER_ID", collection))
        if not ids:
            return set()
        listed = ", ".join("'%s'" % _quote(user_id) for user_id in sorted(ids))
        return {row[0] for row in self._rows("USER_NAME", "USER_ID in (%s)" % listed)}


class _MsiReader(io.RawIOBase):
    """A seekable raw reader over msiDataObjRead/msiDataObjLseek, closed with msiDataObjClose.

    What the plugin and server do with its calls (each seen on iRODS 5.0.2 with PREP 5.0.1):
    - an int argument goes through Boost.Python's extract<int>, so 2**31 or more raises
      OverflowError (irods/irods_rule_engine_plugin_python include/irods/private/re/python.hpp
      msParam_from_object_impl<int>); msiDataObjLseek reads a string offset with strtoll
      (irods/irods server/re/src/reDataObjOpr.cpp): offsets go as decimal strings, so archives
      over 2 GiB can be read;
    - on a read-only descriptor the offset is clamped to the catalog size
      (server/api/src/rsDataObjLseek.cpp): the position is the server's answer, not the request;
    - a read at the end answers None where the BytesBuf would be;
    - BytesBuf.get_bytes() is a list of ints, one per byte (src/types/irods/rodsDef.cpp): every
      byte read costs a Python int, so reads are few and large (READ_CHUNK), and the position is
      kept here: tell() and a seek to where the reader already is cost no call.
    """

    def __init__(self, zone, descriptor):
        super().__init__()
        self._zone, self._descriptor = zone, descriptor
        self._position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        length = min(len(buffer), READ_CHUNK)
        out = self._zone._msi("msiDataObjRead", self._descriptor, length, _irods_types().BytesBuf())[2]
        if out is None:  # the end of the object
            return 0
        data = bytes(out.get_bytes())[: out.len]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self):
        # io.RawIOBase.readall reads DEFAULT_BUFFER_SIZE (8 KiB) at a time: one call each
        chunks = []
        while True:
            chunk = self.read(READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_CUR:
            offset, whence = self._position + offset, io.SEEK_SET
        if whence == io.SEEK_SET and offset == self._position:
            return self._position
        if whence == io.SEEK_SET and offset < 0:
            raise ValueError("negative seek position %d" % offset)
        where = ("SEEK_SET", "SEEK_CUR", "SEEK_END")[whence]
        out = self._zone._msi("msiDataObjLseek", self._descriptor, str(int(offset)), where, 0)
        self._position = int(out[3].offset)
        return self._position

    def tell(self):
        return self._position

    def close(self):
        if not self.closed:
            try:
                self._zone._msi("msiDataObjClose", self._descriptor, 0)
            finally:
                super().close()


def _irods_types():
    import irods_types

    return irods_types


def _zone_error(msi_name, args, error):
    text = str(error)
    what = "%s failed%s" % (msi_name, _on_path(args))
    match = _ERROR_CODE.search(text)
    if match is None:  # not a failed call (e.g. the plugin could not convert an answer)
        return ZoneError(-1, "%s: %s" % (what, text.strip()))
    code = int(match.group(1))
    name = _ERROR_NAME.search(text)
    message = "%s: %s" % (what, name.group(1) if name else "error")
    if code in _NOT_FOUND:
        return NotFound(code, message)
    if code in _ALREADY_EXISTS:
        return AlreadyExists(code, message)
    return ZoneError(code, message)


def _on_path(args):
    """' on <path>': the logical path among a call's arguments, as a path or an objPath= option."""
    for arg in args:
        if isinstance(arg, str) and arg.startswith("/"):
            return " on " + arg
        if isinstance(arg, str) and arg.startswith("objPath="):
            return " on " + arg[len("objPath="):].split("++++", 1)[0]
    return ""


def _quote(value):
    """GenQuery1 literals are single-quoted; a quote inside cannot be escaped, so refuse it."""
    if "'" in value:
        raise ZoneError(-130000, "cannot query for a name holding a single quote: %r" % value)
    return value


def _object_condition(path):
    collection, name = path.rsplit("/", 1)
    return "COLL_NAME = '%s' and DATA_NAME = '%s'" % (_quote(collection), _quote(name))
