"""The plugin's conversions at the callback boundary, emulated as strictly as iRODS 5.0.2 with
the Python rule engine plugin 5.0.1 behaves (each was seen there with a probe rule in core.py).

Sources: irods/irods_rule_engine_plugin_python include/irods/private/re/python.hpp
(msParam_from_object_impl<int>: Boost.Python extract<int>; object_from_msParam), src/main.cpp
(RuleCallWrapper::call, exec_rule_text), src/types/irods/rodsDef.cpp (BytesBuf.get_bytes);
irods/irods lib/core/src/msParam.cpp (parseMspForStr), server/re/src/extractAvuMS.cpp
(msiModAVUMetadata), server/re/src/reDataObjOpr.cpp (msiDataObjLseek: strtoll),
server/api/src/rsDataObjLseek.cpp (read-only clamp), server/api/src/rsRuleExecSubmit.cpp and
server/core/src/server_utilities.cpp (contains_session_variables), server/re/src/
irods_re_plugin.cpp (exec_microservice_adapter).
"""

import textwrap

import pytest

from omero_irods_sandbox.prep import irods_errors, irods_types
from omero_irods_sandbox.prep.callback import Callback
from omero_irods_sandbox.prep.runtime import PrepRuntime

HOME = "/tempZone/home/alice"
INSTANCE_HINTS = "<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME><PLUSET>60s</PLUSET>"


@pytest.fixture
def runtime(zone, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text(textwrap.dedent("""
        def echo(rule_args, callback, rei):
            callback.writeLine('stdout', 'ran')
    """))
    return PrepRuntime(zone, etc, log=[])


def callback_for(runtime, user="alice"):
    return Callback(runtime, runtime.make_rei(user))


# --- int arguments: Boost.Python extract<int> ------------------------------------------------

@pytest.mark.parametrize("number, text", [(2 ** 31, "positive overflow"), (-2 ** 31 - 1, "negative overflow")])
def test_an_int_beyond_a_c_int_raises_overflow_error_for_every_call(runtime, zone, number, text):
    callback = callback_for(runtime)
    with pytest.raises(OverflowError, match="^bad numeric conversion: " + text):
        callback.msiCollCreate(HOME + "/c", number, 0)
    with pytest.raises(OverflowError):
        callback.echo(number)  # the conversion comes before any rule or microservice runs
    assert not zone.exists(HOME + "/c") and runtime.log == []


def test_the_largest_c_int_passes(runtime):
    assert callback_for(runtime).msiCollCreate(HOME + "/c", 2 ** 31 - 1, 0)["code"] == 0


# --- msiDataObjLseek / msiDataObjRead -------------------------------------------------------

def _open(runtime, zone, data):
    zone.put("alice", HOME + "/a.dat", data)
    callback = callback_for(runtime)
    return callback, callback.msiDataObjOpen("objPath=%s/a.dat++++openFlags=O_RDONLY" % HOME, 0)["arguments"][1]


def _seek(callback, fd, offset, whence="SEEK_SET"):
    return int(callback.msiDataObjLseek(fd, offset, whence, 0)["arguments"][3].offset)


def test_lseek_takes_a_64_bit_offset_only_as_a_string_read_with_strtoll(runtime, zone):
    callback, fd = _open(runtime, zone, b"0123456789")
    with pytest.raises(OverflowError):
        _seek(callback, fd, 3000000000)
    assert _seek(callback, fd, "3") == 3
    assert _seek(callback, fd, "5abc") == 5  # strtoll stops at the first non-digit
    assert _seek(callback, fd, "0x4") == 4 and _seek(callback, fd, "010") == 8  # base 0
    assert _seek(callback, fd, "null") == 0


def test_lseek_on_a_read_only_descriptor_is_clamped_to_the_size(runtime, zone):
    callback, fd = _open(runtime, zone, b"0123456789")
    assert _seek(callback, fd, "3000000000") == 10  # rsDataObjLseek: min(offset, dataSize)
    assert _seek(callback, fd, "2") == 2
    assert _seek(callback, fd, "100", "SEEK_CUR") == 12  # the offset is clamped, not the result
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:-518022\]"):  # UNIX_FILE_LSEEK_ERR + EINVAL
        _seek(callback, fd, "-5")


def test_a_read_gives_a_bytes_buf_whose_get_bytes_is_a_list_of_ints_and_none_at_the_end(runtime, zone):
    callback, fd = _open(runtime, zone, b"\x00\xffAB")
    out = callback.msiDataObjRead(fd, "3", irods_types.BytesBuf())["arguments"][2]
    assert out.len == 3 and out.get_bytes() == [0, 255, 65]
    assert all(type(item) is int for item in out.get_bytes())
    callback.msiDataObjRead(fd, 100, irods_types.BytesBuf())
    result = callback.msiDataObjRead(fd, 100, irods_types.BytesBuf())
    assert result["code"] == 0 and result["arguments"][2] is None


# --- "null" is a missing argument for parseMspForStr ---------------------------------------

@pytest.mark.parametrize("position", [3, 4, 5])
def test_mod_avu_metadata_refuses_the_string_null_in_attribute_value_or_units(runtime, zone, position):
    zone.put("alice", HOME + "/a.dat", b"x")
    arguments = ["-d", HOME + "/a.dat", "add", "attr", "value", ""]
    arguments[position] = "null"
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:%d\]" % irods_errors.SYS_INVALID_INPUT_PARAM):
        callback_for(runtime).msiModAVUMetadata(*arguments)
    assert zone.avus("alice", HOME + "/a.dat") == []


def test_null_in_other_cases_and_in_the_atomic_metadata_json_is_stored(runtime, zone):
    import json

    zone.put("alice", HOME + "/a.dat", b"x")
    callback = callback_for(runtime)
    callback.msiModAVUMetadata("-d", HOME + "/a.dat", "add", "upper", "NULL", "")
    document = {"entity_name": HOME + "/a.dat", "entity_type": "data_object",
                "operations": [{"operation": "add", "attribute": "json", "value": "null", "units": "null"}]}
    callback.msi_atomic_apply_metadata_operations(json.dumps(document), "")
    stored = {(avu.attribute, avu.value, avu.units) for avu in zone.avus("alice", HOME + "/a.dat")}
    assert stored == {("upper", "NULL", ""), ("json", "null", "null")}


# --- delayed rule text: no session variables -------------------------------------------------

@pytest.mark.parametrize("text", ['callback.f("$objPath")', 'callback.f("a$status")',
                                  'callback.f("x") # $userNameClient', "callback.f('$rodsZoneClient/\u00e9')"])
def test_delay_exec_refuses_a_text_holding_a_session_variable(runtime, text):
    with pytest.raises(RuntimeError, match=r"^\[iRods__Error__Code:%d\]" % irods_errors.RE_UNSUPPORTED_SESSION_VAR):
        callback_for(runtime).delayExec(INSTANCE_HINTS, text, "")
    assert runtime.pending() == []


@pytest.mark.parametrize("text", ['callback.f("$objPathX")', 'callback.f("$OBJPATH")',
                                  'callback.f("\\u0024objPath")', 'callback.f("$")'])
def test_delay_exec_takes_what_the_server_pattern_does_not_match(runtime, text):
    callback_for(runtime).delayExec(INSTANCE_HINTS, text, "")
    assert len(runtime.pending()) == 1


# --- the text of a failed microservice --------------------------------------------------------

def test_a_failed_microservice_raises_the_real_text_and_logs_the_detail(runtime):
    with pytest.raises(RuntimeError) as raised:
        callback_for(runtime).msiObjStat(HOME + "/missing", irods_types.RodsObjStat())
    text = str(raised.value)
    level = " :  status [USER_FILE_DOES_NOT_EXIST]  errno [] -- message [exec_microservice_adapter failed]"
    assert text.startswith("[iRods__Error__Code:-310000] [-]\t") and text.endswith(level + "\n\n")
    assert text.count(level) == 2 and "missing" not in text
    assert any("/missing" in line for line in runtime.log)


def test_an_errno_is_named_as_strerror_names_it(runtime, zone):
    callback, fd = _open(runtime, zone, b"x")
    with pytest.raises(RuntimeError, match=r"status \[UNIX_FILE_LSEEK_ERR\]  errno \[Invalid argument\] "
                                           r"-- message \[exec_microservice_adapter failed\]"):
        _seek(callback, fd, "-1")


# --- irule: client and proxy must be admins -------------------------------------------------

@pytest.mark.parametrize("client, proxy", [("alice", "alice"), ("alice", "rods"), ("rods", "alice")])
def test_irule_of_a_python_rule_needs_both_client_and_proxy_to_be_admins(runtime, client, proxy):
    rei = runtime.make_rei(client, proxy_user=proxy)
    result, stdout, _ = runtime.exec_rule_text("@external rule { echo }", {}, rei)
    assert result.code == irods_errors.SYS_NO_API_PRIV and stdout == ""


def test_irule_as_an_admin_runs_the_rule(runtime):
    result, stdout, _ = runtime.exec_rule_text("@external rule { echo }", {}, runtime.make_rei("rods"))
    assert result.code >= 0 and "ran" in stdout
