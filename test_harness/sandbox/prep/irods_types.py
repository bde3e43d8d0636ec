"""Emulation of the plugin's built-in `irods_types` module (the structs rules see).

Attribute names, read-only-ness and constructor order follow
irods/irods_rule_engine_plugin_python `src/types/irods/*.cpp` (4.3.x); C sizes follow
irods/irods `lib/core/include/irods/rodsDef.h` (NAME_LEN 64, MAX_NAME_LEN 1088, ...).
The sandbox builds instances with `structs.fill(obj, **members)`; rules use them as on a server.
"""

import enum as _enum

from omero_irods_sandbox.prep import structs as _s
from omero_irods_sandbox.prep.structs import c_string, c_string_array, char_array  # noqa: F401 (exported)

# C buffer sizes, irods/irods lib/core/include/irods/rodsDef.h
_NAME_LEN = 64
_LONG_NAME_LEN = 256
_MAX_NAME_LEN = 1088
_TIME_LEN = 32
_SHORT_STR_LEN = 32
_HEADER_TYPE_LEN = 128
_MAX_SQL_ROWS = 256


class objType(_enum.IntEnum):
    """src/types/irods/rodsType.cpp: bp::enum_<objType_t>("objType")."""

    UNKNOWN_OBJ = 0
    DATA_OBJ = 1
    COLL_OBJ = 2
    UNKNOWN_FILE = 3
    LOCAL_FILE = 4
    LOCAL_DIR = 5
    NO_INPUT = 6


class KeyValPair(_s.Struct):
    """src/types/irods/objInfo.cpp export_KeyValPair: len, key, value, and k[...] lookup.

    `kvp['missing']` raises KeyError('missing was not found in the list of keys.').
    """

    MEMBERS = (
        _s.integer("len"),
        _s.pointer("keyWord"),
        _s.pointer("value"),
    )

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_pairs"] = []

    @property
    def len(self):
        return len(self._values["_pairs"])

    @property
    def key(self):
        return c_string_array([k for k, _ in self._values["_pairs"]])

    @property
    def value(self):
        return c_string_array([v for _, v in self._values["_pairs"]])

    def __getitem__(self, key):
        for name, value in self._values["_pairs"]:
            if name == key:
                return value
        raise KeyError("%s was not found in the list of keys." % key)

    def __repr__(self):
        return "<irods_types.KeyValPair %r>" % (self._values["_pairs"],)


def _kvp_add(kvp, key, value):
    """addKeyVal (irods/irods lib/core/src/rcMisc.cpp): replaces the value of an existing key."""
    pairs = kvp._values["_pairs"]
    for index, (name, _) in enumerate(pairs):
        if name == key:
            pairs[index] = (key, value)
            return
    pairs.append((key, value))


def _kvp_items(kvp):
    return list(kvp._values["_pairs"])


class BytesBuf(_s.Struct):
    """src/types/irods/rodsDef.cpp export_BytesBuf: len, buf, get_byte, get_bytes, set/clear_buffer.

    `buf` is a char_array of `len` (str() stops at the first NUL, as the plugin's does);
    get_bytes() returns a list of ints; set_buffer(seq[, n]) takes any sequence of octets.
    """

    MEMBERS = (_s.integer("len"), _s.pointer("buf"))

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_data"] = None

    @property
    def len(self):
        data = self._values["_data"]
        return 0 if data is None else len(data)

    @property
    def buf(self):
        data = self._values["_data"]
        if data is None:
            return None
        text = bytes(data).split(b"\0", 1)[0].decode("utf-8")
        return char_array(text, len(data))

    def get_byte(self, index):
        data = self._values["_data"] or b""
        if index < 0 or index >= len(data):
            raise IndexError("BytesBuf out-of-range access")
        return data[index]

    def get_bytes(self):
        return list(self._values["_data"] or b"")

    def set_buffer(self, content, length=-1):
        if isinstance(content, str):
            # Boost extracts unsigned char from each item: a 1-char str is not an int octet.
            raise TypeError("BytesBuf.set_buffer needs a sequence of integer octets (bytes, bytearray, list)")
        items = list(content)
        if length >= 0:
            items = items[:length]
        self._values["_data"] = bytes(items)

    def clear_buffer(self):
        self._values["_data"] = None

    def __repr__(self):
        return "<irods_types.BytesBuf len=%d>" % self.len


def _bytes_of(buf):
    return bytes(buf._values["_data"] or b"")


def _set_bytes(buf, data):
    buf._values["_data"] = bytes(data)


class SpecColl(_s.Struct):
    MEMBERS = (
        _s.integer("collClass", writable=True),
        _s.integer("type", writable=True),
        _s.chars("collection", _MAX_NAME_LEN),
        _s.chars("objPath", _MAX_NAME_LEN),
        _s.chars("resource", _NAME_LEN),
        _s.chars("rescHier", _MAX_NAME_LEN),
        _s.chars("phyPath", _MAX_NAME_LEN),
        _s.chars("cacheDir", _MAX_NAME_LEN),
        _s.integer("cacheDirty", writable=True),
        _s.integer("replNum", writable=True),
    )


class DataObjInp(_s.Struct):
    """src/types/irods/dataObjInpOut.cpp export_DataObjInp."""

    MEMBERS = (
        _s.chars("objPath", _MAX_NAME_LEN),
        _s.integer("createMode"),
        _s.integer("openFlags"),
        _s.integer("offset"),
        _s.integer("dataSize"),
        _s.integer("numThreads"),
        _s.integer("oprType"),
        _s.pointer("specColl"),
        _s.struct("condInput", KeyValPair),
    )


class OpenedDataObjInp(_s.Struct):
    """src/types/irods/dataObjInpOut.cpp export_OpenedDataObjInp (no path: only l1descInx)."""

    MEMBERS = (
        _s.integer("l1descInx"),
        _s.integer("len"),
        _s.integer("whence"),
        _s.integer("oprType"),
        _s.integer("offset"),
        _s.integer("bytesWritten"),
        _s.struct("condInput", KeyValPair),
    )


class CollInp(_s.Struct):
    """src/types/irods/dataObjInpOut.cpp export_CollInp."""

    MEMBERS = (
        _s.chars("collName", _MAX_NAME_LEN),
        _s.integer("flags"),
        _s.integer("oprType"),
        _s.struct("condInput", KeyValPair),
    )


class DataObjCopyInp(_s.Struct):
    """src/types/irods/dataObjCopy.cpp (imv / icp: pep_api_data_obj_rename_*, ..._copy_*)."""

    MEMBERS = (_s.struct("srcDataObjInp", DataObjInp), _s.struct("destDataObjInp", DataObjInp))


class FileLseekOut_t(_s.Struct):
    """src/types/irods/fileLseek.cpp (msiDataObjLseek's out-parameter)."""

    MEMBERS = (_s.integer("offset"),)


class RodsObjStat(_s.Struct):
    """src/types/irods/objStat.cpp export_RodsObjStat (objSize/objType/dataMode are def_readwrite)."""

    MEMBERS = (
        _s.integer("objSize", writable=True),
        _s.integer("objType", writable=True),
        _s.integer("dataMode", writable=True),
        _s.chars("dataId", _NAME_LEN),
        _s.chars("chksum", _NAME_LEN),
        _s.chars("ownerName", _NAME_LEN),
        _s.chars("ownerZone", _NAME_LEN),
        _s.chars("createTime", _TIME_LEN),
        _s.chars("modifyTime", _TIME_LEN),
        _s.pointer("specColl"),
        _s.chars("rescHier", _MAX_NAME_LEN),
    )


class AuthInfo(_s.Struct):
    """src/types/irods/rodsUser.cpp export_AuthInfo."""

    MEMBERS = (
        _s.chars("authScheme", _NAME_LEN),
        _s.integer("authFlag"),
        _s.integer("flag"),
        _s.integer("ppid"),
        _s.chars("host", _NAME_LEN),
        _s.chars("authStr", _NAME_LEN),
    )


class UserOtherInfo(_s.Struct):
    MEMBERS = (
        _s.chars("userInfo", _NAME_LEN),
        _s.chars("userComments", _NAME_LEN),
        _s.chars("userCreate", _TIME_LEN),
        _s.chars("userModify", _TIME_LEN),
    )


class UserInfo(_s.Struct):
    """src/types/irods/rodsUser.cpp export_UserInfo."""

    MEMBERS = (
        _s.chars("userName", _NAME_LEN),
        _s.chars("rodsZone", _NAME_LEN),
        _s.chars("userType", _NAME_LEN),
        _s.integer("sysUid"),
        _s.struct("authInfo", AuthInfo),
        _s.struct("userOtherInfo", UserOtherInfo),
    )


class RsComm(_s.Struct):
    """src/types/irods/rcConnect.cpp export_RsComm: the agent's connection (client and proxy user)."""

    MEMBERS = (
        _s.integer("irodsProt"),
        _s.integer("sock"),
        _s.integer("connectCnt"),
        _s.chars("clientAddr", _NAME_LEN),
        _s.struct("proxyUser", UserInfo),
        _s.struct("clientUser", UserInfo),
        _s.chars("option", _LONG_NAME_LEN),
        _s.integer("procLogFlag"),
        _s.integer("apiInx"),
        _s.integer("status"),
        _s.integer("windowSize"),
        _s.integer("reconnFlag"),
        _s.integer("cookie"),
        _s.pointer("auth_scheme"),
        _s.integer("ssl_on"),
    )


class DataObjInfo(_s.Struct):
    """src/types/irods/objInfo.cpp export_DataObjInfo (one replica of a data object)."""

    MEMBERS = (
        _s.chars("objPath", _MAX_NAME_LEN),
        _s.chars("rescName", _NAME_LEN),
        _s.chars("rescHier", _MAX_NAME_LEN),
        _s.chars("dataType", _NAME_LEN),
        _s.integer("dataSize"),
        _s.chars("chksum", _NAME_LEN),
        _s.chars("version", _NAME_LEN),
        _s.chars("filePath", _MAX_NAME_LEN),
        _s.chars("dataOwnerName", _NAME_LEN),
        _s.chars("dataOwnerZone", _NAME_LEN),
        _s.integer("replNum"),
        _s.integer("replStatus"),
        _s.chars("statusString", _NAME_LEN),
        _s.integer("dataId"),
        _s.integer("collId"),
        _s.integer("dataMapId"),
        _s.integer("flags"),
        _s.chars("dataComments", _LONG_NAME_LEN),
        _s.chars("dataMode", _SHORT_STR_LEN),
        _s.chars("dataExpiry", _TIME_LEN),
        _s.chars("dataCreate", _TIME_LEN),
        _s.chars("dataModify", _TIME_LEN),
        _s.chars("dataAccess", _NAME_LEN),
        _s.integer("dataAccessInx"),
        _s.integer("writeFlag"),
        _s.chars("destRescName", _NAME_LEN),
        _s.chars("backupRescName", _NAME_LEN),
        _s.chars("subPath", _MAX_NAME_LEN),
        _s.pointer("specColl"),
        _s.integer("regUid"),
        _s.integer("otherFlags"),
        _s.struct("condInput", KeyValPair),
        _s.chars("in_pdmo", _MAX_NAME_LEN),
        _s.pointer("next"),
        _s.integer("rescId"),
    )


class CollInfo(_s.Struct):
    """src/types/irods/objInfo.cpp export_CollInfo."""

    MEMBERS = (
        _s.integer("collId"),
        _s.chars("collName", _MAX_NAME_LEN),
        _s.chars("collParentName", _MAX_NAME_LEN),
        _s.chars("collOwnerName", _NAME_LEN),
        _s.chars("collOwnerZone", _NAME_LEN),
        _s.integer("collMapId"),
        _s.integer("collAccessInx"),
        _s.chars("collComments", _LONG_NAME_LEN),
        _s.chars("collInheritance", _LONG_NAME_LEN),
        _s.chars("collExpiry", _TIME_LEN),
        _s.chars("collCreate", _TIME_LEN),
        _s.chars("collModify", _TIME_LEN),
        _s.chars("collAccess", _NAME_LEN),
        _s.chars("collType", _NAME_LEN),
        _s.chars("collInfo1", _MAX_NAME_LEN),
        _s.chars("collInfo2", _MAX_NAME_LEN),
        _s.struct("condInput", KeyValPair),
        _s.pointer("next"),
    )


class RuleExecInfo(_s.Struct):
    """src/types/irods/irods_re_structs.cpp export_RuleExecInfo: the `rei` every rule gets.

    For API PEPs the server fills only rsComm, uoic and uoip (irods/irods
    lib/core/include/irods/apiHandler.hpp call_handler); static PEPs such as acPostProcForPut
    also get doi / doinp (irods/irods server/api/src/rsDataObjClose.cpp).
    """

    MEMBERS = (
        _s.integer("status"),
        _s.chars("statusStr", _MAX_NAME_LEN),
        _s.chars("ruleName", _NAME_LEN),
        _s.pointer("rsComm"),
        _s.chars("pluginInstanceName", _MAX_NAME_LEN),
        _s.pointer("msParamArray"),
        _s.pointer("inOutMsParamArray"),
        _s.integer("l1descInx"),
        _s.pointer("doinp"),
        _s.pointer("doi"),
        _s.chars("rescName", _NAME_LEN),
        _s.pointer("uoic"),
        _s.pointer("uoip"),
        _s.pointer("coi"),
        _s.pointer("uoio"),
        _s.pointer("condInputData"),
        _s.chars("ruleSet", _NAME_LEN),
        _s.pointer("next"),
    )


class PluginContext(object):
    """src/types/irods/irods_plugin_context.cpp: the 2nd argument of every dynamic PEP.

    `map()` holds the serialized rsComm (irods/irods server/re/src/irods_re_serialization.cpp
    serialize_rsComm_ptr: user_user_name, proxy_user_name, client_addr, ...) plus, for resource
    PEPs, the file object's variables.
    """

    def __init__(self, rs_comm=None, fco_vars=None):
        self._rs_comm = rs_comm
        self._fco_vars = dict(fco_vars or {})

    @property
    def rule_results(self):
        return ""

    def map(self):
        result = dict(self._fco_vars)
        if self._rs_comm is not None:
            result.update(_serialize_rs_comm(self._rs_comm))
        return result


def _serialize_rs_comm(comm):
    result = {"client_addr": str(comm.clientAddr)}
    for prefix, user in (("proxy", comm.proxyUser), ("user", comm.clientUser)):
        result.update(
            {
                prefix + "_user_name": str(user.userName),
                prefix + "_rods_zone": str(user.rodsZone),
                prefix + "_user_type": str(user.userType),
                prefix + "_sys_uid": str(user.sysUid),
                prefix + "_auth_info_auth_scheme": str(user.authInfo.authScheme),
                prefix + "_auth_info_auth_flag": str(user.authInfo.authFlag),
                prefix + "_auth_info_flag": str(user.authInfo.flag),
                prefix + "_auth_info_ppid": str(user.authInfo.ppid),
                prefix + "_auth_info_host": str(user.authInfo.host),
                prefix + "_auth_info_auth_str": str(user.authInfo.authStr),
                prefix + "_user_other_info_user_info": str(user.userOtherInfo.userInfo),
                prefix + "_user_other_info_user_comments": str(user.userOtherInfo.userComments),
                prefix + "_user_other_info_user_create": str(user.userOtherInfo.userCreate),
                prefix + "_user_other_info_user_modify": str(user.userOtherInfo.userModify),
            }
        )
    result.update(
        {
            "socket": str(comm.sock),
            "connect_count": str(comm.connectCnt),
            "status": str(comm.status),
            "api_index": str(comm.apiInx),
            "option": str(comm.option),
        }
    )
    return result


class InxIvalPair(_s.Struct):
    """GenQuery select list (column index -> option)."""

    MEMBERS = (_s.integer("len"),)

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_pairs"] = []


class InxValPair(_s.Struct):
    """GenQuery condition list (column index -> condition text)."""

    MEMBERS = (_s.integer("len"),)

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_pairs"] = []


class GenQueryInp(_s.Struct):
    """src/types/irods/rodsGenQuery.cpp: every member is def_readwrite (genquery.py sets them)."""

    MEMBERS = (
        _s.integer("maxRows", writable=True),
        _s.integer("continueInx", writable=True),
        _s.integer("rowOffset", writable=True),
        _s.integer("options", writable=True),
        _s.struct("condInput", KeyValPair, writable=True),
        _s.struct("selectInp", InxIvalPair, writable=True),
        _s.struct("sqlCondInp", InxValPair, writable=True),
    )


class SqlResult(_s.Struct):
    """One result column: `row(r)` returns the value of row r as a str."""

    MEMBERS = (_s.integer("attriInx", writable=True), _s.integer("len"))

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_rows"] = []

    def row(self, index):
        return self._values["_rows"][index]


class GenQueryOut(_s.Struct):
    """src/types/irods/rodsGenQuery.cpp: rowCnt, attriCnt, continueInx, totalRowCount, sqlResult."""

    MEMBERS = (
        _s.integer("rowCnt"),
        _s.integer("attriCnt"),
        _s.integer("continueInx"),
        _s.integer("totalRowCount"),
    )

    def __init__(self, *args):
        _s.Struct.__init__(self, *args)
        self._values["_columns"] = []

    @property
    def sqlResult(self):
        return list(self._values["_columns"])


class ExecCmdOut(_s.Struct):
    """src/types/irods/execCmd.cpp export_ExecCmdOut."""

    MEMBERS = (_s.struct("stdoutBuf", BytesBuf), _s.struct("stderrBuf", BytesBuf), _s.integer("status"))


class MsParamArray(_s.Struct):
    MEMBERS = (_s.integer("len"), _s.integer("oprType"))
