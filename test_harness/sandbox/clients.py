"""The emulated iRODS server: client API calls, with the PEPs the real server fires around them.

`Server(zone, runtime)` stands for the agent a client talks to. Each public method is one API
request as a client sends it (`data_obj_put`, `data_obj_open`, `data_obj_write`, ...); it runs
A1's catalog operation between the PEPs, calling A2's `PrepRuntime.invoke`. The client programs
The icommands send one request each: iput `data_obj_put`, irepl `data_obj_repl`, imv
`data_obj_rename`, irm `data_obj_unlink`, itrim `data_obj_trim`, iphymv `data_obj_phymv`,
icp `data_obj_copy`, imkdir `coll_create`; python-irodsclient's sequences live in
`prc_session.SandboxSession` (its create, truncate and replica_truncate are
`data_obj_create`, `data_obj_truncate`, `replica_truncate` here).

Dynamic PEPs (irods/irods `lib/core/include/irods/apiHandler.hpp`, api_entry::call_handler,
4.3.0 to 5.0): for operation `api_X`, `pep_api_X_pre`; when it fails, `pep_api_X_except` and
the call fails with its code (the operation does not run, no post-PEP); when it returns
RULE_ENGINE_SKIP_OPERATION the operation is skipped and the post-PEP still runs; when the
operation fails, `..._except` and the call fails; then `pep_api_X_post`, whose failure
(`..._except`) becomes the call's error although the operation happened; `pep_api_X_finally`
always runs last. The rule arguments are [instance name, PluginContext, the API's input
structs...] (irods/irods `lib/api/include/irods/apiTable.hpp` lists each API's types; an
output double pointer that is still NULL reaches Python as None:
irods/irods_rule_engine_plugin_python `include/irods/private/re/python.hpp`
object_from_specific). The rei of an API PEP holds only rsComm, uoic and uoip.

Static PEPs fired here, each with an rei whose doi/doinp describe the data object
(irods/irods `server/core/src/finalize_utilities.cpp` apply_static_post_pep); their failure is
logged and never reaches the client:
- close of an object opened by create: acPostProcForCreate, then acPostProcForPut; opened for
  write: acPostProcForOpen, then acPostProcForPut only if bytes were written; opened for read:
  acPostProcForOpen (irods/irods `server/api/src/rsDataObjClose.cpp` apply_static_peps).
  `pep_api_replica_close_*` runs no static PEP (`plugins/api/src/replica_close.cpp`).
- put: acPostProcForCreate or acPostProcForOpen, then acPostProcForPut (`rsDataObjPut.cpp`).
- replicate and phymv: acPostProcForCreate (new replica) or acPostProcForOpen (updated
  replica), then acPostProcForPut, "legacy behavior" (`rsDataObjRepl.cpp`, `rsDataObjPhymv.cpp`).
- rename: acPreProcForObjRename(src, dst) (its failure fails the call) and, after the commit,
  acPostProcForObjRename(src, dst) whose failure IS returned to the client
  (`server/api/src/rsDataObjRename.cpp`).
- unlink: acDataDeletePolicy per replica (a failure or SYS_DELETE_DISALLOWED stops it), then
  acPostProcForDelete after a real delete, not after a move to the trash
  (`server/api/src/rsDataObjUnlink.cpp`).
Static PEPs this emulation does not fire: acSetRescSchemeForCreate, acPreprocForDataObjOpen,
acSetNumThreads, acTrashPolicy, acPostProcForDataObjWrite and the resource PEPs.
GenQuery calls clients make around uploads (PRC's `collections.exists`) fire no PEP here.
"""

import json

from omero_irods.names import DEFAULT_PREP_INSTANCE
from omero_irods_sandbox.error_codes import IrodsError, code as error_code
from omero_irods_sandbox.prep import irods_types as types
from omero_irods_sandbox.prep.structs import fill

# irods/irods lib/core/include/irods/dataObjInpOut.h (oprType) and fcntl.h flags as
# python-irodsclient sends them (irods/manager/data_object_manager.py O_* constants).
PUT_OPR, REPLICATE_OPR, PHYMV_OPR, RENAME_DATA_OBJ, COPY_DEST, COPY_SRC = 1, 6, 15, 11, 9, 10
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC = 0, 1, 2, 64, 512

#: iput sends the file in the put request itself up to this size (irods_environment.json's
#: irods_maximum_size_for_single_buffer_in_megabytes, default 32: irods/irods
#: `lib/api/src/rcDataObjPut.cpp`, `packaging/server_config.json.template`); above it the
#: server opens a portal and the client ends with an OPR_COMPLETE request.
SINGLE_BUFFER_MAX = 32 * 1024 * 1024

SKIP_OPERATION = error_code("RULE_ENGINE_SKIP_OPERATION")
_NO_MORE_RULES = error_code("NO_MORE_RULES_ERR")
_DELETE_DISALLOWED = error_code("SYS_DELETE_DISALLOWED")

def _kvp(pairs):
    kvp = types.KeyValPair()
    for key, value in pairs.items():
        types._kvp_add(kvp, key, str(value))
    return kvp


def _bytes_buf(data):
    buf = types.BytesBuf()
    types._set_bytes(buf, data)
    return buf


def _path_of(inputs):
    """The logical path an API's input names, if any (OpenedDataObjInp has none)."""
    for value in inputs:
        if isinstance(value, types.DataObjInp):
            return str(value.objPath)
        if isinstance(value, types.DataObjCopyInp):
            return str(value.srcDataObjInp.objPath)
        if isinstance(value, types.CollInp):
            return str(value.collName)
        if isinstance(value, dict) and "arg2" in value:  # serialized modAVUMetadataInp_t
            return value["arg2"]
        if isinstance(value, dict) and "accessLevel" in value:  # serialized modAccessControlInp_t
            return value["path"]
    return None


class Server(object):
    """One zone's emulated server: `zone` (catalog.Zone) and `runtime` (prep PrepRuntime)."""

    def __init__(self, zone, runtime, instance_name=DEFAULT_PREP_INSTANCE,
                 single_buffer_max=SINGLE_BUFFER_MAX):
        self.zone = zone
        self.runtime = runtime
        self.instance_name = instance_name
        self.single_buffer_max = single_buffer_max
        self.log = runtime.log  # the zone's server log (the PREP runtime's list)
        self.pep_points = []  # every PEP the server consulted, whether or not a rule ran

    # ---- the structs the server hands to rules (built by the PREP runtime) ---------------
    def rs_comm(self, user):
        """The agent's RsComm for a client authenticated as `user` (no proxy)."""
        return self.runtime.make_rei(user).rsComm

    def _rei(self, comm, path=None, resource=None, data_obj_inp=None):
        user = str(comm.clientUser.userName)
        info = self.runtime.data_obj_info(path, resource) if path else None
        rei = self.runtime.make_rei(user, data_obj_inp=data_obj_inp, data_obj_info=info)
        fill(rei, rsComm=comm, uoic=comm.clientUser, uoip=comm.proxyUser)
        return rei

    # ---- firing rules --------------------------------------------------------------------
    def _record(self, name, path, user, result):
        self.pep_points.append({"name": name, "path": path, "user": user,
                                "rule": bool(result.ran), "result": result.code if result.ran else None})
        return result.code

    def _fire_dynamic(self, rule_name, rule_args, rei, path):
        result = self.runtime.fire_pep(rule_name, rule_args, rei, path=path)
        return self._record(rule_name, path, str(rei.uoic.userName), result)

    def _invoke(self, rule_name, rule_args, rei, path=None):
        """A static PEP or rule by name; returns its code (0 when no rule ran)."""
        result = self.runtime.invoke(rule_name, rule_args, rei, path=path)
        return self._record(rule_name, path, str(rei.uoic.userName), result)

    def call_api(self, operation, comm, inputs, operation_fn):
        """Run `operation_fn()` inside the dynamic PEPs of `operation` (see module docstring).

        `inputs` are the API's structs after the plugin context. Returns the operation's
        result (0 when a pre-PEP skipped it); raises IrodsError with the code the client sees.
        """
        context = types.PluginContext(comm)
        rei = self._rei(comm)
        path = _path_of(inputs)

        def fire(kind):
            return self._fire_dynamic("pep_%s_%s" % (operation, kind),
                                      [self.instance_name, context] + list(inputs), rei, path)
        try:
            result = 0
            pre = fire("pre")
            if pre != SKIP_OPERATION:
                if pre < 0:
                    fire("except")
                    raise IrodsError(pre, "pep_%s_pre failed" % operation)
                try:
                    result = operation_fn()
                except IrodsError:
                    fire("except")
                    raise
            post = fire("post")
            if post < 0:
                fire("except")
                raise IrodsError(post, "pep_%s_post failed (the operation itself succeeded)" % operation)
            return result
        finally:
            fire("finally")

    def _static_pep(self, rule_name, comm, path, resource=None, data_obj_inp=None, status=0):
        """A static post-PEP: its result is logged, never returned (finalize_utilities.cpp)."""
        rei = self._rei(comm, path, resource, data_obj_inp)
        fill(rei, status=status)
        result = self._invoke(rule_name, [], rei, path)
        if result < 0:
            self.log.append("%s failed for %s with %d (not returned to the client)" % (rule_name, path, result))
        return result

    def _open_close_peps(self, comm, descriptor, data_obj_inp):
        """rsDataObjClose.cpp apply_static_peps for a descriptor being finalized."""
        path, resource = descriptor.path, descriptor.resource
        if descriptor.created:
            self._static_pep("acPostProcForCreate", comm, path, resource, data_obj_inp)
        else:
            self._static_pep("acPostProcForOpen", comm, path, resource, data_obj_inp)
        if descriptor.created or descriptor.bytes_written > 0:
            self._static_pep("acPostProcForPut", comm, path, resource, data_obj_inp)

    # ---- API requests ----------------------------------------------------------------------
    def data_obj_put(self, user, path, data, resource=None, force=False, data_type="generic",
                     verify_checksum=None):
        """DATA_OBJ_PUT_AN as iput sends it (rsDataObjPut.cpp): data in the request up to
        single_buffer_max, else a portal transfer finished by OPR_COMPLETE_AN. `verify_checksum`:
        the checksum `iput -K` computed on the client (VERIFY_CHKSUM_KW), verified and
        registered before the put returns; a failed verification fails the put, no PEP after."""
        comm = self.rs_comm(user)
        single_buffer = len(data) <= self.single_buffer_max
        condition = {"dataType": data_type, "dataSize": len(data)}
        if resource:
            condition["destRescName"] = resource
        if force:
            condition["forceFlag"] = ""
        if single_buffer:
            condition["dataIncluded"] = ""  # DATA_INCLUDED_KW (rcDataObjPut.cpp)
        if verify_checksum:
            condition["verifyChksum"] = verify_checksum
        inp = fill(types.DataObjInp(), objPath=path, dataSize=len(data), oprType=PUT_OPR,
                   openFlags=O_RDWR, condInput=_kvp(condition))
        buf = _bytes_buf(data if single_buffer else b"")
        if single_buffer:
            def put():
                descriptor = self._write_whole(user, path, data, resource, force, data_type)
                if verify_checksum:
                    self.zone.verify_put_checksum(path, verify_checksum)
                self._open_close_peps(comm, descriptor, inp)
                return 0
            return self.call_api("api_data_obj_put", comm, [inp, buf, None], put)
        # Portal put: the API call opens the object and returns; the client streams the bytes
        # and then calls OPR_COMPLETE, whose close runs the static PEPs (rsOprComplete.cpp).
        fd = self.call_api("api_data_obj_put", comm, [inp, buf, None],
                           lambda: self._open_for_put(user, path, resource, force, data_type))
        self.zone.write(fd, data)
        return self.call_api("api_opr_complete", comm, [fd], lambda: self._finalize(comm, fd, inp, verify_checksum))

    def _open_for_put(self, user, path, resource, force, data_type):
        if self.zone.exists(path) and not force:
            raise IrodsError("OVERWRITE_WITHOUT_FORCE_FLAG", "%s exists; iput needs -f to overwrite" % path)
        return self.zone.create_data_object(user, path, resource=resource, force=force, data_type=data_type)

    def _write_whole(self, user, path, data, resource, force, data_type):
        fd = self._open_for_put(user, path, resource, force, data_type)
        self.zone.write(fd, data)
        descriptor = self.zone.descriptor(fd)
        self.zone.close(fd)
        return descriptor

    def _finalize(self, comm, fd, inp, verify_checksum=None):
        descriptor = self.zone.descriptor(fd)
        self.zone.close(fd)
        if verify_checksum:
            self.zone.verify_put_checksum(descriptor.path, verify_checksum)
        self._open_close_peps(comm, descriptor, inp)
        return 0

    def data_obj_open(self, user, path, flags, resource=None, options=None):
        """DATA_OBJ_OPEN_AN (rsDataObjOpen.cpp); returns the L1 descriptor."""
        comm = self.rs_comm(user)
        condition = dict(options or {})
        if resource:
            condition.setdefault("destRescName", resource)
        inp = fill(types.DataObjInp(), objPath=path, openFlags=flags,
                   dataSize=int(condition.get("dataSize", -1)), condInput=_kvp(condition))
        return self.call_api("api_data_obj_open", comm, [inp],
                             lambda: self._open(user, path, flags, condition))

    def _open(self, user, path, flags, condition):
        """rsDataObjOpen: O_CREAT creates a missing object; O_TRUNC truncates; a second
        writer of an open replica joins it with the first one's replica token."""
        writing = flags & (O_WRONLY | O_RDWR)
        resource = condition.get("rescHier") or condition.get("destRescName") or condition.get("rescName")
        if not self.zone.exists(path) and flags & O_CREAT:
            return self.zone.create_data_object(user, path, resource=resource)
        mode = ("w" if flags & O_TRUNC else "r+") if writing else "r"
        return self.zone.open_data_object(user, path, mode, resource=resource,
                                          replica_token=condition.get("replicaToken"))

    def _opened_inp(self, fd, **members):
        return fill(types.OpenedDataObjInp(), l1descInx=fd, **members)

    def data_obj_write(self, user, fd, data):
        """DATA_OBJ_WRITE_AN: OpenedDataObjInp (descriptor only) + the bytes."""
        comm = self.rs_comm(user)
        inp = self._opened_inp(fd, len=len(data))
        return self.call_api("api_data_obj_write", comm, [inp, _bytes_buf(data)],
                             lambda: self.zone.write(fd, bytes(data)))

    def data_obj_read(self, user, fd, length):
        """DATA_OBJ_READ_AN; returns bytes."""
        comm = self.rs_comm(user)
        inp = self._opened_inp(fd, len=length)
        return self.call_api("api_data_obj_read", comm, [inp, types.BytesBuf()],
                             lambda: self.zone.read(fd, length)) or b""

    def data_obj_lseek(self, user, fd, offset, whence):
        """DATA_OBJ_LSEEK_AN; returns the new position."""
        comm = self.rs_comm(user)
        inp = self._opened_inp(fd, offset=offset, whence=whence)
        return self.call_api("api_data_obj_lseek", comm, [inp, None],
                             lambda: self.zone.seek(fd, offset, whence))

    def data_obj_close(self, user, fd):
        """DATA_OBJ_CLOSE_AN: its OpenedDataObjInp holds the descriptor, no path."""
        comm = self.rs_comm(user)
        inp = self._opened_inp(fd)
        return self.call_api("api_data_obj_close", comm, [inp],
                             lambda: self._finalize(comm, fd, None))

    def replica_close(self, user, fd):
        """REPLICA_CLOSE_APN as PRC's parallel threads send it (no finalize, no static PEP)."""
        comm = self.rs_comm(user)
        request = json.dumps({"fd": fd, "send_notification": False, "update_size": False,
                              "update_status": False, "compute_checksum": False}).encode()
        return self.call_api("api_replica_close", comm, [_bytes_buf(request)],
                             lambda: self._close_without_finalize(fd))

    def _close_without_finalize(self, fd):
        self.zone.close(fd)
        return 0

    def get_file_descriptor_info(self, user, fd):
        """GET_FILE_DESCRIPTOR_INFO_APN: replica token and hierarchy of an open descriptor."""
        comm = self.rs_comm(user)
        request = json.dumps({"fd": fd}).encode()
        return self.call_api("api_get_file_descriptor_info", comm, [_bytes_buf(request), None],
                             lambda: self._descriptor_info(fd))

    def _descriptor_info(self, fd):
        descriptor = self.zone.descriptor(fd)
        return {"replica_token": descriptor.replica_token or "",
                "data_object_info": {"object_path": descriptor.path,
                                     "resource_hierarchy": descriptor.resource}}

    def data_obj_repl(self, user, path, resource, admin=False):
        """DATA_OBJ_REPL_AN (irepl -R resource)."""
        comm = self.rs_comm(user)
        inp = fill(types.DataObjInp(), objPath=path, oprType=REPLICATE_OPR,
                   condInput=_kvp({"destRescName": resource}))

        def replicate():
            existed = any(r.resource == resource for r in self.zone.data_object(path).replicas) \
                if self.zone.data_object(path) else False
            self.zone.replicate(user, path, resource, admin_mode=admin)
            self._replica_peps(comm, path, resource, inp, created=not existed)
            return 0
        return self.call_api("api_data_obj_repl", comm, [inp, None], replicate)

    def _replica_peps(self, comm, path, resource, inp, created):
        self._static_pep("acPostProcForCreate" if created else "acPostProcForOpen", comm, path, resource, inp)
        self._static_pep("acPostProcForPut", comm, path, resource, inp)

    def data_obj_phymv(self, user, path, resource, source_resource=None, admin=False):
        """DATA_OBJ_PHYMV_AN (iphymv -R resource)."""
        comm = self.rs_comm(user)
        condition = {"destRescName": resource}
        if source_resource:
            condition["rescName"] = source_resource
        inp = fill(types.DataObjInp(), objPath=path, oprType=PHYMV_OPR, condInput=_kvp(condition))

        def phymv():
            self.zone.phymv(user, path, resource, source_resource=source_resource, admin_mode=admin)
            self._replica_peps(comm, path, resource, inp, created=True)
            return 0
        return self.call_api("api_data_obj_phymv", comm, [inp, None], phymv)

    def data_obj_trim(self, user, path, resource, admin=False):
        """DATA_OBJ_TRIM_AN (itrim -S resource -N 1)."""
        comm = self.rs_comm(user)
        inp = fill(types.DataObjInp(), objPath=path,
                   condInput=_kvp({"rescName": resource, "copies": "1"}))
        return self.call_api("api_data_obj_trim", comm, [inp],
                             lambda: self._done(self.zone.trim(user, path, resource=resource, admin_mode=admin)))

    def data_obj_rename(self, user, source, destination):
        """DATA_OBJ_RENAME_AN (imv) with the static rename PEPs inside."""
        comm = self.rs_comm(user)
        copy_inp = fill(types.DataObjCopyInp(),
                        srcDataObjInp=fill(types.DataObjInp(), objPath=source, oprType=RENAME_DATA_OBJ),
                        destDataObjInp=fill(types.DataObjInp(), objPath=destination, oprType=RENAME_DATA_OBJ))

        def rename():
            rei = self._rei(comm)
            status = self._invoke("acPreProcForObjRename", [source, destination], rei, source)
            if status < 0:
                raise IrodsError(status, "acPreProcForObjRename refused %s -> %s" % (source, destination))
            self.zone.rename(user, source, destination)
            status = self._invoke("acPostProcForObjRename", [source, destination], rei, destination)
            if status < 0:
                raise IrodsError(status, "acPostProcForObjRename failed after renaming %s -> %s"
                                 % (source, destination))
            return 0
        return self.call_api("api_data_obj_rename", comm, [copy_inp], rename)

    def data_obj_unlink(self, user, path, force=False):
        """DATA_OBJ_UNLINK_AN (irm [-f]); without force the object moves to the trash."""
        comm = self.rs_comm(user)
        inp = fill(types.DataObjInp(), objPath=path, condInput=_kvp({"forceFlag": ""} if force else {}))

        def unlink():
            record = self.zone.data_object(path)
            for replica in (record.replicas if record else []):
                rei = self._rei(comm, path, replica.resource, inp)
                status = self._invoke("acDataDeletePolicy", [], rei, path)
                if (status < 0 and status not in (_NO_MORE_RULES, _DELETE_DISALLOWED)) or \
                        int(getattr(rei, "status", 0)) == _DELETE_DISALLOWED:
                    raise IrodsError(status if status < 0 else _DELETE_DISALLOWED,
                                     "acDataDeletePolicy disallowed deleting %s" % path)
            post_rei = self._rei(comm, path, None, inp)  # built before the object is gone
            self.zone.unlink(user, path, force=force)
            if force:
                status = self._invoke("acPostProcForDelete", [], post_rei, path)
                if status < 0:
                    self.log.append("acPostProcForDelete failed for %s with %d" % (path, status))
            return 0
        return self.call_api("api_data_obj_unlink", comm, [inp], unlink)

    def exec_my_rule(self, user, rule_text, run, out_param_desc="ruleExecOut"):
        """EXEC_MY_RULE_AN (irule; open to every user: irods/irods apiTable.hpp). Its pre-PEP
        fires before the rule text is handed to any rule engine, so a failing one refuses the
        irule. The plugin gets the input serialized as a dict of strings (irods/irods
        server/re/src/irods_re_serialization.cpp serialize_execMyRuleInp_ptr) and the not yet
        made output as None (seen on iRODS 5.0.2: rule_args types str, PluginContext, dict,
        NoneType). `run()` is what the rule engine then does with the text."""
        comm = self.rs_comm(user)
        inp = {"myRule": rule_text, "addr_hostAddr": "", "addr_zoneName": self.zone.name, "addr_portNum": "0",
               "addr_dummyInt": "0", "outParamDesc": out_param_desc}
        return self.call_api("api_exec_my_rule", comm, [inp, None], run)

    def data_obj_create(self, user, path, force=False, resource=None):
        """DATA_OBJ_CREATE_AN (PRC data_objects.create; rsDataObjCreate.cpp opens with
        O_CREAT|O_RDWR|O_TRUNC); the object stays open: returns the L1 descriptor."""
        comm = self.rs_comm(user)
        condition = {"forceFlag": ""} if force else {}
        if resource:
            condition["destRescName"] = resource
        inp = fill(types.DataObjInp(), objPath=path, openFlags=O_CREAT | O_RDWR | O_TRUNC,
                   condInput=_kvp(condition))
        return self.call_api("api_data_obj_create", comm, [inp],
                             lambda: self.zone.create_data_object(user, path, resource=resource, force=force))

    def data_obj_truncate(self, user, path, size):
        """DATA_OBJ_TRUNCATE_AN (PRC data_objects.truncate: the size in dataSize,
        python-irodsclient irods/manager/data_object_manager.py; rsDataObjTruncate.cpp)."""
        comm = self.rs_comm(user)
        inp = fill(types.DataObjInp(), objPath=path, dataSize=size, condInput=_kvp({}))
        return self.call_api("api_data_obj_truncate", comm, [inp],
                             lambda: self._done(self.zone.truncate_data_object(user, path, size)))

    def replica_truncate(self, user, path, size, resource=None):
        """REPLICA_TRUNCATE_AN (PRC data_objects.replica_truncate, iRODS 4.3.3+; the server
        answers JSON: rs_replica_truncate.cpp). Its output double pointer reaches the PEP as None."""
        comm = self.rs_comm(user)
        inp = fill(types.DataObjInp(), objPath=path, dataSize=size,
                   condInput=_kvp({"rescName": resource} if resource else {}))

        def truncate():
            self.zone.truncate_data_object(user, path, size, resource=resource)
            return json.dumps({"message": "", "resource_hierarchy": resource or self.zone.default_resource,
                               "replica_number": 0})
        return self.call_api("api_replica_truncate", comm, [inp, None], truncate)

    def data_obj_copy(self, user, source, destination, force=False):
        """DATA_OBJ_COPY_AN (icp [-f]; PRC data_objects.copy): the force flag on the
        destination's input (rsDataObjCopy.cpp refuses an existing destination without it).
        The destination is closed as rsDataObjClose does (its static PEPs);
        acPostProcForCopy is not fired."""
        comm = self.rs_comm(user)
        copy_inp = fill(types.DataObjCopyInp(),
                        srcDataObjInp=fill(types.DataObjInp(), objPath=source, oprType=COPY_SRC),
                        destDataObjInp=fill(types.DataObjInp(), objPath=destination, oprType=COPY_DEST,
                                            condInput=_kvp({"forceFlag": ""} if force else {})))

        def copy():
            data = self.zone.read_bytes(user, source)
            fd = self.zone.create_data_object(user, destination, force=force)
            self.zone.write(fd, data)
            self._finalize(comm, fd, copy_inp.destDataObjInp)
            return 0
        return self.call_api("api_data_obj_copy", comm, [copy_inp, None], copy)

    def mod_avu_metadata(self, user, operation, item_type, path, attribute, value, units="", admin_mode=False):
        """MOD_AVU_METADATA_AN (imeta add/set/rm; PRC metadata.add/set/remove). The plugin wraps
        no modAVUMetadataInp_t type: a rule gets it serialized as a dict of strings arg0..arg9
        (irods_rule_engine_plugin_python include/irods/private/re/python.hpp object_from_any;
        irods/irods server/re/src/irods_re_serialization.cpp serialize_modAVUMetaInp_ptr)."""
        comm = self.rs_comm(user)
        inp = {"arg0": operation, "arg1": item_type, "arg2": path, "arg3": attribute, "arg4": value}
        if units:
            inp["arg5"] = units
        change = {"add": self.zone.add_avu, "set": self.zone.set_avu, "rm": self.zone.remove_avu}[operation]
        return self.call_api("api_mod_avu_metadata", comm, [inp],
                             lambda: self._done(change(user, path, attribute, value, units, admin_mode=admin_mode)))

    def mod_access_control(self, user, level, principal, path, recursive=False, admin_mode=False):
        """MOD_ACCESS_CONTROL_AN (ichmod [-r] [-M]; PRC acls.set). ichmod -M sends the level
        with an "admin:" prefix (irods/irods_client_icommands src/ichmod.cpp);
        the rule gets the serialized modAccessControlInp_t as a dict (irods/irods
        server/re/src/irods_re_serialization.cpp serialize_modAccessControlInp_ptr)."""
        comm = self.rs_comm(user)
        inp = {"recursiveFlag": "1" if recursive else "0",
               "accessLevel": ("admin:" if admin_mode else "") + level,
               "userName": principal, "zone": self.zone.name, "path": path}
        return self.call_api("api_mod_access_control", comm, [inp], lambda: self._done(
            self.zone.set_acl(user, path, level, principal, recursive=recursive, admin_mode=admin_mode)))

    def coll_create(self, user, path, recurse=False):
        """COLL_CREATE_AN (imkdir [-p]; PRC collections.create)."""
        comm = self.rs_comm(user)
        inp = fill(types.CollInp(), collName=path,
                   condInput=_kvp({"recursiveOpr": ""} if recurse else {}))
        return self.call_api("api_coll_create", comm, [inp],
                             lambda: self._done(self.zone.create_collection(user, path, parents=recurse)))

    def rm_coll(self, user, path, recurse=False, force=False):
        """RM_COLL_AN (irm -r [-f]; PRC collections.remove)."""
        comm = self.rs_comm(user)
        condition = {}
        if recurse:
            condition["recursiveOpr"] = ""
        if force:
            condition["forceFlag"] = ""
        inp = fill(types.CollInp(), collName=path, condInput=_kvp(condition))
        return self.call_api("api_rm_coll", comm, [inp, None],
                             lambda: self._done(self.zone.remove_collection(user, path, recursive=recurse, force=force)))

    @staticmethod
    def _done(_result):
        """An API call whose catalog result the client does not receive: it sees 0."""
        return 0
