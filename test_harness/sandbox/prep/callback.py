"""The `callback` object a rule gets: `callback.name(*args)` runs a rule of core or a microservice.

Source: irods/irods_rule_engine_plugin_python src/main.cpp (CallbackWrapper, RuleCallWrapper):
- any attribute is a call of that name; keyword arguments are ignored (Boost raw_function);
- the name runs core's function if core has one (irods/irods server/re/include/irods/
  irods_re_plugin.hpp `control`: rule engines first), else the microservice of that name
  (server/re/src/irods_re_plugin.cpp exec_microservice_adapter: NO_MICROSERVICE_FOUND_ERR for an
  unknown name, ACTION_ARG_COUNT_MISMATCH for a wrong argument count);
- success returns {'code': 0, 'status': True, 'arguments': [...]} with out-parameters replaced;
- a failure raises RuntimeError('[iRods__Error__Code:<code>] <error result text>'), except
  CAT_NO_ROWS_FOUND and (4.3 only) CAT_SUCCESS_BUT_WITH_NO_INFO, which return with status False. A failed
  microservice's text carries its code and error name but no detail: its message is only
  `exec_microservice_adapter failed` (server/re/src/irods_re_plugin.cpp; seen on iRODS 5.0.2).
  The sandbox writes the detail to its serverLog only, so no code can come to rely on it.
"""

import os

from omero_irods_sandbox import error_codes
from omero_irods_sandbox.prep import irods_errors, msparam

#: name -> (argument count, function(ctx, *args) -> {position: output value})
MICROSERVICES = {}

_NOT_ERRORS = (irods_errors.CAT_NO_ROWS_FOUND, irods_errors.CAT_SUCCESS_BUT_WITH_NO_INFO)


def microservice(name, arg_count):
    """Register a microservice emulation under its real name with its real argument count."""

    def register(function):
        MICROSERVICES[name] = (arg_count, function)
        return function

    return register


class MsiContext(object):
    """What a microservice sees: the zone, the acting user (the rei's client user), the log."""

    def __init__(self, runtime, rei, name):
        self.runtime = runtime
        self.rei = rei
        self.name = name
        self.zone = runtime.zone
        self.actor = str(rei.rsComm.clientUser.userName)
        self.agent = runtime.agent

    def log(self, line):
        self.runtime.log.append(line)


class Callback(object):
    """src/main.cpp CallbackWrapper: every attribute name is a rule or microservice call."""

    def __init__(self, runtime, rei):
        object.__setattr__(self, "_runtime", runtime)
        object.__setattr__(self, "_rei", rei)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return RuleCall(self._runtime, self._rei, name)


class RuleCall(object):
    def __init__(self, runtime, rei, name):
        self.runtime = runtime
        self.rei = rei
        self.name = name

    def __call__(self, *args, **ignored_keywords):
        params = [msparam.to_param(arg) for arg in args]
        code, message, arguments = self._dispatch(params)
        if code < 0 and code not in _not_errors(self.runtime.zone):
            raise RuntimeError("[iRods__Error__Code:%d] %s" % (code, message))
        return {"code": code, "status": code >= 0, "arguments": arguments}

    def _dispatch(self, params):
        try:
            ran = self.runtime.call_core_rule_if_exists(self.name, list(params), self.rei)
        except Exception:
            text = self.runtime._log_python_exception()
            return irods_errors.RULE_ENGINE_ERROR, _result_text(
                irods_errors.RULE_ENGINE_ERROR, "irods_rule_engine_plugin_python::rule_exists Caught Python "
                "exception.\n" + text), params
        if ran is not None:
            return ran.code, _result_text(ran.code, ran.message), _rule_outputs(params, ran.arguments)
        return self._run_microservice(params)

    def _run_microservice(self, params):
        entry = MICROSERVICES.get(self.name)
        if entry is None:
            code = irods_errors.NO_MICROSERVICE_FOUND_ERR
            message = "default_microservice_manager: no microservice found " + self.name
            return code, _adapter_error_text(code, message, _LINE_NO_MICROSERVICE), params
        arg_count, function = entry
        if len(params) != arg_count:
            code = irods_errors.ACTION_ARG_COUNT_MISMATCH
            self.runtime.log.append("%s takes %d arguments, got %d" % (self.name, arg_count, len(params)))
            message = "execMicroService3: wrong number of arguments"
            return code, _adapter_error_text(code, message, _LINE_ARGUMENT_COUNT), params
        context = MsiContext(self.runtime, self.rei, self.name)
        try:
            context.zone.before_microservice(self.name)  # delay executors interleave (delay.py)
            outputs = function(context, *params) or {}
        except msparam.PluginConversionError as error:
            raise RuntimeError(str(error))
        except msparam.MicroserviceFailure as failure:
            context.log("%s: %s, status = %d" % (self.name, failure.message, failure.code))
            if failure.code in _NOT_ERRORS:
                return failure.code, _result_text(failure.code, failure.message), params
            return failure.code, _adapter_error_text(failure.code, _ADAPTER_FAILED, _LINE_FAILED), params
        except error_codes.IrodsError as error:
            context.log("%s: %s, status = %d" % (self.name, error.message, error.code))
            return error.code, _adapter_error_text(error.code, _ADAPTER_FAILED, _LINE_FAILED), params
        arguments = list(params)
        for position, value in outputs.items():
            arguments[position] = value
        return 0, "", arguments


def _not_errors(zone):
    """Codes returned with status False instead of raised: 5.0's plugin raises on
    CAT_SUCCESS_BUT_WITH_NO_INFO too (irods_rule_engine_plugin_python commit 30445f2)."""
    if getattr(getattr(zone, "server", None), "version", "4.3") >= "5.0":
        return (irods_errors.CAT_NO_ROWS_FOUND,)
    return _NOT_ERRORS


def _rule_outputs(params, rule_args):
    """update_argument: a string argument takes the rule's new str value; others stay."""
    arguments = list(params)
    for index, original in enumerate(params):
        if isinstance(original, str) and index < len(rule_args) and isinstance(rule_args[index], str):
            arguments[index] = rule_args[index]
    return arguments


def _result_text(code, message):
    """irods/irods lib/core/src/irods_error.cpp result()/build_result_string: the text after
    the code in the RuntimeError ('' + two newlines when the error carries no message)."""
    if not message:
        return "\n\n"
    _, errno_part = error_codes.split_errno(code)
    return "[-]\t%s :  status [%s]  errno [%s] -- message [%s]\n\n" % (
        "irods_re_plugin.cpp:exec_microservice_adapter", error_codes.name(code),
        errno_part or "", message)


# The error stack of a failed microservice call, as the plugin's RuntimeError shows it after
# the code (irods/irods lib/core/src/irods_error.cpp result(); server/re/include/irods/
# irods_re_plugin.hpp dynamic_operation_execution_manager::call and server/re/src/
# irods_re_plugin.cpp exec_microservice_adapter add a level each). Copied from iRODS 5.0.2
# (its build's source paths): the text code sees is the real one, to the character.
_ADAPTER_FAILED = "exec_microservice_adapter failed"
_LINE_NO_MICROSERVICE, _LINE_ARGUMENT_COUNT, _LINE_FAILED = 112, 127, 133
_CALL_LEVEL = (
    "/tmp/irods-build/src/irods/server/re/include/irods/irods_re_plugin.hpp:373:error "
    "irods::dynamic_operation_execution_manager<std::tuple<>, RuleExecInfo *, irods::DONT_AUDIT_RULE>::call("
    "const std::string &, const std::string &, OP, As &&...) [T = std::tuple<>, C = RuleExecInfo *, "
    "Audit = irods::DONT_AUDIT_RULE, OP = std::function<irods::error (const std::basic_string<char> &, "
    "RuleExecInfo *&, irods::unpack &&)>, As = <const std::basic_string<char> &, RuleExecInfo *&, irods::unpack>]")
_ADAPTER_LEVEL = (
    "/tmp/irods-build/src/irods/server/re/src/irods_re_plugin.cpp:%d:error irods::default_microservice_manager"
    "<RuleExecInfo *>::exec_microservice_adapter(std::string, default_ms_ctx, std::list<boost::any> &)")


def _adapter_error_text(code, message, line):
    """The text after '[iRods__Error__Code:N] ' of a microservice call that failed."""
    _, errno_part = error_codes.split_errno(code)
    errno_text = os.strerror(errno_part) if errno_part else ""
    level = " :  status [%s]  errno [%s] -- message [%s]" % (error_codes.name(code), errno_text, message)
    return "[-]\t%s%s\n\t[-]\t%s%s\n\n" % (_CALL_LEVEL, level, _ADAPTER_LEVEL % line, level)


def load_microservices():
    """Import the modules that register the emulated microservices."""
    from omero_irods_sandbox.prep import msi_data, msi_meta, msi_misc  # noqa: F401
