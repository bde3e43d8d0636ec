"""Logging, key-value, command, delay and GenQuery microservices.

Argument counts: irods/irods server/re/include/irods/reAction.hpp (writeLine: 2, added by the
plugin itself, irods/irods_rule_engine_plugin_python src/main.cpp start()).
"""

import os
import re
import shlex
import subprocess

from omero_irods_sandbox.prep import genquery_engine, irods_types, structs
from omero_irods_sandbox.prep.callback import microservice
from omero_irods_sandbox.prep.msparam import PluginConversionError, fail, pos_int, require_str

MAX_SQL_ROWS = 256


@microservice("writeLine", 2)
def writeLine(ctx, where, text):
    """irods/irods server/re/src/printMS.cpp writeLine: 'serverLog' goes to the server log
    as 'writeLine: inString = <text>'; 'stdout'/'stderr' append the text and a newline to the
    rule's output buffer (ruleExecOut), which irule prints and nobody reads for PEPs and
    delayed rules (print() goes to /dev/null since 4.3: README)."""
    buffer = require_str(where, "writeLine", 1)
    if buffer == "serverLog":
        ctx.log("writeLine: inString = %s" % (text,))
    elif buffer in ctx.agent.rule_output:
        ctx.agent.rule_output[buffer] += "%s\n" % (text,)
    return {}


@microservice("msiString2KeyValPair", 2)
def msiString2KeyValPair(ctx, text, _out_kvp):
    """irods/irods server/re/src/keyValPairMS.cpp: 'k1=v1%k2=v2' -> KeyValPair."""
    kvp = irods_types.KeyValPair()
    for item in require_str(text, "msiString2KeyValPair", 1).split("%"):
        if item:
            key, _, value = item.partition("=")
            irods_types._kvp_add(kvp, key, value)
    return {1: kvp}


@microservice("msiAddKeyVal", 3)
def msiAddKeyVal(ctx, kvp, key, value):
    """keyValPairMS.cpp: adds (or replaces) key=value; the new pair comes back in arguments[0]."""
    if not isinstance(kvp, irods_types.KeyValPair):
        fail("USER_PARAM_TYPE_ERR", "msiAddKeyVal: argument 1 must be an irods_types.KeyValPair()")
    irods_types._kvp_add(kvp, require_str(key, "msiAddKeyVal", 2), require_str(value, "msiAddKeyVal", 3))
    return {0: kvp}


@microservice("msiGetValByKey", 3)
def msiGetValByKey(ctx, kvp, key, _out_value):
    """keyValPairMS.cpp: a missing key is UNMATCHED_KEY_OR_INDEX."""
    if not isinstance(kvp, irods_types.KeyValPair):
        fail("USER_PARAM_TYPE_ERR", "msiGetValByKey: argument 1 must be an irods_types.KeyValPair")
    try:
        return {2: kvp[require_str(key, "msiGetValByKey", 2)]}
    except KeyError:
        fail("UNMATCHED_KEY_OR_INDEX", "msiGetValByKey: no key %r" % key)


@microservice("msiSleep", 2)
def msiSleep(ctx, seconds, microseconds):
    """miscMS.cpp msiSleep: the sandbox does not sleep (the zone clock moves only by advance)."""
    pos_int(seconds, "msiSleep", 1)
    pos_int(microseconds, "msiSleep", 2)
    return {}


@microservice("msiGetSystemTime", 2)
def msiGetSystemTime(ctx, _out_time, format_name):
    """miscMS.cpp: epoch seconds of the zone clock ('human' is not emulated)."""
    if format_name not in ("", "null", "unix"):
        fail("SYS_NOT_SUPPORTED", "msiGetSystemTime: the sandbox emulates only the epoch format, not %r" % format_name)
    return {0: str(ctx.zone.clock.now())}


@microservice("msiExecCmd", 6)
def msiExecCmd(ctx, command, arguments, host, hint_path, add_path, _out):
    """irods/irods server/api/src/rsExecCmd.cpp: only programs in msiExecCmd_bin run (a '/' in
    the name is BAD_EXEC_CMD_PATH); arguments split on blanks with quotes; a non-zero exit is
    EXEC_CMD_ERROR. From Python the output cannot come back: the program runs, then the call
    raises RuntimeError('boost::bad_any_cast: failed conversion using boost::any_cast')
    (irods/irods_rule_engine_plugin_python issue #11, open)."""
    name = require_str(command, "msiExecCmd", 1)
    if "/" in name:
        fail("BAD_EXEC_CMD_PATH", "rsExecCmd: bad cmd path %s" % name)
    program = os.path.join(ctx.runtime.exec_cmd_dir, name)
    argv = [program] + shlex.split(require_str(arguments, "msiExecCmd", 2))
    ctx.log("execCmd:%s argv:%s" % (program, arguments))
    if not os.access(program, os.X_OK):
        fail("EXEC_CMD_ERROR", "rsExecCmd: %s is not an executable in %s" % (name, ctx.runtime.exec_cmd_dir))
    completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    if completed.returncode != 0:
        fail("EXEC_CMD_ERROR", "rsExecCmd: %s exited with status %d" % (name, completed.returncode))
    raise PluginConversionError("boost::bad_any_cast: failed conversion using boost::any_cast")


# irods/irods server/core/src/server_utilities.cpp contains_session_variables (4.3.5 and 5.0.2):
# std::regex_search of this pattern (ECMAScript: \b between ASCII word characters, case
# sensitive). Seen on iRODS 5.0.2: '$objPath', 'a$objPath', '$status', '$userNameClient' are
# refused; '$objPathX', '$OBJPATH' and '\\u0024objPath' are not.
_SESSION_VARIABLES = re.compile(
    r"\$\b(?:pluginInstanceName|status|objPath|dataType|dataSize|chksum|version|filePath|replNum|"
    r"replStatus|writeFlag|dataOwner|dataOwnerZone|dataExpiry|dataComments|dataCreate|dataModify|"
    r"dataAccess|dataAccessInx|dataId|collId|statusString|destRescName|rescName|userClient|"
    r"userNameClient|rodsZoneClient|sysUidClient|privClient|clientAddr|authStrClient|"
    r"userAuthSchemeClient|userInfoClient|userCommentClient|userCreateClient|userModifyClient|"
    r"userProxy|userNameProxy|rodsZoneProxy|privProxy|authStrProxy|userAuthSchemeProxy|userInfoProxy|"
    r"userCommentProxy|userCreateProxy|userModifyProxy|collName|collParentName|collOwnername|"
    r"collExpiry|collComments|collCreate|collModify|collAccess|collAccessInx|collInheritance|"
    r"otherUser|otherUserName|otherUserZone|otherUserType|connectCnt|connectSock|connectOption|"
    r"connectStatus|connectApiInx|KVPairs)\b", re.ASCII)


def session_variable_in(rule_text):
    """The first session-variable word in a rule text, or None."""
    match = _SESSION_VARIABLES.search(rule_text)
    return match.group(0) if match else None


@microservice("delayExec", 3)
def delayExec(ctx, hints, body, recovery):
    """irods/irods server/re/src/nre.systemMS.cpp delayExec -> rsRuleExecSubmit (delay.py).
    rsRuleExecSubmit (server/api/src/rsRuleExecSubmit.cpp) first refuses a rule text holding a
    session variable, comments included: RE_UNSUPPORTED_SESSION_VAR."""
    for position, value in enumerate((hints, body, recovery), 1):
        require_str(value, "delayExec", position)
    word = session_variable_in(body)
    if word:
        fail("RE_UNSUPPORTED_SESSION_VAR", "Rules cannot contain session variables. Use dynamic PEPs instead. "
                                           "(%s in the delayed rule text)" % word)
    ctx.runtime.schedule(hints, body, recovery, ctx.rei)
    return {}


# ---- GenQuery1: irods/irods server/re/src/genQueryMS.cpp ----------------------------------
@microservice("msiMakeGenQuery", 3)
def msiMakeGenQuery(ctx, select_text, condition_text, _out_inp):
    """'COL1, COL2' and 'COL = 'x' and COL2 like '%y'' -> GenQueryInp (maxRows MAX_SQL_ROWS)."""
    query = genquery_engine.parse(require_str(select_text, "msiMakeGenQuery", 1),
                                  require_str(condition_text, "msiMakeGenQuery", 2))
    inp = structs.fill(irods_types.GenQueryInp(), maxRows=MAX_SQL_ROWS)
    inp._values["_query"] = query
    return {2: inp}


@microservice("msiExecGenQuery", 2)
def msiExecGenQuery(ctx, inp, _out):
    """rsGenQuery as the rule's user; no rows is an empty GenQueryOut and status 0."""
    query = _query_of(inp, "msiExecGenQuery")
    rows = genquery_engine.execute(ctx.zone, ctx.actor, query, inp.options)
    statement = {"query": query, "rows": rows[max(0, inp.rowOffset):], "total": len(rows)}
    return {1: _next_batch(ctx, statement, inp.maxRows, inp.options)}


@microservice("msiGetMoreRows", 3)
def msiGetMoreRows(ctx, inp, out, _out_continue):
    """The next MAX_SQL_ROWS rows of an open statement (or closes it when continueInx is 0)."""
    if not isinstance(inp, irods_types.GenQueryInp) or not isinstance(out, irods_types.GenQueryOut):
        fail("USER_PARAM_TYPE_ERR", "msiGetMoreRows needs (GenQueryInp, GenQueryOut, out)")
    statement = ctx.agent.queries.pop(out.continueInx, None) if out.continueInx > 0 else None
    if statement is None:
        empty = irods_types.GenQueryOut()
        return {1: empty, 2: 0}
    batch = _next_batch(ctx, statement, MAX_SQL_ROWS, inp.options)
    return {1: batch, 2: batch.continueInx}


@microservice("msiCloseGenQuery", 2)
def msiCloseGenQuery(ctx, inp, out):
    if isinstance(out, irods_types.GenQueryOut):
        ctx.agent.queries.pop(out.continueInx, None)
    return {}


def _query_of(inp, msi):
    if not isinstance(inp, irods_types.GenQueryInp) or "_query" not in inp._values:
        fail("USER_PARAM_TYPE_ERR", "%s needs the GenQueryInp made by msiMakeGenQuery" % msi)
    return inp._values["_query"]


def _next_batch(ctx, statement, max_rows, options):
    rows = statement["rows"]
    batch, rest = (rows[:max_rows], rows[max_rows:]) if max_rows > 0 else ([], [])
    out = irods_types.GenQueryOut()
    continue_index = 0
    if rest and not options & genquery_engine.AUTO_CLOSE:
        continue_index = ctx.agent.next_query
        ctx.agent.next_query += 1
        ctx.agent.queries[continue_index] = dict(statement, rows=rest)
    columns = []
    for index, (_, column) in enumerate(statement["query"].selects):
        result = structs.fill(irods_types.SqlResult(), len=max([len(r[index]) for r in batch] + [0]) + 1)
        result._values["_rows"] = [row[index] for row in batch]
        columns.append(result)
    out._values["_columns"] = columns
    total = statement["total"] if options & genquery_engine.RETURN_TOTAL_ROW_COUNT else 0
    return structs.fill(out, rowCnt=len(batch), attriCnt=len(columns), continueInx=continue_index,
                        totalRowCount=total)

