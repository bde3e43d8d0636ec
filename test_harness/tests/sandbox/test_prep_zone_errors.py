"""How the zone adapter reads a failed microservice: from the code and error name only, since
the plugin's text carries no detail (irods/irods_rule_engine_plugin_python src/main.cpp
RuleCallWrapper::call; irods/irods server/re/src/irods_re_plugin.cpp exec_microservice_adapter).
REAL_TEXT was raised by msiObjStat on a missing path on iRODS 5.0.2 with PREP 5.0.1."""

import pytest

from omero_irods.adapters import prep_zone
from omero_irods.ports import AlreadyExists, NotFound, ZoneError

REAL_TEXT = (
    "[iRods__Error__Code:-310000] [-]\t/tmp/irods-build/src/irods/server/re/include/irods/irods_re_plugin.hpp:373:"
    "error irods::dynamic_operation_execution_manager<std::tuple<>, RuleExecInfo *, irods::DONT_AUDIT_RULE>::call("
    "const std::string &, const std::string &, OP, As &&...) [T = std::tuple<>, C = RuleExecInfo *, Audit = "
    "irods::DONT_AUDIT_RULE, OP = std::function<irods::error (const std::basic_string<char> &, RuleExecInfo *&, "
    "irods::unpack &&)>, As = <const std::basic_string<char> &, RuleExecInfo *&, irods::unpack>] :  status "
    "[USER_FILE_DOES_NOT_EXIST]  errno [] -- message [exec_microservice_adapter failed]\n\t[-]\t/tmp/irods-build/"
    "src/irods/server/re/src/irods_re_plugin.cpp:133:error irods::default_microservice_manager<RuleExecInfo *>::"
    "exec_microservice_adapter(std::string, default_ms_ctx, std::list<boost::any> &) :  status "
    "[USER_FILE_DOES_NOT_EXIST]  errno [] -- message [exec_microservice_adapter failed]\n\n")


def test_the_real_text_becomes_not_found_naming_the_call_the_path_and_the_error():
    error = prep_zone._zone_error("msiObjStat", ("/tempZone/home/rods/nope", None), RuntimeError(REAL_TEXT))
    assert isinstance(error, NotFound) and error.code == -310000
    assert str(error) == "msiObjStat failed on /tempZone/home/rods/nope: USER_FILE_DOES_NOT_EXIST (iRODS error -310000)"


def test_the_path_of_an_open_option_string_is_named():
    text = REAL_TEXT.replace("-310000", "-809000").replace("USER_FILE_DOES_NOT_EXIST", "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME")
    error = prep_zone._zone_error("msiDataObjOpen", ("objPath=/z/a b++++openFlags=O_RDONLY", 0), RuntimeError(text))
    assert isinstance(error, AlreadyExists) and "on /z/a b:" in str(error)


def test_a_text_without_a_code_is_a_zone_error_that_keeps_the_text():
    error = prep_zone._zone_error("msiExecCmd", (), RuntimeError("boost::bad_any_cast: failed conversion"))
    assert type(error) is ZoneError and error.code == -1 and "bad_any_cast" in str(error)


def test_claiming_a_value_the_microservice_would_read_as_missing_is_refused_before_any_call():
    zone = prep_zone.PrepZone.__new__(prep_zone.PrepZone)
    zone.callback = None  # any microservice call would fail on it
    with pytest.raises(ZoneError, match="'null'"):
        zone.add_avu_once("/z/p", "omero_irods::attempt", "null")


def test_the_sandbox_raises_exactly_the_real_text(zone, tmp_path):
    from omero_irods_sandbox.prep import irods_types
    from omero_irods_sandbox.prep.callback import Callback
    from omero_irods_sandbox.prep.runtime import PrepRuntime

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "core.py").write_text("")
    runtime = PrepRuntime(zone, str(tmp_path / "etc"), log=[])
    with pytest.raises(RuntimeError) as raised:
        Callback(runtime, runtime.make_rei("rods")).msiObjStat("/tempZone/home/rods/nope", irods_types.RodsObjStat())
    assert str(raised.value) == REAL_TEXT
