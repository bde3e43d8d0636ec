"""Emulation of the `session_vars.py` the Python rule engine plugin ships in /etc/irods.

Same public API and keys as irods/irods_rule_engine_plugin_python `session_vars.py`:
`get_map(rei)` -> {plugin_instance_name, status, operation_type, connection, data_object,
collection, client_user, proxy_user, other_user, key_value_pairs}. Notable facts it carries:
- data_object comes from rei.doi, else rei.doinp (then only object_path and size are set); it
  is None for API PEPs, whose rei has neither (apiHandler.hpp fills only rsComm/uoic/uoip);
- the owner key is 'owner' (not 'owner_name'); user maps have 'user_name', 'irods_zone', ...;
- key_value_pairs are keyed by the plugin's c_string objects, as the real one builds them.
"""


def get_map(rei):
    return {
        "plugin_instance_name": str(rei.pluginInstanceName),
        "status": rei.status,
        "operation_type": rei.doinp.oprType if rei.doinp is not None else None,
        "connection": _connection(rei.rsComm) if rei.rsComm is not None else None,
        "data_object": _data_object(rei.doi, rei.doinp),
        "collection": _collection(rei.coi) if rei.coi is not None else None,
        "client_user": _user(rei.uoic, rei.rsComm, "clientUser"),
        "proxy_user": _user(rei.uoip, rei.rsComm, "proxyUser"),
        "other_user": _user_map(rei.uoio) if rei.uoio is not None else None,
        "key_value_pairs": _key_value_pairs(rei.condInputData),
    }


def _connection(comm):
    return {
        "client_address": str(comm.clientAddr),
        "connection_count": comm.connectCnt,
        "socket": comm.sock,
        "option": str(comm.option),
        "status": comm.status,
        "api_number": comm.apiInx,
    }


_DATA_OBJECT_FIELDS = (
    # key, DataObjInfo member, is text
    ("type", "dataType", True), ("checksum", "chksum", True), ("file_path", "filePath", True),
    ("replica_number", "replNum", False), ("replication_status", "replStatus", False),
    ("write_flag", "writeFlag", False), ("owner", "dataOwnerName", True),
    ("owner_zone", "dataOwnerZone", True), ("expiry", "dataExpiry", True),
    ("comments", "dataComments", True), ("create_time", "dataCreate", True),
    ("modify_time", "dataModify", True), ("access_time", "dataAccess", True), ("id", "dataId", False),
    ("collection_id", "collId", False), ("status_string", "statusString", True),
    ("destination_resource_name", "destRescName", True), ("backup_resource_name", "backupRescName", True),
    ("resource_name", "rescName", True),
)


def _data_object(doi, doinp):
    if doi is None and doinp is None:
        return None
    source = doi if doi is not None else doinp
    result = {"object_path": str(source.objPath), "size": source.dataSize}
    for key, member, is_text in _DATA_OBJECT_FIELDS:
        if doi is None:
            result[key] = None
        else:
            value = getattr(doi, member)
            result[key] = str(value) if is_text else value
    return result


def _collection(coi):
    return {
        "id": coi.collId,
        "name": str(coi.collName),
        "parent_collection_name": str(coi.collParentName),
        "owner": str(coi.collOwnerName),
        "expiry": str(coi.collExpiry),
        "comments": str(coi.collComments),
        "create_time": str(coi.collCreate),
        "modify_time": str(coi.collModify),
        "access_time": str(coi.collAccess),
        "inheritance": str(coi.collInheritance),
    }


def _user(direct, comm, comm_member):
    if direct is not None:
        return _user_map(direct)
    if comm is not None and getattr(comm, comm_member) is not None:
        return _user_map(getattr(comm, comm_member))
    return None


def _user_map(user):
    auth = user.authInfo
    other = user.userOtherInfo
    return {
        "user_name": str(user.userName),
        "irods_zone": str(user.rodsZone),
        "user_type": str(user.userType),
        "system_uid": user.sysUid,
        "authentication_info": {
            "authentication_scheme": str(auth.authScheme),
            "privilege_level": auth.authFlag,
            "flag": auth.flag,
            "ppid": auth.ppid,
            "host": str(auth.host),
            "authentication_string": str(auth.authStr),
        },
        "info": str(other.userInfo),
        "comments": str(other.userComments),
        "create_time": str(other.userCreate),
        "modify_time": str(other.userModify),
    }


def _key_value_pairs(kvp):
    if kvp is None:
        return None
    keys, values = kvp.key, kvp.value
    return dict((keys[index], values[index]) for index in range(kvp.len))
