"""Data object and collection microservices, acting as the rule's client user.

Argument counts: irods/irods server/re/include/irods/reAction.hpp (the microservice table).
Behaviour: irods/irods server/re/src/reDataObjOpr.cpp (one function per msi) over the server
API functions (server/api/src/rs*.cpp). Microservices call the API functions directly, so no
`pep_api_*` fires; the static PEPs inside those functions do (static_peps.py).
"""

import json
import re

from omero_irods_sandbox.prep import irods_types, static_peps, structs
from omero_irods_sandbox.prep.callback import microservice
from omero_irods_sandbox.prep.msparam import (O_CREAT, O_RDWR, O_TRUNC, O_WRONLY, data_object_path, fail,
                                              options, pos_int, require_str)

_CREATE_KEYWORDS = ("destRescName", "createMode", "dataType", "forceFlag", "dataSize", "objPath")
_OPEN_KEYWORDS = ("objPath", "rescName", "openFlags", "replNum")


def _descriptor_state(ctx):
    """Per-agent bookkeeping the server keeps in its L1 descriptor (open type, opr type)."""
    return ctx.agent.__dict__.setdefault("open_types", {})


@microservice("msiDataObjCreate", 3)
def msiDataObjCreate(ctx, target, key_values, _out_fd):
    """rsDataObjCreate; a bare second argument is the resource (hint DEST_RESC_NAME_KW)."""
    path = data_object_path(target, "msiDataObjCreate")
    opts = options(key_values, "destRescName", _CREATE_KEYWORDS, "msiDataObjCreate")
    path = opts["objPath"] or path
    resource = opts["condInput"].get("destRescName") or None
    fd = ctx.zone.create_data_object(ctx.actor, path, resource=resource,
                                     force="forceFlag" in opts["condInput"],
                                     data_type=opts["condInput"].get("dataType") or "generic")
    _descriptor_state(ctx)[fd] = static_peps.CREATE_TYPE
    return {2: fd}


@microservice("msiDataObjOpen", 2)
def msiDataObjOpen(ctx, target, _out_fd):
    """rsDataObjOpen: 'objPath=/p++++rescName=r++++replNum=n++++openFlags=O_WRONLY' or a path
    (or a KeyValPair with COLL_NAME / DATA_NAME). O_CREAT creates a missing object."""
    if isinstance(target, str):
        opts = options(target, "objPath", _OPEN_KEYWORDS, "msiDataObjOpen")
        path = opts["objPath"]
    else:
        path, opts = data_object_path(target, "msiDataObjOpen"), options("", None, (), "msiDataObjOpen")
    flags = opts["openFlags"]
    resource = opts["condInput"].get("rescName") or _replica_resource(ctx, path, opts["condInput"].get("replNum"))
    if flags & O_CREAT and ctx.zone.data_object(path) is None:
        fd = ctx.zone.create_data_object(ctx.actor, path, resource=resource)
        _descriptor_state(ctx)[fd] = static_peps.CREATE_TYPE
        return {1: fd}
    fd = ctx.zone.open_data_object(ctx.actor, path, mode=_mode(flags), resource=resource)
    writing = flags & (O_WRONLY | O_RDWR)
    _descriptor_state(ctx)[fd] = static_peps.OPEN_FOR_WRITE_TYPE if writing else static_peps.OPEN_FOR_READ_TYPE
    return {1: fd}


def _mode(flags):
    if flags & (O_WRONLY | O_RDWR):
        return "w" if flags & O_TRUNC else "r+"
    return "r"


def _replica_resource(ctx, path, replica_number):
    if replica_number in (None, ""):
        return None
    record = ctx.zone.data_object(path)
    replica = record.replica_number(int(replica_number)) if record else None
    if replica is None:
        fail("SYS_REPLICA_DOES_NOT_EXIST", "%s has no replica number %s" % (path, replica_number))
    return replica.resource


@microservice("msiDataObjRead", 3)
def msiDataObjRead(ctx, fd, length, _out_buffer):
    """rsDataObjRead: returns a BytesBuf holding what was read. Nothing read (the end of the
    object) comes back as None: the plugin turns a BUF_LEN_MS_T without a buffer into None
    (irods/irods_rule_engine_plugin_python include/irods/private/re/python.hpp
    object_from_msParam; seen on iRODS 5.0.2)."""
    data = ctx.zone.read(pos_int(fd, "msiDataObjRead", 1), pos_int(length, "msiDataObjRead", 2))
    if not data:
        return {2: None}
    buffer = irods_types.BytesBuf()
    irods_types._set_bytes(buffer, data)
    return {2: buffer}


@microservice("msiDataObjWrite", 3)
def msiDataObjWrite(ctx, fd, content, _out_count):
    """rsDataObjWrite: a str is written as its UTF-8 bytes, a BytesBuf as its bytes."""
    if isinstance(content, str):
        data = content.encode("utf-8")
    elif isinstance(content, irods_types.BytesBuf):
        data = irods_types._bytes_of(content)
    else:
        fail("USER_PARAM_TYPE_ERR", "msiDataObjWrite: argument 2 must be a str or a BytesBuf")
    return {2: ctx.zone.write(pos_int(fd, "msiDataObjWrite", 1), data)}


_WHENCE = {"SEEK_SET": 0, "SEEK_CUR": 1, "SEEK_END": 2}


@microservice("msiDataObjLseek", 4)
def msiDataObjLseek(ctx, fd, offset, whence, _out):
    """rsDataObjLseek: whence 'SEEK_SET' | 'SEEK_CUR' | 'SEEK_END' (or 0/1/2); FileLseekOut_t.

    irods/irods server/re/src/reDataObjOpr.cpp msiDataObjLseek: an int offset is a C int (the
    plugin's extract<int> already refused 2**31 and more: msparam.to_param), a string offset is
    read with strtoll (64 bits; 'null' leaves 0). server/api/src/rsDataObjLseek.cpp: on a
    read-only descriptor the offset is clamped to the catalog size, whatever the whence."""
    if isinstance(whence, str) and whence in _WHENCE:
        whence_number = _WHENCE[whence]
    else:
        whence_number = pos_int(whence, "msiDataObjLseek", 3)
    number = pos_int(fd, "msiDataObjLseek", 1)
    offset = _lseek_offset(offset)
    descriptor = ctx.zone.descriptor(number)
    if not descriptor.writable:
        offset = min(offset, descriptor.replica.size)
    position = ctx.zone.seek(number, offset, whence_number)
    return {3: structs.fill(irods_types.FileLseekOut_t(), offset=position)}


def _lseek_offset(value):
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return 0 if value == "null" else strtoll(value)
    fail("USER_PARAM_TYPE_ERR", "msiDataObjLseek: Unsupported input Param type %s" % type(value).__name__)


_STRTOLL = re.compile(r"\s*([+-]?)(0[xX](?=[0-9a-fA-F])|0|)([0-9a-fA-F]*)")


def strtoll(text):
    """C's strtoll(text, 0, 0): leading blanks, a sign, base 0 (0x hex, 0 octal, else decimal),
    digits up to the first other character; none is 0; saturates at the 64-bit limits."""
    sign, prefix, digits = _STRTOLL.match(text).groups()
    base = 16 if prefix.lower() == "0x" else 8 if prefix == "0" else 10
    valid = "0123456789abcdef"[:base]
    count = 0
    while count < len(digits) and digits[count].lower() in valid:
        count += 1
    number = int(digits[:count], base) if count else 0
    number = -number if sign == "-" else number
    return max(-(1 << 63), min((1 << 63) - 1, number))


@microservice("msiDataObjClose", 2)
def msiDataObjClose(ctx, fd, _out_status):
    """rsDataObjClose, then its static PEPs (acPostProcForCreate/Open/Put)."""
    number = pos_int(fd, "msiDataObjClose", 1)
    descriptor = ctx.zone.descriptor(number)
    open_type = _descriptor_state(ctx).pop(number, static_peps.OPEN_FOR_WRITE_TYPE)
    ctx.zone.close(number)
    names = static_peps.peps_at_close(open_type, 0, descriptor.bytes_written)
    static_peps.fire(ctx.runtime, names, ctx.actor, descriptor.path, descriptor.resource)
    return {1: 0}


@microservice("msi_get_file_descriptor_info", 2)
def msi_get_file_descriptor_info(ctx, fd, _out_json):
    """irods/irods plugins/microservices/src/get_file_descriptor_info.cpp: the L1 descriptor
    as JSON (plugins/api/src/get_file_descriptor_info.cpp to_json) -- how a rule finds the path
    behind pep_api_data_obj_close_*'s OpenedDataObjInp. The descriptor must be an int
    (INT_MS_T), else SYS_INVALID_INPUT_PARAM."""
    if not isinstance(fd, int):
        fail("SYS_INVALID_INPUT_PARAM", "msi_get_file_descriptor_info: the descriptor must be an int, got %r" % (fd,))
    descriptor = ctx.zone.descriptor(pos_int(fd, "msi_get_file_descriptor_info", 1))
    info = ctx.runtime.data_obj_info(descriptor.path, descriptor.resource)
    open_type = _descriptor_state(ctx).get(descriptor.fd, static_peps.OPEN_FOR_WRITE_TYPE)
    return {1: json.dumps({
        "in_use": True,
        "operation_type": 0,
        "open_type": open_type,
        "bytes_written": descriptor.bytes_written,
        "replica_token": descriptor.replica_token or "",
        "data_object_input": {"object_path": descriptor.path, "open_flags": 0, "operation_type": 0,
                              "condition_input": []},
        "data_object_info": {
            "object_path": descriptor.path, "resource_name": descriptor.resource,
            "resource_hierarchy": descriptor.resource, "data_type": str(info.dataType),
            "data_size": info.dataSize, "checksum": str(info.chksum), "file_path": descriptor.physical_path,
            "data_owner_name": str(info.dataOwnerName), "data_owner_zone": str(info.dataOwnerZone),
            "replica_number": descriptor.replica_number, "replica_status": info.replStatus,
            "data_id": info.dataId, "collection_id": info.collId,
        },
    })}


@microservice("msiDataObjUnlink", 2)
def msiDataObjUnlink(ctx, target, _out_status):
    """rsDataObjUnlink: 'objPath=/p++++forceFlag=' (no forceFlag: moves to the trash)."""
    opts = options(target, "objPath", ("objPath", "replNum", "forceFlag", "irodsAdminRmTrash",
                                       "irodsRmTrash", "unreg"), "msiDataObjUnlink") \
        if isinstance(target, str) else None
    path = opts["objPath"] if opts else data_object_path(target, "msiDataObjUnlink")
    force = bool(opts) and "forceFlag" in opts["condInput"]
    ctx.zone.unlink(ctx.actor, path, force=force)
    return {1: 0}


@microservice("msiDataObjRename", 4)
def msiDataObjRename(ctx, source, destination, _is_collection, _out_status):
    """rsDataObjRename (imv): the physical files move with the logical path."""
    ctx.zone.rename(ctx.actor, data_object_path(source, "msiDataObjRename"),
                    data_object_path(destination, "msiDataObjRename"))
    return {3: 0}


@microservice("msiDataObjRepl", 3)
def msiDataObjRepl(ctx, target, key_values, _out_status):
    """rsDataObjRepl: 'destRescName=r' (a bare value is the destination resource); then
    acPostProcForCreate (new replica) or acPostProcForOpen (updated one) and acPostProcForPut."""
    path = data_object_path(target, "msiDataObjRepl")
    opts = options(key_values, "destRescName", ("destRescName", "rescName", "backupRescName", "replNum",
                                                "irodsAdmin", "updateRepl", "all", "verifyChksum"),
                   "msiDataObjRepl")
    resource = opts["condInput"].get("destRescName") or opts["condInput"].get("backupRescName")
    if not resource:
        fail("USER__NULL_INPUT_ERR", "msiDataObjRepl: no destination resource (destRescName=...)")
    record = ctx.zone.data_object(path)
    existed = record is not None and record.replica_on(resource) is not None
    ctx.zone.replicate(ctx.actor, path, resource, source_resource=opts["condInput"].get("rescName"),
                       admin_mode="irodsAdmin" in opts["condInput"])
    open_type = static_peps.OPEN_FOR_WRITE_TYPE if existed else static_peps.CREATE_TYPE
    static_peps.fire(ctx.runtime, static_peps.peps_after_put_or_replication(open_type), ctx.actor, path,
                     resource, opr_type=static_peps.REPLICATE_DEST)
    return {2: 0}


@microservice("msiDataObjCopy", 4)
def msiDataObjCopy(ctx, source, destination, key_values, _out_status):
    """rsDataObjCopy: the destination is created (forceFlag= to overwrite); acPostProcForCopy."""
    source_path = data_object_path(source, "msiDataObjCopy")
    destination_path = data_object_path(destination, "msiDataObjCopy")
    opts = options(key_values, "destRescName", ("destRescName", "forceFlag", "dataType", "verifyChksum",
                                                "numThreads", "backupRescName"), "msiDataObjCopy")
    data = ctx.zone.read_bytes(ctx.actor, source_path)
    resource = opts["condInput"].get("destRescName") or None
    ctx.zone.put(ctx.actor, destination_path, data, resource=resource, force="forceFlag" in opts["condInput"])
    static_peps.fire(ctx.runtime, ["acPostProcForCreate", "acPostProcForCopy"], ctx.actor, destination_path,
                     resource, opr_type=static_peps.COPY_DEST)
    return {3: 0}


@microservice("msiObjStat", 2)
def msiObjStat(ctx, path, _out_stat):
    """rsObjStat: a RodsObjStat; a missing or unreadable path is USER_FILE_DOES_NOT_EXIST."""
    entry = ctx.zone.stat(ctx.actor, require_str(path, "msiObjStat", 1))
    stat = irods_types.RodsObjStat()
    is_data = entry.kind == "data_object"
    structs.fill(
        stat, objSize=entry.size if is_data else 0,
        objType=irods_types.objType.DATA_OBJ if is_data else irods_types.objType.COLL_OBJ,
        dataId=str(entry.id), chksum=entry.checksum if is_data else "", ownerName=entry.owner,
        ownerZone=ctx.runtime.zone_name, createTime="%011d" % entry.create_time,
        modifyTime="%011d" % entry.modify_time,
        rescHier=entry.representative_replica().resource if is_data and entry.replicas else "",
    )
    return {1: stat}


@microservice("msiGetObjType", 2)
def msiGetObjType(ctx, path, _out_type):
    """objMetaOpr.cpp getObjType: '-d' data object, '-c' collection, '-u' user, '-r' resource;
    otherwise INVALID_OBJECT_TYPE."""
    name = require_str(path, "msiGetObjType", 1)
    kind = ctx.zone.exists(name)
    if kind == "data_object":
        return {1: "-d"}
    if kind == "collection":
        return {1: "-c"}
    if name in ctx.zone.resources():
        return {1: "-r"}
    if any(user.name == name for user in ctx.zone.users()):
        return {1: "-u"}
    fail("INVALID_OBJECT_TYPE", "msiGetObjType: %s is no data object, collection, resource or user" % name)


@microservice("msiDataObjChksum", 3)
def msiDataObjChksum(ctx, target, key_values, _out_checksum):
    """rsDataObjChksum: returns the checksum ('sha2:' + base64 with the SHA256 scheme);
    'forceChksum=' recomputes, 'replNum=n' / 'ChksumAll=' pick replicas."""
    path = data_object_path(target, "msiDataObjChksum")
    opts = options(key_values, "objPath", ("forceChksum", "replNum", "ChksumAll", "verifyChksum", "rescName",
                                           "objPath", "irodsAdmin"), "msiDataObjChksum")
    resource = opts["condInput"].get("rescName") or _replica_resource(ctx, path, opts["condInput"].get("replNum"))
    return {2: ctx.zone.checksum(ctx.actor, path, resource=resource, force="forceChksum" in opts["condInput"])}


@microservice("msiCollCreate", 3)
def msiCollCreate(ctx, path, parents, _out_status):
    """rsCollCreate; a positive second argument adds RECURSIVE_OPR__KW (create parents)."""
    recursive = pos_int(parents, "msiCollCreate", 2) > 0
    ctx.zone.create_collection(ctx.actor, require_str(path, "msiCollCreate", 1), parents=recursive)
    return {2: 0}


@microservice("msiRmColl", 3)
def msiRmColl(ctx, path, key_values, _out_status):
    """rsRmColl (always recursive); 'forceFlag=' skips the trash."""
    opts = options(key_values, "forceFlag", ("forceFlag", "irodsAdminRmTrash", "irodsRmTrash", "irodsAdmin"),
                   "msiRmColl")
    ctx.zone.remove_collection(ctx.actor, require_str(path, "msiRmColl", 1), recursive=True,
                               force="forceFlag" in opts["condInput"])
    return {2: 0}


@microservice("msiTarFileExtract", 4)
def msiTarFileExtract(ctx, tar_path, collection, resource, _out_status):
    """rsStructFileExtAndReg (ibun -x): register the tar's members under `collection`."""
    resource_name = require_str(resource, "msiTarFileExtract", 3)
    ctx.zone.extract_tar(ctx.actor, data_object_path(tar_path, "msiTarFileExtract"),
                         require_str(collection, "msiTarFileExtract", 2),
                         resource=None if resource_name in ("", "null") else resource_name)
    return {3: 0}
