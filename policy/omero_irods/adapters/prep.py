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

#: L1 descriptor -> payload path, for PRC uploads whose close PEPs carry no path, and the
#: payload paths opened for writing and not yet closed. One agent process serves one client
#: connection, so these live as long as that connection.
_payload_descriptors = {}
_payload_writes_open = set()


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
    """pep_api_data_obj_open_pre: a string test; only opens that write a payload are
    remembered (a read, e.g. `omero-irods status` reading one, is no put event)."""
    inp = rule_args[2]
    if triggers.is_payload_path(str(inp.objPath)) and triggers.opens_for_writing(inp.openFlags):
        _payload_writes_open.add(str(inp.objPath))
    return _continue()


def remember_descriptor_path(callback, rule_args):
    """pep_api_data_obj_close_pre: map the descriptor to its path, but only while a payload
    is open for writing in this agent (so an unrelated close costs one test). The first close
    of that path ends its write: a parallel upload's secondary streams end with
    pep_api_replica_close_*, which is not handled, and a later read is no write."""
    if not _payload_writes_open:
        return _continue()
    descriptor = int(rule_args[2].l1descInx)
    try:
        result = callback.msi_get_file_descriptor_info(descriptor, "")
        info = json.loads(result["arguments"][1])
        path = info["data_object_info"]["object_path"]
    except (RuntimeError, KeyError, ValueError) as error:
        callback.writeLine("serverLog", "omero-irods: no path for descriptor %d: %s" % (descriptor, error))
        return _continue()
    if path in _payload_writes_open:
        _payload_descriptors[descriptor] = path
        _payload_writes_open.discard(path)
    return _continue()


def recall_descriptor_path(rule_args):
    """pep_api_data_obj_close_post: the path remembered at close_pre, or ''."""
    return _payload_descriptors.pop(int(rule_args[2].l1descInx), "")


def on_put_event(callback, rei, path, pep_name):
    """Schedule the processing of a payload put (and the sweep, if it is not running);
    never fail the client's call."""
    if not triggers.is_payload_path(path):
        return _continue()
    try:
        from omero_irods import watch

        zone = PrepZone(callback, rei)
        config = _config()
        zone.delay_instance = config.delay_instance
        zone_config = config.zone(zone.zone_name)
        why_not = triggers.why_not_schedule(path, zone.user_name, zone_config)
        if why_not:
            zone.log("omero-irods: %s ignored by %s: %s" % (path, pep_name, why_not))
            return _continue()
        zone.schedule(names.RULE_PROCESS, [path, "1"], 1)
        watch.start_sweep_if_stale(zone, config, zone_config, int(zone.now().timestamp()))
    except Exception as error:  # the client's put must succeed whatever happens here
        callback.writeLine("serverLog", "omero-irods: could not schedule %s (%s): %s" % (path, pep_name, error))
    return _continue()


# --- delayed and admin rules -----------------------------------------------------------------


#: The delayed rules, by the `which` their entry points pass.
DELAYED_RULES = {"process": names.RULE_PROCESS, "import": names.RULE_IMPORT, "watch": names.RULE_WATCH,
                 "sweep": names.RULE_SWEEP}
#: A delayed rule that cannot start (the config unreadable, an error before the request's own
#: error handling) runs again later, this many times at most: with deferral_delay, about a day.
MAX_DEFERRALS = 30


def deferral_delay(deferrals):
    """Seconds before the next try after `deferrals` (0, 1, ...) earlier ones: 1 min doubling to 1 h."""
    return min(3600, 60 * 2 ** min(deferrals, 6))


def run_delayed(callback, rei, which, rule_args):
    """omero_irods_process / _import / _watch / _sweep, as the service account only.

    Their arguments: a path, then the attempt (process, import) and how often the rule was
    deferred. Any zone user can call core's rules, through the native rule language or a
    delay() of their own, so a caller who is not the zone's service account (as client AND
    as proxy) is refused before anything is read or written."""
    import traceback

    from omero_irods.errors import ConfigError

    args = [str(arg) for arg in rule_args]
    path = args[0] if args else ""
    try:
        zone = PrepZone(callback, rei)
        config = _config()
        zone.delay_instance = config.delay_instance
        refusal = _caller_refusal(zone, config)
        if refusal:
            zone.log("omero-irods: %s(%s) refused: %s" % (DELAYED_RULES[which], path, refusal))
            return _irods_error("SYS_NO_API_PRIV")
        _dispatch(zone, config, which, args)
    except ConfigError as error:
        _defer(callback, rei, which, args, "the policy config is wrong: %s" % error)
    except Exception:
        _defer(callback, rei, which, args, "internal error:\n%s" % traceback.format_exc())
    return 0


def _dispatch(zone, config, which, args):
    from omero_irods import pipeline, watch

    attempt = int(args[1]) if len(args) > 1 and which in ("process", "import") else 1
    job = pipeline.Job(zone, config, config.zone(zone.zone_name), args[0], attempt, zone.now())
    if which == "process":
        pipeline.process(job)
    elif which == "import":
        pipeline.run_import(job, run_import_command)
    elif which == "watch":
        watch.watch(job)
    else:
        watch.sweep(job)


def _caller_refusal(zone, config):
    """Why the rule's caller may not run it, or None for the zone's service account."""
    zone_config = config.zones.get(zone.zone_name)
    if zone_config is None:
        return "the policy config has no zone %r" % zone.zone_name
    expected = zone_config.service_account
    if zone.user_name != expected or zone.proxy_name != expected:
        return "it runs as %s (proxy %s), not as the service account %s" % (zone.user_name, zone.proxy_name, expected)
    return None


def _defer(callback, rei, which, args, problem):
    """Run the same rule again later (bounded, logged): a request is never dropped because
    the config was being edited when its rule ran. The instance is the running one's (the
    INST_NAME hint becomes rei.pluginInstanceName: irods/irods server/re/src/nre.systemMS.cpp)."""
    rule = DELAYED_RULES[which]
    path = args[0] if args else ""
    deferrals = int(args[2]) if len(args) > 2 and args[2].isdigit() else 0
    log = lambda line: callback.writeLine("serverLog", "omero-irods: " + line)  # noqa: E731
    if deferrals >= MAX_DEFERRALS:
        log("gave up on %s(%s) after %d tries (%s); the sweep queues unclaimed payloads again, and "
            "`irule omero_irods_reprocess` marks other requests" % (rule, path, deferrals + 1, problem))
        return
    delay = deferral_delay(deferrals)
    attempt = args[1] if len(args) > 1 else "1"
    instance = str(getattr(rei, "pluginInstanceName", "") or "") or names.DEFAULT_PREP_INSTANCE
    try:
        hints = triggers.delay_hints(instance, delay)
        callback.delayExec(hints, triggers.delayed_rule_text(rule, path, attempt, str(deferrals + 1)), "")
    except Exception as error:
        log("%s(%s) could not be run (%s) nor deferred: %s" % (rule, path, problem, error))
        return
    log("%s(%s) deferred for %ds (%d of %d): %s" % (rule, path, delay, deferrals + 1, MAX_DEFERRALS, problem))


def _irods_error(name):
    import irods_errors

    return getattr(irods_errors, name)


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
    """Run the importer with a fixed argv (no shell) -> omero_import.ImportRun.

    It runs in a session (and process group) of its own: `omero import` starts a Java
    importer as its child, and on a timeout the whole group is killed, not only the wrapper
    (killing the wrapper alone leaves the Java process importing). What it printed until
    then is kept: it names the images it created."""
    import os
    import signal
    import subprocess

    from omero_irods.omero_import import ImportRun

    env = dict(os.environ)
    env.update(command.env)
    try:
        process = subprocess.Popen(command.argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   encoding="utf-8", errors="replace", start_new_session=True)
    except FileNotFoundError:
        raise Transient("the import command %r is not installed on this server" % command.argv[0])
    try:
        stdout, stderr = process.communicate(timeout=command.timeout_seconds)
        return ImportRun(process.returncode, stdout, stderr, False)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # ended just now
            pass
        stdout, stderr = process.communicate()
        return ImportRun(process.returncode, stdout, stderr, True)


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
        landing = _quote(landing_zone.rstrip("/"))
        found = {}
        rows = self._rows("COLL_NAME, DATA_NAME, DATA_OWNER_NAME, DATA_CREATE_TIME",
                          "COLL_PARENT_NAME = '%s' and DATA_NAME like '%%%s'" % (landing, names.PAYLOAD_SUFFIX))
        for coll, name, owner, created in rows:
            found[coll + "/" + name] = {"path": coll + "/" + name, "owner": owner, "created": int(created), "avus": []}
        attributes = ", ".join("'%s'" % a for a in (names.AVU_STATE, names.AVU_ATTEMPT))
        rows = self._rows("COLL_NAME, DATA_NAME, META_DATA_ATTR_NAME, META_DATA_ATTR_VALUE, META_DATA_ATTR_UNITS",
                          "COLL_PARENT_NAME = '%s' and META_DATA_ATTR_NAME in (%s)" % (landing, attributes))
        for coll, name, attribute, value, units in rows:
            if coll + "/" + name in found:
                found[coll + "/" + name]["avus"].append((attribute, value, units))
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

    def schedule(self, rule_name, args, delay_seconds):
        hints = triggers.delay_hints(self.delay_instance or names.DEFAULT_PREP_INSTANCE, delay_seconds)
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
        if out is None:  # at end of file the real plugin hands back None, not an empty BytesBuf
            return 0
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
