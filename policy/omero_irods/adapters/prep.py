"""The PREP edge: the only code that calls `callback.msi*` or reads plugin types.

Facts it relies on (irods/irods_rule_engine_plugin_python, src/main.cpp and README):
- `irods_errors` is a built-in module of the plugin; `session_vars` and `genquery` ship in
  /etc/irods. They are imported lazily, so this module imports outside iRODS too.
- `callback.msiX(...)` returns {'code', 'status', 'arguments'}; a failure raises
  RuntimeError whose text starts `[iRods__Error__Code:N]`.
- Returning RULE_ENGINE_CONTINUE from a PEP lets the other rule engines (core.re) run
  theirs too.
"""

import datetime
import io
import json
import re

# Only light modules at import time: iRODS starts an agent per client connection and each
# imports core (and so this module) afresh; the pipeline, the config and jsonschema are
# imported when a payload or a delayed rule needs them (bench/pep_cost.py measures this).
from omero_irods import names, triggers
from omero_irods.errors import Transient
from omero_irods.ports import AlreadyExists, NotFound, ZoneError, ZonePort

# iRODS error numbers this adapter tells apart (irods/irods
# lib/core/include/irods/rodsErrorTable.h; python-irodsclient irods/exception.py).
_NOT_FOUND = {-310000, -808000, -814000, -817000}  # USER_FILE_DOES_NOT_EXIST, CAT_NO_ROWS_FOUND,
#                                                    CAT_UNKNOWN_COLLECTION, CAT_UNKNOWN_FILE
_ALREADY_EXISTS = {-809000, -833000, -834000, -312000}  # CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME,
#            CAT_NAME_EXISTS_AS_COLLECTION, CAT_NAME_EXISTS_AS_DATAOBJ, OVERWRITE_WITHOUT_FORCE_FLAG
_ERROR_CODE = re.compile(r"\[iRods__Error__Code:(-?\d+)\]")
# The plugin's text wraps the server's message: "... status [NAME] errno [] -- message [...]"
# (irods/irods lib/core/src/irods_error.cpp); keep the name and message for people.
_ERROR_NAME = re.compile(r"status \[([A-Z_0-9]+)\]")
_ERROR_MESSAGE = re.compile(r"-- message \[(?:exec_microservice_adapter failed: )?(.*)\]", re.S)

#: Access levels that include reading a collection's data: iRODS 4.3 names, and 4.2's
#: spaced spellings normalised (irods/irods lib/core/include/irods/objInfo.h access types).
_READ_OR_MORE = frozenset(["read_object", "create_metadata", "modify_metadata", "delete_metadata",
                           "create_object", "modify_object", "delete_object", "own", "write"])

#: Reads of the payload and of tar headers go through the plugin in chunks of this size.
READ_CHUNK = 1 << 20


def _continue():
    import irods_errors

    return irods_errors.RULE_ENGINE_CONTINUE


# --- PEP entry points (called by rules/omero_irods_rules.py) ------------------------------

#: L1 descriptor -> payload path, for PRC uploads whose close PEPs carry no path. One agent
#: process serves one client connection, so this lives as long as that connection.
_payload_descriptors = {}
_payload_opens_pending = [0]


def put_input_path(rule_args):
    """The logical path of a DataObjInp argument (pep_api_data_obj_put_*, open_*)."""
    return str(rule_args[2].objPath)


def session_object_path(rei):
    """The data object of a static PEP such as acPostProcForPut: the rei's DataObjInfo, where
    session_vars.get_map(rei)['data_object']['object_path'] comes from (without building the
    whole map on every put)."""
    info = getattr(rei, "doi", None)
    return str(info.objPath) if info is not None else ""


def note_payload_open(rule_args):
    """pep_api_data_obj_open_pre: a string test; only payload opens are remembered."""
    if triggers.is_payload_path(put_input_path(rule_args)):
        _payload_opens_pending[0] += 1
    return _continue()


def remember_descriptor_path(callback, rule_args):
    """pep_api_data_obj_close_pre: map the descriptor to its path, but only while a payload
    is open in this agent (so an unrelated close costs one integer test)."""
    if _payload_opens_pending[0] <= 0:
        return _continue()
    descriptor = int(rule_args[2].l1descInx)
    try:
        result = callback.msi_get_file_descriptor_info(descriptor, "")
        info = json.loads(result["arguments"][1])
        path = info["data_object_info"]["object_path"]
    except (RuntimeError, KeyError, ValueError) as error:
        callback.writeLine("serverLog", "omero-irods: no path for descriptor %d: %s" % (descriptor, error))
        return _continue()
    if triggers.is_payload_path(path):
        _payload_descriptors[descriptor] = path
        _payload_opens_pending[0] -= 1
    return _continue()


def recall_descriptor_path(rule_args):
    """pep_api_data_obj_close_post: the path remembered at close_pre, or ''."""
    return _payload_descriptors.pop(int(rule_args[2].l1descInx), "")


def on_put_event(callback, rei, path, pep_name):
    """Schedule the processing of a payload put; never fail the client's call."""
    if not triggers.is_payload_path(path):
        return _continue()
    zone = PrepZone(callback, rei)
    try:
        config = _config()
        why_not = triggers.why_not_schedule(path, zone.user_name, config.zone(zone.zone_name))
        if why_not:
            zone.log("omero-irods: %s ignored by %s: %s" % (path, pep_name, why_not))
            return _continue()
        zone.schedule(names.RULE_PROCESS, [path, "1"], 1, config.delay_instance)
    except Exception as error:  # the client's put must succeed whatever happens here
        zone.log("omero-irods: could not schedule %s (%s): %s" % (path, pep_name, error))
    return _continue()


# --- delayed and admin rules -----------------------------------------------------------------


def run_delayed(callback, rei, which, rule_args):
    """omero_irods_process / omero_irods_import: one step of one request."""
    import traceback

    from omero_irods import pipeline, watch
    from omero_irods.errors import ConfigError

    zone = PrepZone(callback, rei)
    payload_path = str(rule_args[0])
    attempt = int(rule_args[1]) if len(rule_args) > 1 else 1
    try:
        config = _config()
        zone.delay_instance = config.delay_instance
        job = pipeline.Job(zone, config, config.zone(zone.zone_name), payload_path, attempt, zone.now())
        if which == "process":
            pipeline.process(job)
        elif which == "import":
            pipeline.run_import(job, run_import_command)
        else:
            watch.watch(job)
    except ConfigError as error:
        zone.log("omero-irods: %s left as it is, the policy config is wrong: %s" % (payload_path, error))
    except Exception:
        zone.log("omero-irods: internal error on %s:\n%s" % (payload_path, traceback.format_exc()))
    return 0


#: The irule INPUT variable each admin rule reads when called as
#: `irule -r <python instance> omero_irods_status '*request_id="..."' ruleExecOut`.
ADMIN_RULE_INPUTS = {"status": ("*request_id",), "list": ("*count",), "reprocess": ("*request_id",)}


def run_admin(callback, rei, which, rule_args):
    """Admin rules for irule; answers as JSON on stdout (ruleExecOut)."""
    from omero_irods import admin_rules

    zone = PrepZone(callback, rei)
    try:
        args = [str(arg) for arg in rule_args] or irule_inputs(ADMIN_RULE_INPUTS[which])
        answer = admin_rules.run(zone, _config(), which, args)
    except Exception as error:
        answer = {"error": str(error)}
    callback.writeLine("stdout", json.dumps(answer, indent=2, sort_keys=True))
    return 0


def irule_inputs(labels):
    """INPUT values of an `irule` call: the plugin hands a rule called by name empty
    rule_args and puts the INPUT variables, quotes and all, in the `irods_rule_vars`
    builtin (irods/irods_rule_engine_plugin_python src/main.cpp exec_rule_text)."""
    import builtins

    rule_vars = getattr(builtins, "irods_rule_vars", None) or {}
    return [_unquote(str(rule_vars[label])) for label in labels if rule_vars.get(label) is not None]


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def run_import_command(command):
    """Run the importer with a fixed argv (no shell); (exit code, stdout, stderr)."""
    import os
    import subprocess

    env = dict(os.environ)
    env.update(command.env)
    try:
        done = subprocess.run(
            command.argv, env=env, capture_output=True, text=True, timeout=command.timeout_seconds, check=False
        )
    except FileNotFoundError:
        raise Transient("the import command %r is not installed on this server" % command.argv[0])
    except subprocess.TimeoutExpired:
        raise Transient("omero import took longer than %ds" % command.timeout_seconds)
    return done.returncode, done.stdout, done.stderr


def _config():
    from omero_irods.config import load_config

    return load_config()


# --- the ZonePort over microservices ---------------------------------------------------------


class PrepZone(ZonePort):
    """ZonePort for code running inside the plugin, as the rule's user."""

    delay_instance = None

    def __init__(self, callback, rei):
        import session_vars

        self.callback = callback
        client = session_vars.get_map(rei).get("client_user", {})
        self.user_name = client.get("user_name", "")
        self.zone_name = client.get("irods_zone", "")

    # -- plumbing --
    def _msi(self, name, *args):
        try:
            return getattr(self.callback, name)(*args)["arguments"]
        except RuntimeError as error:
            raise _zone_error(name, error)

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
        with self.open_reader(path) as reader:
            return reader.read(max_bytes + 1)

    def open_reader(self, path):
        descriptor = self._msi("msiDataObjOpen", "objPath=%s++++openFlags=O_RDONLY" % path, 0)[1]
        return io.BufferedReader(_MsiReader(self, descriptor), buffer_size=READ_CHUNK)

    def checksum(self, path):
        return self._msi("msiDataObjChksum", path, "forceChksum=", "")[2]

    def tree(self, collection):
        objects = {}
        for condition in ("COLL_NAME = '%s'", "COLL_NAME like '%s/%%'"):
            rows = self._rows("COLL_NAME, DATA_NAME, DATA_SIZE, DATA_PATH", condition % _quote(collection))
            for coll, name, size, physical in rows:  # one row per replica: keep the first
                path = coll + "/" + name
                objects.setdefault(path, {"path": path, "size": int(size), "physical_path": physical})
        return [objects[path] for path in sorted(objects)]

    def avus(self, path):
        if self.kind(path) == "collection":
            columns, condition = "META_COLL_ATTR_NAME, META_COLL_ATTR_VALUE, META_COLL_ATTR_UNITS", "COLL_NAME = '%s'" % _quote(path)
        else:
            columns = "META_DATA_ATTR_NAME, META_DATA_ATTR_VALUE, META_DATA_ATTR_UNITS"
            condition = _object_condition(path)
        return [tuple(row) for row in self._rows(columns, condition)]

    def names_in(self, collection):
        quoted = _quote(collection)
        subcollections = self._rows("COLL_NAME", "COLL_PARENT_NAME = '%s'" % quoted)
        data_objects = self._rows("DATA_NAME", "COLL_NAME = '%s'" % quoted)
        return {row[0].rsplit("/", 1)[-1] for row in subcollections} | {row[0] for row in data_objects}

    def can_read(self, collection, user):
        groups = {row[0] for row in self._rows("USER_GROUP_NAME", "USER_NAME = '%s'" % _quote(user))}
        entities = groups | {user}
        grants = self._rows("COLL_ACCESS_NAME, COLL_ACCESS_USER_ID", "COLL_NAME = '%s'" % _quote(collection))
        ids = {user_id for level, user_id in grants if level.replace(" ", "_") in _READ_OR_MORE}
        if not ids:
            return False
        condition = "USER_ID in (%s)" % ", ".join("'%s'" % _quote(user_id) for user_id in sorted(ids))
        return any(row[0] in entities for row in self._rows("USER_NAME", condition))

    def find_by_avu(self, attribute, value=None):
        condition = "META_DATA_ATTR_NAME = '%s'" % _quote(attribute)
        if value is not None:
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
        item_type = "-C" if self._existing_kind(path) == "collection" else "-d"
        self._msi("msiModAVUMetadata", item_type, path, "add", attribute, value, units)

    def set_avu(self, path, attribute, value, units=""):
        item_type = "-C" if self._existing_kind(path) == "collection" else "-d"
        self._msi("msiModAVUMetadata", item_type, path, "set", attribute, value, units)

    def grant(self, path, entity, level, recursive=False, admin_mode=False):
        # msiSetACL takes admin mode as an "admin:" prefix on the level (rsModAccessControl)
        level = ("admin:" + level) if admin_mode else level
        self._msi("msiSetACL", "recursive" if recursive else "default", level, entity, path)

    def set_inheritance(self, path, recursive=False, admin_mode=False):
        self.grant(path, "", "inherit", recursive, admin_mode)

    # -- side effects --
    def log(self, message):
        self.callback.writeLine("serverLog", message)

    def schedule(self, rule_name, args, delay_seconds, instance_name=None):
        hints = triggers.delay_hints(instance_name or self.delay_instance, delay_seconds)
        self._msi("delayExec", hints, triggers.delayed_rule_text(rule_name, *args), "")


class _MsiReader(io.RawIOBase):
    """A seekable raw reader over msiDataObjRead/Lseek, closed with msiDataObjClose."""

    def __init__(self, zone, descriptor):
        super().__init__()
        self._zone, self._descriptor = zone, descriptor

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        out = self._zone._msi("msiDataObjRead", self._descriptor, len(buffer), _irods_types().BytesBuf())[2]
        data = bytes(out.get_bytes())[: out.len]
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset, whence=io.SEEK_SET):
        out = self._zone._msi("msiDataObjLseek", self._descriptor, offset, ("SEEK_SET", "SEEK_CUR", "SEEK_END")[whence], 0)
        return int(out[3].offset)

    def tell(self):
        return self.seek(0, io.SEEK_CUR)

    def close(self):
        if not self.closed:
            try:
                self._zone._msi("msiDataObjClose", self._descriptor, 0)
            finally:
                super().close()


def _irods_types():
    import irods_types

    return irods_types


def _zone_error(msi_name, error):
    match = _ERROR_CODE.search(str(error))
    code = int(match.group(1)) if match else -1
    name, detail = _ERROR_NAME.search(str(error)), _ERROR_MESSAGE.search(str(error))
    message = "%s failed: %s%s" % (
        msi_name,
        (name.group(1) + ": ") if name else "",
        detail.group(1).strip() if detail else str(error).strip(),
    )
    if code in _NOT_FOUND:
        return NotFound(code, message)
    if code in _ALREADY_EXISTS:
        return AlreadyExists(code, message)
    return ZoneError(code, message)


def _quote(value):
    """GenQuery1 literals are single-quoted; a quote inside cannot be escaped, so refuse it."""
    if "'" in value:
        raise ZoneError(-130000, "cannot query for a name holding a single quote: %r" % value)
    return value


def _object_condition(path):
    collection, name = path.rsplit("/", 1)
    return "COLL_NAME = '%s' and DATA_NAME = '%s'" % (_quote(collection), _quote(name))


# --- the guard: data OMERO links to in place keeps its vault files ----------------------------
# The guarded pre-PEPs of rules/omero_irods_rules.py; omero_irods.guard decides. Each API's
# input follows the instance name and the plugin context in rule_args (irods/irods
# lib/api/include/irods/apiTable.hpp: rename takes a DataObjCopyInp, unlink, trim and phymv a
# DataObjInp, rm_coll a CollInp).

#: Config problems already logged by this agent: a broken config must not flood the serverLog
#: from a PEP that fires on every removal in the zone.
_guard_config_problems_logged = set()


def guard_rename(callback, rei, rule_args):
    """pep_api_data_obj_rename_pre: the source of imv, an object or a collection."""
    return _guard(callback, rei, "rename", str(rule_args[2].srcDataObjInp.objPath))


def guard_unlink(callback, rei, rule_args):
    """pep_api_data_obj_unlink_pre: irm, with or without -f, and iunreg."""
    return _guard(callback, rei, "unlink", str(rule_args[2].objPath))


def guard_trim(callback, rei, rule_args):
    """pep_api_data_obj_trim_pre: itrim."""
    return _guard(callback, rei, "trim", str(rule_args[2].objPath))


def guard_phymv(callback, rei, rule_args):
    """pep_api_data_obj_phymv_pre: iphymv."""
    return _guard(callback, rei, "phymv", str(rule_args[2].objPath))


def guard_rm_coll(callback, rei, rule_args):
    """pep_api_rm_coll_pre: irm -r."""
    return _guard(callback, rei, "rm_coll", str(rule_args[2].collName))


def _guard(callback, rei, operation, raw_path):
    """RULE_ENGINE_CONTINUE, or the refusal's error code: the client's call then fails and
    nothing happens. Cheapest first: a string test on the roots, then one GenQuery."""
    import irods_errors

    from omero_irods import guard

    path = guard.normal_path(raw_path)
    roots = _guard_roots(callback, guard.zone_of(path))
    if roots is not None and not guard.in_scope(path, roots):
        return _continue()
    zone = PrepZone(callback, rei)
    try:
        rows = zone._rows(*guard.holder_query(path))
    except Exception as error:  # refusing is recoverable, a deleted vault file is not
        refusal = guard.unchecked(operation, path, zone.user_name, error)
    else:
        refusal = guard.refusal(operation, path, zone.user_name, rows)
    if refusal is None:
        return _continue()
    zone.log(refusal.log_line())
    return getattr(irods_errors, refusal.error_name)


def _guard_roots(callback, zone_name):
    """The zone's allowed roots (() when the config has no such zone: nothing was placed
    there), or None when the config cannot be read: then every path goes to the query."""
    from omero_irods.config import allowed_roots

    try:
        return allowed_roots(zone_name)
    except Exception as error:
        problem = str(error)
        if problem not in _guard_config_problems_logged:
            _guard_config_problems_logged.add(problem)
            callback.writeLine("serverLog", "omero-irods: the guard checks every path by query, the policy "
                                            "config cannot be read: %s" % problem)
        return None
