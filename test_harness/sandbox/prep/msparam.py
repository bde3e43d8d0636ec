"""Microservice parameters: what a Python value becomes, and the msParam parsing helpers.

Sources:
- irods/irods_rule_engine_plugin_python src/main.cpp RuleCallWrapper::call and
  include/irods/private/re/python.hpp msParam_from_object: a `str` is a string parameter;
  otherwise only GenQueryInp, GenQueryOut, KeyValPair, FileLseekOut_t, RodsObjStat, BytesBuf,
  int and float are accepted, anything else raises; an int outside a C int's range raises
  OverflowError (Boost.Python extract<int>). Struct arguments are copied
  (irods/irods server/re/src/irods_re_plugin.cpp convertToMsParam -> replMsParam): a
  microservice never changes the caller's object; results come back in 'arguments'.
- irods/irods lib/core/src/msParam.cpp parseMsKeyValStrForDataObjInp / parseMspForDataObjInp /
  parseMspForPosInt, lib/core/src/rcGlobal.cpp DataObjInpKeyWd.
"""

import copy

from omero_irods_sandbox.prep import irods_errors, irods_types

ACCEPTED_STRUCTS = (
    irods_types.GenQueryInp, irods_types.GenQueryOut, irods_types.KeyValPair,
    irods_types.FileLseekOut_t, irods_types.RodsObjStat, irods_types.BytesBuf,
)

# Open flags (Linux values, as parseMsKeyValStrForDataObjInp ORs them in).
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC = 0, 1, 2, 0o100, 0o1000


class MicroserviceFailure(Exception):
    """A microservice returning a negative status; the callback raises it as RuntimeError."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


class PluginConversionError(Exception):
    """The plugin failing to convert an argument back to Python: a bare RuntimeError(text)
    without the '[iRods__Error__Code:' prefix."""


def fail(name, message):
    """Raise MicroserviceFailure with the code of an iRODS error name."""
    raise MicroserviceFailure(getattr(irods_errors, name), message)


def to_param(value):
    """One callback argument as the plugin converts it (a copy for structs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, int):
        return c_int(value)
    if isinstance(value, float):
        return value
    if isinstance(value, ACCEPTED_STRUCTS):
        return copy.deepcopy(value)
    if isinstance(value, irods_types.ExecCmdOut):
        # Observed: msiExecCmd with irods_types.ExecCmdOut() runs the program before failing
        # (irods/irods_rule_engine_plugin_python issue #11); msi_misc.msiExecCmd emulates that.
        return copy.deepcopy(value)
    raise RuntimeError(
        "Attempted to extract a boost::python::object containing a non-conforming type "
        "(callback arguments must be str, int, float, KeyValPair, BytesBuf, RodsObjStat, "
        "FileLseekOut_t, GenQueryInp or GenQueryOut; got %s)" % type(value).__name__
    )


#: The range of a C int: python.hpp msParam_from_object_impl<int> converts with Boost.Python's
#: extract<int>, whose numeric_cast raises OverflowError outside it (seen on iRODS 5.0.2: the
#: texts below, for any callback call, before the microservice or rule runs).
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


def c_int(value):
    """A Python int (or bool) as the plugin's extract<int> converts it."""
    number = int(value)
    if number > INT_MAX:
        raise OverflowError("bad numeric conversion: positive overflow")
    if number < INT_MIN:
        raise OverflowError("bad numeric conversion: negative overflow")
    return number


def require_str(value, msi, position):
    if not isinstance(value, str):
        fail("USER_PARAM_TYPE_ERR", "%s: argument %d must be a string, got %s"
             % (msi, position, type(value).__name__))
    return value


def pos_int(value, msi, position):
    """parseMspForPosInt: an int, or a string of digits ('null' is an error)."""
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        fail("USER_PARAM_TYPE_ERR", "%s: argument %d must be an integer, got %r" % (msi, position, value))
    if number < 0:
        fail("SYS_INVALID_INPUT_PARAM", "%s: argument %d must not be negative (%d)" % (msi, position, number))
    return number


# DataObjInpKeyWd: keyword -> the flag family checked against an msi's valid set.
DATA_OBJ_KEYWORDS = (
    "rescName", "destRescName", "backupRescName", "defRescName", "forceFlag", "all", "localPath",
    "verifyChksum", "irodsAdmin", "updateRepl", "replNum", "dataType", "ChksumAll", "forceChksum",
    "filePath", "createMode", "openFlags", "dataSize", "numThreads", "oprType", "objPath",
    "irodsRmTrash", "irodsAdminRmTrash", "unreg",
)


def parse_kv_string(text, hint_keyword, valid_keywords, msi):
    """parseMsKeyValStrForDataObjInp: 'kw1=v1++++kw2=v2' (a bare value uses hint_keyword).

    Returns {'objPath', 'openFlags', 'createMode', 'dataSize', 'condInput': {kw: value}};
    a keyword outside valid_keywords is USER_BAD_KEYWORD_ERR.
    """
    parsed = {"objPath": "", "openFlags": 0, "createMode": 0, "dataSize": 0, "condInput": {}}
    for item in text.split("++++"):
        if not item:
            continue
        keyword, sep, value = item.partition("=")
        if not sep:
            if hint_keyword is None:
                fail("NO_KEY_WD_IN_MS_INP_STR", "%s: no keyword for %r" % (msi, item))
            keyword, value = hint_keyword, item
        if keyword not in valid_keywords:
            fail("USER_BAD_KEYWORD_ERR", "%s: input keyWd - %s error (allowed: %s)"
                 % (msi, keyword, ", ".join(valid_keywords)))
        if keyword == "openFlags":
            parsed["openFlags"] |= _open_flags(value)
        elif keyword == "createMode":
            parsed["createMode"] = int(value or 0)
        elif keyword == "dataSize":
            parsed["dataSize"] = int(value or 0, 0)
        elif keyword == "objPath":
            parsed["objPath"] = value
        else:
            parsed["condInput"][keyword] = value
    return parsed


def _open_flags(value):
    flags = 0
    if "O_RDWR" in value:
        flags |= O_RDWR
    elif "O_WRONLY" in value:
        flags |= O_WRONLY
    if "O_CREAT" in value:
        flags |= O_CREAT
    if "O_TRUNC" in value:
        flags |= O_TRUNC
    return flags


def data_object_path(value, msi):
    """parseMspForDataObjInp: a path string ('null' -> ''), or a KeyValPair with COLL_NAME and
    DATA_NAME."""
    if isinstance(value, str):
        return "" if value == "null" else value
    if isinstance(value, irods_types.KeyValPair):
        try:
            return "%s/%s" % (value["COLL_NAME"], value["DATA_NAME"])
        except KeyError:
            fail("USER_PARAM_TYPE_ERR", "%s: a KeyValPair path needs the keys COLL_NAME and DATA_NAME" % msi)
    fail("USER_PARAM_TYPE_ERR", "%s: expected a path or a KeyValPair, got %s" % (msi, type(value).__name__))


def options(value, hint_keyword, valid_keywords, msi):
    """An msKeyValStr argument ('' or 'null' for none) -> parse_kv_string result."""
    if isinstance(value, irods_types.KeyValPair):
        parsed = {"objPath": "", "openFlags": 0, "createMode": 0, "dataSize": 0,
                  "condInput": dict(irods_types._kvp_items(value))}
        return parsed
    text = require_str(value, msi, 2)
    if text in ("", "null"):
        return {"objPath": "", "openFlags": 0, "createMode": 0, "dataSize": 0, "condInput": {}}
    return parse_kv_string(text, hint_keyword, valid_keywords, msi)
