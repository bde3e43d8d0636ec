"""The callback object and the microservices rules call through it.

Sources: irods/irods_rule_engine_plugin_python src/main.cpp (RuleCallWrapper); irods/irods
server/re/src/irods_re_plugin.cpp (exec_microservice_adapter), server/re/include/irods/
reAction.hpp (argument counts), server/re/src/reDataObjOpr.cpp, icatGeneralMS.cpp,
extractAvuMS.cpp, plugins/api/src/atomic_apply_*_operations.cpp, server/api/src/rsDataObjClose.cpp.
"""

import json
import textwrap

import pytest

from omero_irods_sandbox.prep import irods_errors, irods_types, static_peps
from omero_irods_sandbox.prep.callback import Callback
from omero_irods_sandbox.prep.runtime import PrepRuntime

HOME = "/tempZone/home/alice"


@pytest.fixture
def runtime(zone, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text(textwrap.dedent("""
        def acPostProcForPut(rule_args, callback, rei):
            callback.writeLine('serverLog', 'put fired')
        def double(rule_args, callback, rei):
            rule_args[0] = rule_args[0] * 2
        def refuse(rule_args, callback, rei):
            return -818000
    """))
    return PrepRuntime(zone, etc)


def callback_for(runtime, user="alice"):
    return Callback(runtime, runtime.make_rei(user))


def test_success_returns_code_status_and_arguments_with_outputs(runtime, zone):
    zone.put("alice", HOME + "/a.txt", b"12345")
    result = callback_for(runtime).msiObjStat(HOME + "/a.txt", irods_types.RodsObjStat())
    assert result["code"] == 0 and result["status"] is True
    stat = result["arguments"][1]
    assert stat.objSize == 5 and stat.objType == irods_types.objType.DATA_OBJ and str(stat.ownerName) == "alice"


def test_failure_raises_runtime_error_with_the_code_prefix(runtime):
    with pytest.raises(RuntimeError) as raised:
        callback_for(runtime).msiObjStat(HOME + "/missing", irods_types.RodsObjStat())
    assert str(raised.value).startswith("[iRods__Error__Code:%d]" % irods_errors.USER_FILE_DOES_NOT_EXIST)


def test_cat_no_rows_found_and_success_with_no_info_do_not_raise(runtime, zone):
    # RuleCallWrapper::call: error_occurred excludes CAT_NO_ROWS_FOUND / CAT_SUCCESS_BUT_WITH_NO_INFO.
    zone.put("alice", HOME + "/a.txt", b"x")
    result = callback_for(runtime).msiModAVUMetadata("-d", HOME + "/a.txt", "rm", "never", "set", "")
    assert result["code"] == irods_errors.CAT_SUCCESS_BUT_WITH_NO_INFO and result["status"] is False


def test_unknown_microservice_and_wrong_argument_count(runtime):
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:%d\]" % irods_errors.NO_MICROSERVICE_FOUND_ERR):
        callback_for(runtime).msiNoSuchThing("x")
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:%d\]" % irods_errors.ACTION_ARG_COUNT_MISMATCH):
        callback_for(runtime).msiCollCreate(HOME + "/c", "1")


def test_non_conforming_argument_type_raises(runtime):
    # python.hpp msParam_from_object: only str, int, float and a few structs convert.
    with pytest.raises(RuntimeError, match="non-conforming type"):
        callback_for(runtime).writeLine("serverLog", None)


def test_callback_runs_cores_rules_by_name_with_string_outputs(runtime):
    result = callback_for(runtime).double("ab")
    assert result["arguments"] == ["abab"]
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:-818000\]"):
        callback_for(runtime).refuse()


def test_microservices_act_as_the_rei_user_with_catalog_permissions(runtime, zone):
    with pytest.raises(RuntimeError, match=str(irods_errors.CAT_NO_ACCESS_PERMISSION)):
        callback_for(runtime, "bob").msiCollCreate(HOME + "/intruder", "0", 0)
    callback_for(runtime).msiCollCreate(HOME + "/a/b", "1", 0)
    assert zone.collection(HOME + "/a/b").owner == "alice"


def test_struct_arguments_are_copied_and_results_come_back_in_arguments(runtime):
    kvp = irods_types.KeyValPair()
    result = callback_for(runtime).msiAddKeyVal(kvp, "k", "v")
    assert kvp.len == 0
    assert result["arguments"][0]["k"] == "v"


def test_write_close_read_and_static_peps_at_close(runtime, zone):
    callback = callback_for(runtime)
    fd = callback.msiDataObjCreate(HOME + "/new.txt", "forceFlag=", 0)["arguments"][2]
    assert callback.msiDataObjWrite(fd, "hello", 0)["arguments"][2] == 5
    callback.msiDataObjClose(fd, 0)
    # rsDataObjClose apply_static_peps: create -> acPostProcForCreate then acPostProcForPut.
    assert [r["name"] for r in runtime.peps] == ["acPostProcForPut"]
    assert static_peps.peps_at_close(static_peps.CREATE_TYPE) == ["acPostProcForCreate", "acPostProcForPut"]
    fd = callback.msiDataObjOpen("objPath=%s/new.txt++++openFlags=O_RDONLY" % HOME, 0)["arguments"][1]
    buffer = callback.msiDataObjRead(fd, "100", irods_types.BytesBuf())["arguments"][2]
    callback.msiDataObjClose(fd, 0)
    assert bytes(buffer.get_bytes()) == b"hello" and str(buffer.buf) == "hello"
    assert len(runtime.peps) == 1  # a read-open fires acPostProcForOpen only (not in core)


def test_file_descriptor_info_gives_the_path_behind_a_descriptor(runtime, zone):
    callback = callback_for(runtime)
    fd = callback.msiDataObjCreate(HOME + "/d.txt", "", 0)["arguments"][2]
    info = json.loads(callback.msi_get_file_descriptor_info(fd, "")["arguments"][1])
    assert info["data_object_info"]["object_path"] == HOME + "/d.txt"
    # get_file_descriptor_info.cpp msi_impl: the descriptor must be an INT_MS_T.
    with pytest.raises(RuntimeError, match=str(irods_errors.SYS_INVALID_INPUT_PARAM)):
        callback.msi_get_file_descriptor_info(str(fd), "")
    callback.msiDataObjClose(fd, 0)


def test_set_acl_and_admin_prefix(runtime, zone):
    zone.put("alice", HOME + "/a.txt", b"x")
    callback_for(runtime).msiSetACL("default", "read", "bob", HOME + "/a.txt")
    assert zone.acl(HOME + "/a.txt")["bob"] == "read_object"
    with pytest.raises(RuntimeError):
        callback_for(runtime, "bob").msiSetACL("default", "admin:own", "bob", HOME + "/a.txt")


def test_mod_avu_add_of_an_existing_avu_fails(runtime, zone):
    zone.put("alice", HOME + "/a.txt", b"x")
    callback = callback_for(runtime)
    callback.msiModAVUMetadata("-d", HOME + "/a.txt", "add", "omero_irods::claim", "1", "")
    with pytest.raises(RuntimeError, match=str(irods_errors.CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME)):
        callback.msiModAVUMetadata("-d", HOME + "/a.txt", "add", "omero_irods::claim", "1", "")


def test_atomic_metadata_is_one_transaction_and_add_of_existing_is_a_no_op(runtime, zone):
    # atomic_apply_metadata_operations.cpp: an attached AVU is not re-attached (no error);
    # a failing operation rolls back the whole batch.
    zone.put("alice", HOME + "/a.txt", b"x")
    callback = callback_for(runtime)
    ops = {"entity_name": HOME + "/a.txt", "entity_type": "data_object",
           "operations": [{"operation": "add", "attribute": "s", "value": "1"}]}
    callback.msi_atomic_apply_metadata_operations(json.dumps(ops), "")
    callback.msi_atomic_apply_metadata_operations(json.dumps(ops), "")
    assert [tuple(a) for a in zone.avus("alice", HOME + "/a.txt")] == [("s", "1", "")]
    bad = dict(ops, operations=[{"operation": "add", "attribute": "t", "value": "2"},
                                {"operation": "add", "attribute": "u", "value": ""}])
    with pytest.raises(RuntimeError, match=str(irods_errors.SYS_INVALID_INPUT_PARAM)):
        callback.msi_atomic_apply_metadata_operations(json.dumps(bad), "")
    assert [a.attribute for a in zone.avus("alice", HOME + "/a.txt")] == ["s"]


def test_atomic_acl_needs_own_and_rolls_back(runtime, zone):
    zone.put("alice", HOME + "/a.txt", b"x")
    ops = {"logical_path": HOME + "/a.txt", "operations": [{"entity_name": "bob", "acl": "read"},
                                                            {"entity_name": "nobody", "acl": "read"}]}
    with pytest.raises(RuntimeError, match=str(irods_errors.SYS_INVALID_INPUT_PARAM)):
        callback_for(runtime).msi_atomic_apply_acl_operations(json.dumps(ops), "")
    assert "bob" not in zone.acl(HOME + "/a.txt")
    ops["operations"] = ops["operations"][:1]
    callback_for(runtime).msi_atomic_apply_acl_operations(json.dumps(ops), "")
    assert zone.acl(HOME + "/a.txt")["bob"] == "read_object"


def test_exec_cmd_runs_only_programs_in_the_bin_dir_then_fails_in_python(runtime, tmp_path):
    # rsExecCmd.cpp: '/' in the name is BAD_EXEC_CMD_PATH; PREP issue #11: output can't return.
    bin_dir = tmp_path / "msiExecCmd_bin"
    bin_dir.mkdir()
    marker = tmp_path / "ran"
    script = bin_dir / "touch_marker"
    script.write_text("#!/bin/sh\ntouch '%s'\n" % marker)
    script.chmod(0o755)
    callback = callback_for(runtime)
    with pytest.raises(RuntimeError, match=str(irods_errors.BAD_EXEC_CMD_PATH)):
        callback.msiExecCmd("../touch_marker", "", "null", "null", "null", irods_types.ExecCmdOut())
    with pytest.raises(RuntimeError, match="^boost::bad_any_cast"):
        callback.msiExecCmd("touch_marker", "", "null", "null", "null", irods_types.ExecCmdOut())
    assert marker.exists()


def test_string2keyvalpair_and_getvalbykey(runtime):
    callback = callback_for(runtime)
    kvp = callback.msiString2KeyValPair("a=1%b=2", irods_types.KeyValPair())["arguments"][1]
    assert callback.msiGetValByKey(kvp, "b", "")["arguments"][2] == "2"
    with pytest.raises(RuntimeError, match=str(irods_errors.UNMATCHED_KEY_OR_INDEX)):
        callback.msiGetValByKey(kvp, "c", "")


def test_tar_extract_registers_members(runtime, zone, make_tar):
    zone.put("alice", HOME + "/t.tar", make_tar({"run/a.txt": b"A"}))
    callback_for(runtime).msiTarFileExtract(HOME + "/t.tar", HOME + "/out", "null", 0)
    assert zone.data_object(HOME + "/out/run/a.txt") is not None
