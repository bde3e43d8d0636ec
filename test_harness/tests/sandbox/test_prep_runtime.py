"""PrepRuntime: rule loading and the plugin's calling conventions.

Source for every test unless named: irods/irods_rule_engine_plugin_python src/main.cpp (4.3.4).
"""

import textwrap

from omero_irods_sandbox.prep import irods_errors, irods_types
from omero_irods_sandbox.prep.runtime import PrepRuntime


def runtime_with(zone, tmp_path, core_text, name="etc", **options):
    etc = tmp_path / name
    etc.mkdir()
    (etc / "core.py").write_text(textwrap.dedent(core_text))
    return PrepRuntime(zone, etc, **options)


def test_rule_gets_args_callback_and_rei_and_sets_outputs_through_rule_args(zone, tmp_path):
    # exec_rule: rule_function(rule_args_list, CallbackWrapper, rei); args written back.
    runtime = runtime_with(zone, tmp_path, """
        def my_rule(rule_args, callback, rei):
            rule_args[0] = rule_args[0].upper() + str(rei.uoic.userName)
    """)
    result = runtime.invoke("my_rule", ["abc"], runtime.make_rei("alice"))
    assert result.ran and result.code == 0
    assert result.arguments == ["ABCalice"]


def test_missing_rule_is_not_run_and_not_an_error(zone, tmp_path):
    # rule_exists is hasattr(core, name); control() then falls through to other engines.
    runtime = runtime_with(zone, tmp_path, "x = 1\n")
    result = runtime.invoke("acPostProcForPut", [], runtime.make_rei("alice"))
    assert not result.ran and result.code == 0
    assert runtime.peps == []


def test_uncaught_exception_is_logged_and_returns_its_irods_code_or_minus_one(zone, tmp_path):
    # exec_rule catch block: code parsed after '[iRods__Error__Code:' in the traceback, else -1.
    runtime = runtime_with(zone, tmp_path, """
        def coded(rule_args, callback, rei):
            callback.msiObjStat('/tempZone/home/alice/missing', irods_types.RodsObjStat())
        def plain(rule_args, callback, rei):
            raise ValueError('bad payload')
    """)
    rei = runtime.make_rei("alice")
    assert runtime.invoke("coded", [], rei).code == irods_errors.USER_FILE_DOES_NOT_EXIST
    plain = runtime.invoke("plain", [], rei)
    assert plain.code == -1 and not plain.ok
    assert any("caught python exception" in line and "ValueError: bad payload" in line for line in runtime.log)


def test_returned_int_is_the_code_and_skip_operation_is_reported(zone, tmp_path):
    # to_irods_error_object: int < 0 -> error, >= 0 -> CODE(int); other values -> SUCCESS.
    runtime = runtime_with(zone, tmp_path, """
        def pep_api_data_obj_put_pre(rule_args, callback, rei):
            return irods_errors.RULE_ENGINE_SKIP_OPERATION
        def fails(rule_args, callback, rei):
            return -818000
        def returns_text(rule_args, callback, rei):
            return 'done'
    """)
    rei = runtime.make_rei("alice")
    skip = runtime.fire_pep("pep_api_data_obj_put_pre", [], rei)
    assert skip.skip and skip.ok
    assert runtime.invoke("fails", [], rei).code == -818000
    assert runtime.invoke("returns_text", [], rei).code == 0


def test_irods_types_and_errors_are_injected_into_core_only_at_call_time(zone, tmp_path):
    # exec_rule sets core_namespace['irods_types'/'irods_errors'] before each call, not at import:
    # using them at import time without importing them fails like on a server.
    runtime = runtime_with(zone, tmp_path, "LIMIT = irods_errors.SYS_NOT_SUPPORTED\n")
    result = runtime.invoke("anything", [], runtime.make_rei("alice"))
    assert result.code == irods_errors.RULE_ENGINE_ERROR and not result.ran
    assert "NameError" in result.message


def test_dynamic_pep_fires_only_when_its_name_passes_the_regex_check(zone, tmp_path):
    # apiHandler.hpp invoke_policy_enforcement_point: RuleExistsHelper regexes first. With the
    # PREP's defaults only, _except/_finally PEPs never run.
    core = """
        def pep_api_data_obj_put_except(rule_args, callback, rei):
            callback.writeLine('serverLog', 'except ran')
    """
    prep_only = runtime_with(zone, tmp_path, core, name="a", pep_regexes=("ac[^ ]*", "[^ ]*pep_[^ ]*_(pre|post)"))
    assert not prep_only.fire_pep("pep_api_data_obj_put_except", [], prep_only.make_rei("alice")).ran
    with_native = runtime_with(zone, tmp_path, core, name="b")
    assert with_native.fire_pep("pep_api_data_obj_put_except", [], with_native.make_rei("alice")).ran


def test_peps_are_recorded_in_order_with_path_and_user(zone, tmp_path):
    runtime = runtime_with(zone, tmp_path, """
        def acPostProcForPut(rule_args, callback, rei):
            callback.helper()
        def helper(rule_args, callback, rei):
            pass
    """)
    zone.put("alice", "/tempZone/home/alice/a.txt", b"x")
    rei = runtime.make_rei("alice", data_obj_info=runtime.data_obj_info("/tempZone/home/alice/a.txt"))
    runtime.invoke("acPostProcForPut", [], rei, kind="static_pep")
    assert [(r["name"], r["path"], r["user"], r["result"]) for r in runtime.peps] == [
        ("acPostProcForPut", "/tempZone/home/alice/a.txt", "alice", 0),
        ("helper", "/tempZone/home/alice/a.txt", "alice", 0),
    ]


def test_two_zones_do_not_share_core_or_rule_modules(zone, tmp_path):
    # One interpreter per server: each zone imports its own core and its own helper modules.
    first = runtime_with(zone, tmp_path, "import helper\ndef which(a, c, r):\n    a[0] = helper.NAME\n", name="one")
    (tmp_path / "one" / "helper.py").write_text("NAME = 'one'\n")
    second = runtime_with(zone, tmp_path, "import helper\ndef which(a, c, r):\n    a[0] = helper.NAME\n", name="two")
    (tmp_path / "two" / "helper.py").write_text("NAME = 'two'\n")
    rei = first.make_rei("alice")
    assert first.invoke("which", [""], rei).arguments == ["one"]
    assert second.invoke("which", [""], rei).arguments == ["two"]
    assert first.invoke("which", [""], rei).arguments == ["one"]


def test_module_state_lasts_for_one_agent_only(zone, tmp_path):
    # Each connection is a new agent process (irods/irods server/core/src/rodsAgent.cpp).
    runtime = runtime_with(zone, tmp_path, """
        SEEN = []
        def count(rule_args, callback, rei):
            SEEN.append(1)
            rule_args[0] = str(len(SEEN))
    """)
    rei = runtime.make_rei("alice")
    assert runtime.invoke("count", [""], rei).arguments == ["1"]
    assert runtime.invoke("count", [""], rei).arguments == ["2"]
    runtime.new_agent()
    assert runtime.invoke("count", [""], rei).arguments == ["1"]


def test_environ_is_set_only_while_the_zones_rules_run(zone, tmp_path):
    import os

    runtime = runtime_with(zone, tmp_path, """
        import os
        def read(rule_args, callback, rei):
            rule_args[0] = os.environ.get('OMERO_IRODS_CONFIG', '')
    """, environ={"OMERO_IRODS_CONFIG": "/etc/irods/omero_irods.json"})
    assert runtime.invoke("read", [""], runtime.make_rei("alice")).arguments == ["/etc/irods/omero_irods.json"]
    assert os.environ.get("OMERO_IRODS_CONFIG") != "/etc/irods/omero_irods.json"


def test_char_members_are_char_arrays_not_str_and_read_only(zone, tmp_path):
    # src/types/standard/arrays.cpp: char_array has __str__ but no __eq__; add_property is
    # read-only (src/types/irods/dataObjInpOut.cpp).
    runtime = runtime_with(zone, tmp_path, """
        def check(rule_args, callback, rei):
            inp = rule_args[0]
            rule_args[1] = repr((inp.objPath == '/tempZone/home/alice/a', str(inp.objPath) == '/tempZone/home/alice/a'))
            inp.openFlags = 1
    """)
    from omero_irods_sandbox.prep import structs

    inp = structs.fill(irods_types.DataObjInp(), objPath="/tempZone/home/alice/a")
    result = runtime.invoke("check", [inp, ""], runtime.make_rei("alice"))
    assert result.arguments[1] == "(False, True)"
    assert result.code == -1 and "can't set attribute" in result.message
