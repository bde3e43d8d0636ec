"""irods_types, irods_errors and session_vars as rules see them.

Sources: irods/irods_rule_engine_plugin_python src/types/irods/*.cpp, src/irods_errors.cpp,
session_vars.py; irods/irods lib/core/include/irods/apiHandler.hpp (an API PEP's rei has only
rsComm/uoic/uoip).
"""

import pytest

from omero_irods_sandbox.prep import irods_errors, irods_types, session_vars, structs
from omero_irods_sandbox.prep.runtime import PrepRuntime


@pytest.fixture
def runtime(zone, tmp_path):
    (tmp_path / "etc").mkdir()
    return PrepRuntime(zone, tmp_path / "etc")


def test_irods_errors_has_error_and_state_names():
    assert irods_errors.CAT_NO_ROWS_FOUND == -808000
    assert irods_errors.RULE_ENGINE_SKIP_OPERATION == 5001000
    assert irods_errors.RULE_ENGINE_CONTINUE == 5000000


def test_constructor_takes_positional_members_only():
    # make_init_function: positional; keywords are refused here instead of silently ignored.
    assert irods_types.GenQueryInp(10).maxRows == 10
    with pytest.raises(TypeError, match="positional"):
        irods_types.DataObjInp(objPath="/x")


def test_keyvalpair_lookup_and_missing_key_message():
    kvp = irods_types.KeyValPair()
    irods_types._kvp_add(kvp, "destRescName", "demoResc")
    assert kvp["destRescName"] == "demoResc" and kvp.len == 1 and str(kvp.key[0]) == "destRescName"
    with pytest.raises(KeyError, match="forceFlag was not found in the list of keys."):
        kvp["forceFlag"]


def test_bytesbuf_set_get_and_clear():
    buffer = irods_types.BytesBuf()
    buffer.set_buffer(b"ab\0c")
    assert buffer.len == 4 and buffer.get_bytes() == [97, 98, 0, 99] and str(buffer.buf) == "ab"
    with pytest.raises(IndexError):
        buffer.get_byte(4)
    buffer.clear_buffer()
    assert buffer.len == 0 and buffer.buf is None


def test_session_vars_for_an_api_pep_have_users_but_no_data_object(runtime):
    variables = session_vars.get_map(runtime.make_rei("alice", proxy_user="rods"))
    assert variables["client_user"]["user_name"] == "alice"
    assert variables["proxy_user"]["user_name"] == "rods"
    assert variables["proxy_user"]["user_type"] == "rodsadmin"
    assert variables["data_object"] is None


def test_session_vars_data_object_from_doi(runtime, zone):
    zone.put("alice", "/tempZone/home/alice/a.txt", b"abc")
    zone.checksum("alice", "/tempZone/home/alice/a.txt")
    rei = runtime.make_rei("alice", data_obj_info=runtime.data_obj_info("/tempZone/home/alice/a.txt"))
    data = session_vars.get_map(rei)["data_object"]
    assert data["object_path"] == "/tempZone/home/alice/a.txt"
    assert data["size"] == 3 and data["owner"] == "alice" and data["resource_name"] == "demoResc"
    assert data["checksum"].startswith("sha2:")


def test_session_vars_data_object_from_doinp_has_only_path_and_size(runtime):
    inp = structs.fill(irods_types.DataObjInp(), objPath="/tempZone/home/alice/b", dataSize=7)
    data = session_vars.get_map(runtime.make_rei("alice", data_obj_inp=inp))["data_object"]
    assert data["object_path"] == "/tempZone/home/alice/b" and data["size"] == 7 and data["owner"] is None


def test_plugin_context_map_serializes_the_connection(runtime):
    context = irods_types.PluginContext(runtime.make_rei("alice", proxy_user="rods").rsComm)
    assert context.map()["user_user_name"] == "alice" and context.map()["proxy_user_name"] == "rods"
