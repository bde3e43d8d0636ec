"""Which put events start work, and the text of the delayed rule that does it.

Every PEP in the zone passes through `is_payload_path` first, so it must stay a
string test: no config read, no catalog query, no import beyond the stdlib (and no heavy
one at import time: every agent imports this module when core is loaded).
Only a payload object in the configured landing zone, put by the service account,
is handed to the delay queue; the PEP itself never does the work (all Python in
one agent runs behind one mutex: irods/irods_rule_engine_plugin_python README).
"""

import posixpath

from omero_irods.names import PAYLOAD_SUFFIX

#: A delayed rule's text travels in `ruleExecSubmitInp_t.ruleName`, a
#: META_STR_LEN (2700) buffer (irods/irods lib/core/include/irods/ruleExecSubmit.h,
#: rodsDef.h); the hints and packed rei travel separately. Passing a path, never a
#: payload, keeps every rule text far below it.
MAX_DELAYED_RULE_TEXT = 2699

#: DataObjInp.openFlags bits that mean "this open may write": the access mode (O_WRONLY 1,
#: O_RDWR 2), O_CREAT (64) and O_TRUNC (512), as python-irodsclient sends them (its
#: irods/manager/data_object_manager.py class constants: 'r' is O_RDONLY, 'w' O_WRONLY|O_CREAT|
#: O_TRUNC, 'a' O_WRONLY|O_CREAT, 'r+' O_RDWR) and the server passes them on (Linux values).
_WRITING_OPEN_FLAGS = 1 | 2 | 64 | 512

#: Why an event was not scheduled; the rules log these at most once per event.
IGNORED_NOT_IN_LANDING_ZONE = "not in the landing zone"
IGNORED_NOT_SERVICE_ACCOUNT = "not uploaded by the service account"


def is_payload_path(path):
    """The cheap first test every PEP makes: does the name end like a payload?"""
    return bool(path) and path.endswith(PAYLOAD_SUFFIX)


def opens_for_writing(open_flags):
    """Whether an open can change the object: a read (O_RDONLY, 0) is never a put event."""
    return bool(int(open_flags) & _WRITING_OPEN_FLAGS)


def why_not_schedule(path, uploader, zone_config):
    """None when the event must be scheduled, else the reason it is ignored.

    A payload-looking object outside the landing zone, or put there by anyone but
    the service account, is untrusted input that never starts work.
    """
    landing = zone_config.landing_zone.rstrip("/")
    if posixpath.normpath(path) != path or not path.startswith(landing + "/"):
        return IGNORED_NOT_IN_LANDING_ZONE
    if uploader != zone_config.service_account:
        return IGNORED_NOT_SERVICE_ACCOUNT
    return None


def delay_hints(instance_name, seconds):
    """The delayExec hints: when to run and which rule engine instance runs it."""
    return "<INST_NAME>%s</INST_NAME><PLUSET>%ds</PLUSET>" % (instance_name, max(1, int(seconds)))


def delayed_rule_text(rule_name, *args):
    """`callback.rule("a", "b")`: the body the delay server runs as expressionFcn.

    The text runs in `__main__`, not in core, so it must call core's rules through
    `callback.` (irods/irods_rule_engine_plugin_python src/main.cpp). Each argument is a
    Python string literal that holds no `$`: rsRuleExecSubmit refuses any text in which a
    session-variable word such as `$objPath` or `$status` appears (irods/irods
    server/api/src/rsRuleExecSubmit.cpp, server/core/src/server_utilities.cpp
    contains_session_variables), whatever a path holds, so `$` is written as the escape
    `\\u0024`. Arguments are JSON strings with every other non-ASCII character as itself:
    JSON's escapes are Python's, but JSON writes a character outside the BMP as two \\u
    surrogate escapes, which a Python literal reads as two lone surrogates; the text itself
    travels as UTF-8.
    """
    import json

    literals = [json.dumps(str(arg), ensure_ascii=False).replace("$", "\\u0024") for arg in args]
    text = "callback.%s(%s)" % (rule_name, ", ".join(literals))
    size = len(text.encode("utf-8"))
    if size > MAX_DELAYED_RULE_TEXT:
        raise ValueError(
            "delayed rule text is %d bytes, over the %d the delay queue keeps: %s..."
            % (size, MAX_DELAYED_RULE_TEXT, text[:80])
        )
    return text
