"""PrepRuntime: one zone's Python rule engine plugin (rule loading, rule calls, delay queue).

What the server side of the sandbox (clients.py) calls:

    runtime = PrepRuntime(zone, etc_dir, log=zone_log)
    rei = runtime.make_rei("alice", data_obj_info=runtime.data_obj_info(path))
    result = runtime.fire_pep("pep_api_data_obj_put_pre", [instance, ctx, inp, ...], rei, path=path)
    if result.skip: ...                       # RULE_ENGINE_SKIP_OPERATION from a pre-PEP
    elif not result.ok: fail the call with result.code
    runtime.invoke("acPostProcForPut", [], rei, path=path)    # static PEP / any rule by name
    runtime.new_agent()                        # a new client connection = a fresh agent
    runtime.advance_clock(60); runtime.run_due(); runtime.pending()

Every rule that ran is recorded in `runtime.peps` ({name, path, user, result, kind}); log lines
(writeLine('serverLog'), Python tracebacks, delay-server messages) go to `runtime.log`.
"""

import builtins
import contextlib
import copy
import os
import re
import sys
import traceback

from omero_irods.names import DEFAULT_PREP_INSTANCE
from omero_irods_sandbox import error_codes, processes
from omero_irods_sandbox.prep import delay, irods_errors, irods_types, structs
from omero_irods_sandbox.prep.callback import Callback, load_microservices
from omero_irods_sandbox.prep.loader import RuleBase

#: Regexes a default 4.3 server registers for PEP names: the PREP's own defaults
#: (irods/irods_rule_engine_plugin_python src/main.cpp STATIC_PEP_RULE_REGEX and
#: DYNAMIC_PEP_RULE_REGEX) plus the native rule language plugin's
#: (irods/irods packaging/server_config.json.template regexes_for_supported_peps). A dynamic
#: PEP fires only if its name matches one (lib/core/include/irods/apiHandler.hpp).
PREP_ONLY_PEP_REGEXES = ("ac[^ ]*", "[^ ]*pep_[^ ]*_(pre|post)")
DEFAULT_PEP_REGEXES = PREP_ONLY_PEP_REGEXES + ("msi[^ ]*", "[^ ]*pep_[^ ]*_(pre|post|except|finally)")

IRODS_ERROR_PREFIX = "[iRods__Error__Code:"

# LOCAL_PRIV_USER_AUTH / LOCAL_USER_AUTH / REMOTE_PRIV_USER_AUTH (irods/irods
# lib/core/include/irods/rodsUser.h).
_ADMIN_AUTH_FLAG = 5
_USER_AUTH_FLAG = 3
_REMOTE_PRIV_USER_AUTH = 4


def _may_run_irule(rei):
    """irods/irods_rule_engine_plugin_python src/main.cpp exec_rule_text: "Because Python is not
    sandboxed", both authFlags (uoic, else rsComm.clientUser; uoip, else rsComm.proxyUser) must
    be at least REMOTE_PRIV_USER_AUTH."""
    client = rei.uoic if rei.uoic is not None else rei.rsComm.clientUser
    proxy = rei.uoip if rei.uoip is not None else rei.rsComm.proxyUser
    return min(int(client.authInfo.authFlag), int(proxy.authInfo.authFlag)) >= _REMOTE_PRIV_USER_AUTH


class RuleResult(object):
    """What a rule call returned, as the server sees it.

    ran: a Python function of core ran. code: its result (0 success, < 0 an iRODS error,
    RULE_ENGINE_CONTINUE / RULE_ENGINE_SKIP_OPERATION positive). arguments: the rule_args list
    after the call (rules set outputs by assigning into it). message: the logged traceback.
    """

    def __init__(self, name, ran, code, arguments, message=""):
        self.name = name
        self.ran = ran
        self.code = code
        self.arguments = arguments
        self.message = message

    @property
    def ok(self):
        return self.code >= 0

    @property
    def skip(self):
        return self.code == irods_errors.RULE_ENGINE_SKIP_OPERATION

    def __repr__(self):
        return "RuleResult(%r, ran=%r, code=%r)" % (self.name, self.ran, self.code)


class PrepRuntime(object):
    """The Python rule engine plugin of one zone."""

    def __init__(self, zone, etc_dir, log=None, instance_name=DEFAULT_PREP_INSTANCE,
                 exec_cmd_dir=None, pep_regexes=DEFAULT_PEP_REGEXES, environ=None):
        """zone: the catalog Zone. etc_dir: the emulated /etc/irods holding core.py.
        log: list receiving server log lines (a new list by default).
        exec_cmd_dir: the emulated msiExecCmd_bin (default <etc_dir>/../msiExecCmd_bin).
        environ: environment variables set while this zone's rules run (e.g. OMERO_IRODS_CONFIG).
        """
        self.zone = zone
        self.rules = RuleBase(etc_dir)
        self.log = log if log is not None else []
        self.instance_name = instance_name
        self.exec_cmd_dir = os.path.abspath(
            exec_cmd_dir or os.path.join(os.path.dirname(self.rules.etc_dir), "msiExecCmd_bin")
        )
        self._pep_patterns = [re.compile(pattern) for pattern in pep_regexes]
        self.environ = dict(environ or {})
        self.peps = []
        self.delay_queue = delay.DelayQueue()
        self.agent = Agent()
        load_microservices()

    # -- rei and struct helpers for the server side ------------------------------------
    def make_rei(self, user, proxy_user=None, data_obj_inp=None, data_obj_info=None,
                 coll_info=None, cond_input=None, client_addr="127.0.0.1", api_index=0):
        """A RuleExecInfo as the server fills it for `user` (proxy defaults to the user).

        API PEPs get only rsComm/uoic/uoip (irods/irods lib/core/include/irods/apiHandler.hpp);
        pass data_obj_info / data_obj_inp for static PEPs that have them (acPostProcForPut).
        """
        comm = structs.fill(
            irods_types.RsComm(),
            clientAddr=client_addr,
            apiInx=api_index,
            clientUser=self.user_info(user),
            proxyUser=self.user_info(proxy_user or user),
        )
        rei = irods_types.RuleExecInfo()
        structs.fill(rei, rsComm=comm, uoic=comm.clientUser, uoip=comm.proxyUser,
                     doinp=data_obj_inp, doi=data_obj_info, coi=coll_info, condInputData=cond_input)
        return rei

    def user_info(self, name):
        """UserInfo of a catalog user (userType and authFlag as the server sets them)."""
        record = self.zone.user(name)
        auth = structs.fill(irods_types.AuthInfo(), authScheme="native",
                            authFlag=_ADMIN_AUTH_FLAG if record.type == "rodsadmin" else _USER_AUTH_FLAG)
        return structs.fill(irods_types.UserInfo(), userName=record.name, rodsZone=self.zone_name,
                            userType=record.type, authInfo=auth)

    def data_obj_info(self, path, resource=None):
        """DataObjInfo of one replica (the given resource's, else the first good one)."""
        record = self.zone.data_object(path)
        if record is None:
            raise error_codes.IrodsError("CAT_NO_ROWS_FOUND", "no data object at %s" % path)
        replicas = [r for r in record.replicas if resource in (None, r.resource)]
        if not replicas:
            raise error_codes.IrodsError("SYS_RESC_DOES_NOT_EXIST",
                                         "%s has no replica on resource %s" % (path, resource))
        replica = next((r for r in replicas if r.status == "good"), replicas[0])
        collection = self.zone.collection(record.collection)
        status = {"stale": 0, "good": 1, "intermediate": 2}[replica.status]
        return structs.fill(
            irods_types.DataObjInfo(), objPath=record.path, rescName=replica.resource,
            rescHier=replica.resource, dataType=record.data_type, dataSize=replica.size,
            chksum=replica.checksum or "", filePath=replica.physical_path,
            dataOwnerName=record.owner, dataOwnerZone=self.zone_name, replNum=replica.number,
            replStatus=status, dataId=record.id, collId=collection.id if collection else 0,
            dataCreate="%011d" % record.create_time, dataModify="%011d" % replica.modify_time,
        )

    @property
    def zone_name(self):
        return self.zone.root.strip("/")

    # -- agents ------------------------------------------------------------------------
    def new_agent(self):
        """Start a new agent (a new client connection or a delay-server execution).

        Each agent is a separate process with its own interpreter: core and every rule module
        are imported afresh, so module-level state does not survive from one connection to the
        next (irods/irods server/core/src/rodsAgent.cpp: one agent per connection).
        """
        self.rules.reset()
        self.agent = Agent()

    # -- rule calls --------------------------------------------------------------------
    def rule_exists(self, rule_name):
        """The plugin's rule_exists: `hasattr(core, name)`; False when core fails to import."""
        with self._active():
            try:
                core = self.rules.core()
            except Exception:
                self._log_python_exception()
                return False
            return hasattr(core, rule_name)

    def pep_enabled(self, rule_name):
        """Does the name pass the server's PEP regex check (RuleExistsHelper::checkOperation)?"""
        return any(pattern.fullmatch(rule_name) for pattern in self._pep_patterns)

    def fire_pep(self, rule_name, rule_args, rei, path=None):
        """Fire a dynamic PEP as invoke_policy_enforcement_point does: only if the name passes
        the regex check and core has it; otherwise ran=False, code 0 (nothing to enforce)."""
        if not self.pep_enabled(rule_name) or not self.rule_exists(rule_name):
            return RuleResult(rule_name, False, 0, list(rule_args))
        return self.invoke(rule_name, rule_args, rei, path=path, kind="pep")

    def invoke(self, rule_name, rule_args, rei, path=None, kind="rule"):
        """Run core's `rule_name(rule_args, callback, rei)` as exec_rule does.

        Missing rule: ran=False, code 0 (the next rule engine plugin's default applies).
        core failing to import: ran=False, code RULE_ENGINE_ERROR, traceback logged.
        """
        with self._active():
            try:
                core = self.rules.core()
            except Exception:
                message = self._log_python_exception()
                return RuleResult(rule_name, False, irods_errors.RULE_ENGINE_ERROR, list(rule_args), message)
            if not hasattr(core, rule_name):
                return RuleResult(rule_name, False, 0, list(rule_args))
            return self._run_core_rule(core, rule_name, list(rule_args), rei, path, kind)

    def call_core_rule_if_exists(self, rule_name, rule_args, rei):
        """For callback.<name>(...): a RuleResult if core has the rule, else None (msi next)."""
        with self._active():
            core = self.rules.core()  # an import error propagates: the callback reports it
            if not hasattr(core, rule_name):
                return None
            return self._run_core_rule(core, rule_name, rule_args, rei, None, "rule")

    def _run_core_rule(self, core, rule_name, rule_args, rei, path, kind):
        self.rules.inject_builtins(core)
        record = {"name": rule_name, "path": path if path is not None else _path_of(rule_args, rei),
                  "user": _user_of(rei), "result": None, "kind": kind}
        self.peps.append(record)
        try:
            returned = getattr(core, rule_name)(rule_args, Callback(self, rei), rei)
            result = RuleResult(rule_name, True, _code_of(returned), rule_args)
        except (Exception, SystemExit):
            message = self._log_python_exception()
            result = RuleResult(rule_name, True, _code_from_exception_text(message), rule_args, message)
        record["result"] = result.code
        return result

    # -- delay queue -------------------------------------------------------------------
    def schedule(self, hints, body, recovery, rei):
        """delayExec: queue `body` (the msi's checks applied); returns the rule id."""
        return self.delay_queue.submit(hints, body, recovery, rei, self.zone.clock.now(), self.log)

    def pending(self):
        """The delay queue for the dump: [{id, rule, user, exe_time, instance_name, frequency}]."""
        return self.delay_queue.pending()

    def advance_clock(self, seconds):
        """Move the zone clock (what makes delayed rules due)."""
        self.zone.clock.advance(seconds)

    def run_due(self, max_executions=1000, executors=1):
        """Run every delayed rule that is due, as the delay server does, until none is due.

        Rules a run schedules with no delay run in the same call. Returns the RuleResults.
        executors > 1: that many rules run at once, interleaving (delay.ConcurrentDelayServer).
        """
        if executors > 1:
            return delay.ConcurrentDelayServer(self, executors, max_executions).run()
        results = []
        while True:
            due = self.delay_queue.next_due(self.zone.clock.now())
            if due is None:
                return results
            if len(results) >= max_executions:
                raise RuntimeError("delay queue did not settle after %d executions; last due rule "
                                   "%s: %r" % (max_executions, due.id, due.body[:200]))
            results.append(self._execute_delayed(due))

    def _execute_delayed(self, rule):
        """irods/irods server/delay_server/src/irodsDelayServer.cpp run_rule_exec and
        server/api/src/rsExecRuleExpression.cpp: a fresh agent, the scheduler's rei, the
        scheduler as client and proxy user, then the rule is removed (or rescheduled by EF)."""
        self.new_agent()
        rei = copy.deepcopy(rule.rei)
        structs.fill(rei.rsComm, clientUser=copy.deepcopy(rei.uoic), proxyUser=copy.deepcopy(rei.uoic))
        result = self.exec_rule_expression(rule.instance_name, rule.body, rei, rule.id)
        if result.code < 0 and not rule.frequency:
            self.log.append("ruleExec of %s: %s failed." % (rule.id, rule.body))
        self.delay_queue.finish(rule, result.code, self.zone.clock.now())
        return result

    def exec_rule_expression(self, instance_name, body, rei, rule_id=None):
        """rsExecRuleExpression: run rule text in the named instance ('' -> every instance)."""
        if instance_name and instance_name != self.instance_name:
            message = "instance not found [%s]" % instance_name
            self.log.append(message)
            return RuleResult("expressionFcn", False, irods_errors.SYS_INVALID_INPUT_PARAM, [], message)
        result = self._run_expression(body, rei, rule_id)
        if not instance_name:
            # Without INST_NAME every rule engine plugin gets the text and only errors are
            # logged (irods_re_plugin.hpp exec_rule_expression, log_error_code): SUCCESS.
            return RuleResult(result.name, result.ran, 0, result.arguments, result.message)
        return result

    def exec_rule_text(self, rule_text, rule_vars, rei):
        """What irule reaches (src/main.cpp exec_rule_text): the client AND the proxy user must
        be privileged (authFlag >= REMOTE_PRIV_USER_AUTH, from rei.uoic / rei.uoip), else
        SYS_NO_API_PRIV -- so an admin proxying for a plain user is refused too (seen on iRODS
        5.0.2: `clientUserName=alice irule ...` as rods); '@external rule { NAME }' calls core's NAME with empty rule_args,
        '@external\\n<python>' (irule -F) runs the text's main(); INPUT values reach Python
        only as the `irods_rule_vars` builtin (and `global_vars`), quotes and all.
        Returns (RuleResult, stdout, stderr) -- what irule prints."""
        if not _may_run_irule(rei):
            message = "Insufficient privileges to run irule in Python rule engine plugin"
            return RuleResult("irule", False, irods_errors.SYS_NO_API_PRIV, [], message), "", ""
        rule_vars = dict(rule_vars)
        self.new_agent()
        record = {"name": "irule", "path": None, "user": _user_of(rei), "result": None, "kind": "irule"}
        self.peps.append(record)
        saved = getattr(builtins, "irods_rule_vars", None)
        builtins.irods_rule_vars = rule_vars
        try:
            with self._active():
                try:
                    code = self._run_rule_text(rule_text, rule_vars, rei)
                    result = RuleResult("irule", True, code, [])
                except (Exception, SystemExit):
                    message = self._log_python_exception()
                    result = RuleResult("irule", True, irods_errors.RULE_ENGINE_ERROR, [], message)
        finally:
            if saved is None:
                del builtins.irods_rule_vars
            else:
                builtins.irods_rule_vars = saved
        record["result"] = result.code
        output = self.agent.rule_output
        return result, output["stdout"], output["stderr"]

    def _run_rule_text(self, rule_text, rule_vars, rei):
        if rule_text.startswith("@external rule { "):
            name = rule_text[len("@external rule { "):].split(" ", 1)[0]
            core = self.rules.core()
            self.rules.inject_builtins(core)
            core.__dict__["global_vars"] = rule_vars
            return _code_of(getattr(core, name)([], Callback(self, rei), rei))
        if rule_text.startswith("@external\n"):
            namespace = {"__name__": "__main__", "irods_types": irods_types, "irods_errors": irods_errors,
                         "global_vars": rule_vars}
            exec(compile(rule_text.split("\n", 1)[1], "<irule -F>", "exec"), namespace)
            return _code_of(namespace["main"]([], Callback(self, rei), rei))
        self.log.append("Improperly formatted rule text")
        return irods_errors.RULE_ENGINE_ERROR

    def _run_expression(self, body, rei, rule_id):
        """src/main.cpp exec_rule_expression: `def expressionFcn(rule_args, callback, rei):\\n`
        + text, every newline followed by one space, exec'd in __main__; a Python exception
        returns RULE_ENGINE_ERROR."""
        source = ("def expressionFcn(rule_args, callback, rei):\n" + body).replace("\n", "\n ")
        namespace = {"__name__": "__main__", "irods_types": irods_types, "irods_errors": irods_errors,
                     "global_vars": {}, "__builtins__": dict(vars(builtins), irods_rule_vars={})}
        record = {"name": "delayed rule %s" % rule_id if rule_id is not None else "expressionFcn",
                  "path": None, "user": _user_of(rei), "result": None, "kind": "delay"}
        self.peps.append(record)
        with self._active():
            try:
                exec(compile(source, "<delayed rule %s>" % rule_id, "exec"), namespace)
                returned = namespace["expressionFcn"]([], Callback(self, rei), rei)
                result = RuleResult(record["name"], True, _code_of(returned), [])
            except (Exception, SystemExit):
                message = self._log_python_exception()
                result = RuleResult(record["name"], True, irods_errors.RULE_ENGINE_ERROR, [], message)
        record["result"] = result.code
        return result

    # -- helpers -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _active(self):
        saved = {name: os.environ.get(name) for name in self.environ}
        os.environ.update(self.environ)
        try:
            with self.rules.active(), processes.adopting_orphans():  # the importers it starts
                yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _log_python_exception(self):
        """The traceback as the plugin formats it: only Python frames (the sandbox's own
        frames stand in for the plugin's C++ and are left out)."""
        error_type, error, trace = sys.exc_info()
        frames = [frame for frame in traceback.extract_tb(trace) if not _is_plugin_frame(frame.filename)]
        text = ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                + "".join(traceback.format_exception_only(error_type, error)))
        self.log.append("caught python exception\n" + text.rstrip("\n"))
        return text


class Agent(object):
    """Per-connection agent state: open GenQuery statements, the agent's scratch, and the
    rule's output buffers (ruleExecOut's stdout/stderr, which irule prints)."""

    def __init__(self):
        self.queries = {}
        self.next_query = 1
        self.rule_output = {"stdout": "", "stderr": ""}


_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
_SHIPPED_FILES = tuple(os.path.join(_PLUGIN_DIR, name + ".py") for name in ("genquery", "session_vars"))


def _is_plugin_frame(filename):
    path = os.path.abspath(filename)
    return path.startswith(_PLUGIN_DIR + os.sep) and path not in _SHIPPED_FILES


def _code_of(returned):
    """src/main.cpp to_irods_error_object: an int result is the code, anything else success."""
    if isinstance(returned, int) and -2 ** 31 <= returned < 2 ** 31:
        return int(returned)
    return 0


def _code_from_exception_text(text):
    """src/main.cpp exec_rule: the code after '[iRods__Error__Code:' in the traceback, else -1."""
    start = text.find(IRODS_ERROR_PREFIX)
    if start < 0:
        return -1
    digits = text[start + len(IRODS_ERROR_PREFIX):].split("]", 1)[0]
    try:
        return int(digits)
    except ValueError:
        return -1


def _user_of(rei):
    user = rei.uoic if rei is not None and rei.uoic is not None else None
    if user is None and rei is not None and rei.rsComm is not None:
        user = rei.rsComm.clientUser
    return str(user.userName) if user is not None else None


def _path_of(rule_args, rei):
    for source in (getattr(rei, "doi", None), getattr(rei, "doinp", None)):
        if source is not None and str(source.objPath):
            return str(source.objPath)
    for arg in rule_args:
        if isinstance(arg, (irods_types.DataObjInp, irods_types.DataObjInfo)):
            return str(arg.objPath)
        if isinstance(arg, irods_types.CollInp):
            return str(arg.collName)
        if isinstance(arg, irods_types.DataObjCopyInp):
            return str(arg.srcDataObjInp.objPath)
    return None
