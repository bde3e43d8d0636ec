"""The `callback` object a rule gets: `callback.name(*args)` runs a rule of core or a microservice.

Source: irods/irods_rule_engine_plugin_python src/main.cpp (CallbackWrapper, RuleCallWrapper):
- any attribute is a call of that name; keyword arguments are ignored (Boost raw_function);
- the name runs core's function if core has one (irods/irods server/re/include/irods/
  irods_re_plugin.hpp `control`: rule engines first), else the microservice of that name
  (server/re/src/irods_re_plugin.cpp exec_microservice_adapter: NO_MICROSERVICE_FOUND_ERR for an
  unknown name, ACTION_ARG_COUNT_MISMATCH for a wrong argument count);
- success returns {'code': 0, 'status': True, 'arguments': [...]} with out-parameters replaced;
- a failure raises RuntimeError('[iRods__Error__Code:<code>] <error result text>'), except
  CAT_NO_ROWS_FOUND and (4.3 only) CAT_SUCCESS_BUT_WITH_NO_INFO, which return with status False.
"""

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
            return code, _result_text(code, "default_microservice_manager: no microservice found " + self.name), params
        arg_count, function = entry
        if len(params) != arg_count:
            code = irods_errors.ACTION_ARG_COUNT_MISMATCH
            message = ("execMicroService3: wrong number of arguments (%s takes %d, got %d)"
                       % (self.name, arg_count, len(params)))
            return code, _result_text(code, message), params
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
            return failure.code, _result_text(failure.code, "exec_microservice_adapter failed: "
                                              + failure.message), params
        except error_codes.IrodsError as error:
            context.log("%s: %s, status = %d" % (self.name, error.message, error.code))
            return error.code, _result_text(error.code, "exec_microservice_adapter failed: " + error.message), params
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


def load_microservices():
    """Import the modules that register the emulated microservices."""
    from omero_irods_sandbox.prep import msi_data, msi_meta, msi_misc  # noqa: F401
