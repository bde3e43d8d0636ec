"""The PREP entry points: what rules/omero_irods_rules.py calls, one function per kind of rule.

- put events: a string test on the path; only a payload in the landing zone is scheduled;
- `RULES`: the one table from the name of each delayed and admin rule to its handler;
- the guard's pre-PEPs: refuse moving or removing what OMERO links to.

Plugin facts (irods/irods_rule_engine_plugin_python, src/main.cpp and README): `irods_errors`
is a built-in module of the plugin, `session_vars` and `genquery` ship in /etc/irods; they are
imported lazily, so this module imports outside iRODS too. Returning RULE_ENGINE_CONTINUE from
a PEP lets the other rule engines (core.re) run theirs too.

Agent start: iRODS starts an agent per client connection and each one imports core, and so
this module, afresh. It imports only `names` and `triggers` (no `re`, `json`, `datetime`);
the zone adapter, the pipeline, the config and jsonschema are imported on first use
(bench/pep_cost.py measures the cost).
"""

from omero_irods import names, triggers


def _continue():
    import irods_errors

    return irods_errors.RULE_ENGINE_CONTINUE


def _irods_error(name):
    import irods_errors

    return getattr(irods_errors, name)


def _zone(callback, rei):
    from omero_irods.adapters.prep_zone import PrepZone

    return PrepZone(callback, rei)


def _config():
    from omero_irods.config import load_config

    return load_config()


# --- put events (PEPs) -----------------------------------------------------------------------

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


def on_open(callback, rei, rule_args):
    """pep_api_data_obj_open_pre (and replica_open, the _and_stat opens): a read costs one
    flag test and nothing else. An open that may write is remembered when it writes a payload
    (a put event at its close), and goes to the guard: it may rewrite bytes OMERO links to."""
    inp = rule_args[2]
    if not triggers.opens_for_writing(inp.openFlags):
        return _continue()
    path = str(inp.objPath)
    if triggers.is_payload_path(path):
        _payload_writes_open.add(path)
    return _guard(callback, rei, "overwrite", path)


def remember_descriptor_path(callback, rule_args):
    """pep_api_data_obj_close_pre: map the descriptor to its path, but only while a payload
    is open for writing in this agent (so an unrelated close costs one test). The first close
    of that path ends its write: a parallel upload's secondary streams end with
    pep_api_replica_close_*, which is not handled, and a later read is no write."""
    if not _payload_writes_open:
        return _continue()
    import json

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

        zone = _zone(callback, rei)
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


# --- delayed and admin rules: one table from rule name to handler ----------------------------


def run_rule(rule_name, rule_args, callback, rei):
    """Run core's rule `rule_name` (a key of RULES) with the plugin's arguments."""
    return RULES[rule_name](rule_name, rule_args, callback, rei)


class _DelayedRule(object):
    """A rule the delay server runs: `work(job)` as the service account only, deferred when
    it cannot start. Its arguments: a path, then the attempt (process, import; else 1) and
    how often the rule was deferred."""

    def __init__(self, work, takes_attempt):
        self.work, self.takes_attempt = work, takes_attempt

    def __call__(self, rule_name, rule_args, callback, rei):
        args = [str(arg) for arg in rule_args]
        return run_delayed(rule_name, self, args, callback, rei)

    def job(self, zone, config, args):
        from omero_irods import pipeline

        attempt = int(args[1]) if self.takes_attempt and len(args) > 1 else 1
        return pipeline.Job(zone, config, config.zone(zone.zone_name), args[0], attempt, zone.now())


class _AdminRule(object):
    """A rule an admin calls with `irule`: `answer(zone, config, args)` is printed as JSON on
    stdout (ruleExecOut). `inputs`: the irule INPUT variables it reads, in order, when called as
    `irule -r <python instance> omero_irods_status '*request_id="..."' ruleExecOut`."""

    def __init__(self, answer, inputs):
        self.answer, self.inputs = answer, inputs

    def __call__(self, rule_name, rule_args, callback, rei):
        return run_admin(self, rule_args, callback, rei)


def _process(job):
    from omero_irods import pipeline

    pipeline.process(job)


def _import(job):
    from omero_irods import pipeline

    pipeline.run_import(job, _importer(job))


def _import_check(job):
    from omero_irods import pipeline

    pipeline.check_import(job, _importer(job))


def _importer(job):
    from omero_irods.adapters.importer_process import DetachedImporter

    return DetachedImporter(job.config.omero_import.check_wait_seconds)


def _watch(job):
    from omero_irods import watch

    watch.watch(job)


def _sweep(job):
    from omero_irods import watch

    watch.sweep(job)


def _status(zone, config, args):
    from omero_irods import admin_rules

    return admin_rules.status(zone, config.zone(zone.zone_name), _required(args, "a request id"))


def _list(zone, config, args):
    from omero_irods import admin_rules

    how_many = int(args[0]) if args and args[0] else admin_rules.DEFAULT_LIST_LENGTH
    return admin_rules.list_requests(zone, config.zone(zone.zone_name), how_many)


def _reprocess(zone, config, args):
    from omero_irods import admin_rules

    return admin_rules.reprocess(zone, config, config.zone(zone.zone_name), _required(args, "a request id"))


def _required(args, what):
    if not args or not args[0]:
        raise ValueError("this rule needs %s" % what)
    return args[0]


#: Every rule of core.py that is not a PEP, by name: rules/omero_irods_rules.py defines one
#: function per key, and the delayed ones are scheduled by these names (triggers.delayed_rule_text).
RULES = {
    names.RULE_PROCESS: _DelayedRule(_process, takes_attempt=True),
    names.RULE_IMPORT: _DelayedRule(_import, takes_attempt=True),
    names.RULE_IMPORT_CHECK: _DelayedRule(_import_check, takes_attempt=True),
    names.RULE_WATCH: _DelayedRule(_watch, takes_attempt=False),
    names.RULE_SWEEP: _DelayedRule(_sweep, takes_attempt=False),
    names.RULE_STATUS: _AdminRule(_status, ("*request_id",)),
    names.RULE_LIST: _AdminRule(_list, ("*count",)),
    names.RULE_REPROCESS: _AdminRule(_reprocess, ("*request_id",)),
}

#: A delayed rule that cannot start (the config unreadable, an error before the request's own
#: error handling) runs again later, this many times at most: with deferral_delay, about a day.
MAX_DEFERRALS = 30


def deferral_delay(deferrals):
    """Seconds before the next try after `deferrals` (0, 1, ...) earlier ones: 1 min doubling to 1 h."""
    return min(3600, 60 * 2 ** min(deferrals, 6))


def run_delayed(rule_name, rule, args, callback, rei):
    """A delayed rule, as the service account only: any zone user can call core's rules,
    through the native rule language or a delay() of their own, so a caller who is not the
    zone's service account (as client AND as proxy) is refused before anything is read or
    written."""
    import traceback

    from omero_irods.errors import ConfigError
    from omero_irods.records import UntrustedRecords

    path = args[0] if args else ""
    try:
        zone = _zone(callback, rei)
        config = _config()
        zone.delay_instance = config.delay_instance
        refusal = _caller_refusal(zone, config)
        if refusal:
            zone.log("omero-irods: %s(%s) refused: %s" % (rule_name, path, refusal))
            return _irods_error("SYS_NO_API_PRIV")
        rule.work(rule.job(zone, config, args))
    except UntrustedRecords as error:  # the zone's ACLs are wrong, not the config file
        _defer(callback, rei, rule_name, args, "an iRODS admin must fix the ACL of the records: %s" % error)
    except ConfigError as error:
        _defer(callback, rei, rule_name, args, "the policy config is wrong: %s" % error)
    except Exception:
        _defer(callback, rei, rule_name, args, "internal error:\n%s" % traceback.format_exc())
    return 0


def _caller_refusal(zone, config):
    """Why the rule's caller may not run it, or None for the zone's service account."""
    zone_config = config.zones.get(zone.zone_name)
    if zone_config is None:
        return "the policy config has no zone %r" % zone.zone_name
    expected = zone_config.service_account
    if zone.user_name != expected or zone.proxy_name != expected:
        return "it runs as %s (proxy %s), not as the service account %s" % (zone.user_name, zone.proxy_name, expected)
    return None


def _defer(callback, rei, rule_name, args, problem):
    """Run the same rule again later (bounded, logged): a request is never dropped because
    the config was being edited when its rule ran. The instance is the running one's (the
    INST_NAME hint becomes rei.pluginInstanceName: irods/irods server/re/src/nre.systemMS.cpp)."""
    path = args[0] if args else ""
    deferrals = int(args[2]) if len(args) > 2 and args[2].isdigit() else 0
    log = lambda line: callback.writeLine("serverLog", "omero-irods: " + line)  # noqa: E731
    if deferrals >= MAX_DEFERRALS:
        log("gave up on %s(%s) after %d tries (%s); the sweep queues unclaimed payloads again, and "
            "`irule omero_irods_reprocess` marks other requests" % (rule_name, path, deferrals + 1, problem))
        return
    delay = deferral_delay(deferrals)
    attempt = args[1] if len(args) > 1 else "1"
    instance = str(getattr(rei, "pluginInstanceName", "") or "") or names.DEFAULT_PREP_INSTANCE
    try:
        hints = triggers.delay_hints(instance, delay)
        callback.delayExec(hints, triggers.delayed_rule_text(rule_name, path, attempt, str(deferrals + 1)), "")
    except Exception as error:
        log("%s(%s) could not be run (%s) nor deferred: %s" % (rule_name, path, problem, error))
        return
    log("%s(%s) deferred for %ds (%d of %d): %s" % (rule_name, path, delay, deferrals + 1, MAX_DEFERRALS, problem))


def run_admin(rule, rule_args, callback, rei):
    """An admin rule for irule; its answer (or error) as JSON on stdout (ruleExecOut)."""
    import json

    zone = _zone(callback, rei)
    try:
        args = [str(arg) for arg in rule_args] or irule_inputs(rule.inputs)
        answer = rule.answer(zone, _config(), args)
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


# --- the rule-text gate: only admins hand this zone rule text ---------------------------------

def gate_rule_text(callback, rei, api):
    """pep_api_exec_my_rule_pre, pep_api_exec_rule_expression_pre: RULE_ENGINE_CONTINUE for this
    zone's admins, else the refusal's code (omero_irods.rule_gate decides and says why). Names
    and privilege levels come from the session variables, so it costs no catalog query."""
    import session_vars

    from omero_irods import rule_gate

    session = session_vars.get_map(rei)
    refusal = rule_gate.refusal(api, _privilege(session.get("client_user")), _privilege(session.get("proxy_user")))
    if refusal is None:
        return _continue()
    callback.writeLine("serverLog", refusal)
    return _irods_error(rule_gate.REFUSAL_ERROR)


def _privilege(user):
    """(name, authFlag) of a session_vars user; an unknown level counts as none."""
    user = user or {}
    level = (user.get("authentication_info") or {}).get("privilege_level", 0)
    try:
        return str(user.get("user_name", "")), int(level)
    except (TypeError, ValueError):
        return str(user.get("user_name", "")), 0


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


# In-place rewrites. A nested server-side call (rsDataObjCopy opening its destination, a
# bulk put's rsDataObjPut per file) fires no pep_api_*: only the API the client called does
# (irods/irods lib/core/include/irods/apiHandler.hpp, call_handler), so each client API that
# can rewrite an existing replica is guarded at its own pre-PEP. Key words: irods/irods
# lib/core/include/irods/rodsKeyWdDef.h (FORCE_FLAG_KW "forceFlag", RSYNC_MODE_KW
# "rsyncMode", RSYNC_DEST_PATH_KW "rsyncDestPath"), rodsDef.h (IRODS_TO_IRODS).

def guard_put(callback, rei, rule_args):
    """pep_api_data_obj_put_pre: only `iput -f` can rewrite an existing object (without the
    force flag the server refuses it: rsDataObjPut.cpp, OVERWRITE_WITHOUT_FORCE_FLAG when
    server/core/src/server_utilities.cpp is_force_flag_required; a forced put to another
    resource is HIERARCHY_ERROR, throw_if_force_put_to_new_resource)."""
    inp = rule_args[2]
    if not _has_key(inp.condInput, "forceFlag"):
        return _continue()
    return _guard(callback, rei, "overwrite", str(inp.objPath))


def guard_create(callback, rei, rule_args):
    """pep_api_data_obj_create_pre (and _and_stat): rsDataObjCreate opens with O_CREAT|O_RDWR|
    O_TRUNC (rsDataObjCreate.cpp): an existing object is truncated."""
    return _guard(callback, rei, "overwrite", str(rule_args[2].objPath))


def guard_truncate(callback, rei, rule_args):
    """pep_api_data_obj_truncate_pre, pep_api_replica_truncate_pre: PRC truncate and
    replica_truncate (rsDataObjTruncate.cpp, rs_replica_truncate.cpp)."""
    return _guard(callback, rei, "truncate", str(rule_args[2].objPath))


def guard_copy(callback, rei, rule_args):
    """pep_api_data_obj_copy_pre: `icp -f` onto an existing object rewrites the destination
    (rsDataObjCopy.cpp: without FORCE_FLAG_KW on the destination it is refused)."""
    destination = rule_args[2].destDataObjInp
    if not _has_key(destination.condInput, "forceFlag"):
        return _continue()
    return _guard(callback, rei, "overwrite", str(destination.objPath))


def guard_rsync(callback, rei, rule_args):
    """pep_api_data_obj_rsync_pre: `irsync i:A i:B` copies inside the server onto B with the
    force flag (rsDataObjRsync.cpp rsRsyncDataToData); a sync from or to the client's disk
    moves bytes with a put or a get, guarded (or harmless) there."""
    condition = rule_args[2].condInput
    if _key_value(condition, "rsyncMode") != "IRODS_TO_IRODS":
        return _continue()
    return _guard(callback, rei, "overwrite", _key_value(condition, "rsyncDestPath") or "")


def guard_bulk_put(callback, rei, rule_args):
    """pep_api_bulk_data_obj_put_pre: `iput -b -f` puts many files into a collection with
    the force flag (rsBulkDataObjPut.cpp)."""
    inp = rule_args[2]
    if not _has_key(inp.condInput, "forceFlag"):
        return _continue()
    return _guard(callback, rei, "overwrite_below", str(inp.objPath))


def guard_extract_and_register(callback, rei, rule_args):
    """pep_api_struct_file_ext_and_reg_pre: `ibun -x -f` extracts over existing objects in
    the target collection (rsStructFileExtAndReg.cpp)."""
    inp = rule_args[2]
    if not _has_key(inp.condInput, "forceFlag"):
        return _continue()
    return _guard(callback, rei, "overwrite_below", str(inp.collection))


def guard_bundle(callback, rei, rule_args):
    """pep_api_struct_file_bundle_pre: `ibun -c -f` rewrites an existing bundle object
    (rsStructFileBundle.cpp)."""
    inp = rule_args[2]
    if not _has_key(inp.condInput, "forceFlag"):
        return _continue()
    return _guard(callback, rei, "overwrite", str(inp.objPath))


def _has_key(key_values, key):
    return _key_value(key_values, key) is not None


def _key_value(key_values, key):
    """A KeyValPair's value, or None: the plugin's KeyValPair raises KeyError for a missing
    key (irods/irods_rule_engine_plugin_python src/types/irods/objInfo.cpp)."""
    try:
        return str(key_values[key])
    except KeyError:
        return None


def _guard(callback, rei, operation, raw_path):
    """RULE_ENGINE_CONTINUE, or the refusal's error code: the client's call then fails and
    nothing happens. Cheapest first: a string test on today's allowed roots, then (outside
    them, once per agent) on every root ever linked in, then one GenQuery."""
    from omero_irods import guard

    path = guard.normal_path(raw_path)
    settings = _guard_settings(callback, guard.zone_of(path))
    if settings is not None and settings[1] is None:
        return _continue()  # no such zone in the config: nothing was placed there
    zone = _zone(callback, rei)
    if settings is not None and not guard.in_scope(path, settings[0]) \
            and not guard.in_scope(path, _guarded_roots(zone, settings)):
        return _continue()
    try:
        rows = zone._rows(*guard.holder_query(path, settings[1] if settings else None))
    except Exception as error:  # refusing is recoverable, a deleted vault file is not
        refusal = guard.unchecked(operation, path, zone.user_name, error)
    else:
        refusal = guard.refusal(operation, path, zone.user_name, rows)
    if refusal is None or (refusal.holders and guard.needs_existing_object(operation)
                           and not _object_exists(zone, path)):
        return _continue()
    zone.log(refusal.log_line())
    return _irods_error(refusal.error_name)


def _object_exists(zone, path):
    """Whether a data object is at `path` (asked only when a link covers it). An unqueryable
    name or a failing query counts as existing: the refusal stands."""
    from omero_irods import guard

    query = guard.object_query(path)
    if query is None:
        return True
    try:
        return bool(zone._rows(*query))
    except Exception:
        return True


#: (allowed roots, records collection) -> the roots the string test checks: read once per
#: agent and config (a narrowed config is a new key, so its first guarded call reads again).
_guarded_roots_cache = {}


def _guarded_roots(zone, settings):
    from omero_irods import guard

    if settings not in _guarded_roots_cache:
        try:
            rows = zone._rows(*guard.linked_under_query(settings[1]))
        except Exception:  # unreadable: every path goes to the query (not cached: try again)
            return ("/",)
        _guarded_roots_cache[settings] = guard.guarded_roots(settings[0], rows)
    return _guarded_roots_cache[settings]


def _guard_settings(callback, zone_name):
    """(the zone's allowed roots, its records collection), with records None when the config
    has no such zone; None when the config cannot be read: then every path is queried, in
    every records collection's links (guard.holder_query)."""
    from omero_irods.config import allowed_roots, records_collection

    try:
        return allowed_roots(zone_name), records_collection(zone_name)
    except Exception as error:
        problem = str(error)
        if problem not in _guard_config_problems_logged:
            _guard_config_problems_logged.add(problem)
            callback.writeLine("serverLog", "omero-irods: the guard checks every path by query, the policy "
                                            "config cannot be read: %s" % problem)
        return None
