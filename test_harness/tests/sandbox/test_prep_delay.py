"""delayExec and the delay server.

Sources: irods/irods server/re/src/nre.systemMS.cpp (delayExec, MAX_ACTION_SIZE truncation via
rstrcpy), server/re/src/irods_re_structs.cpp (getTaggedValues, fillSubmitConditions),
lib/core/src/rcMisc.cpp (getOffsetTimeStr, getNextRepeatTime), server/delay_server/src/
irodsDelayServer.cpp (run as the scheduler, delete after one run without EF),
server/api/src/rsExecRuleExpression.cpp, irods/irods_rule_engine_plugin_python src/main.cpp
exec_rule_expression (the text is the body of expressionFcn in __main__).
"""

import textwrap

import pytest

from omero_irods_sandbox.prep import irods_errors
from omero_irods_sandbox.prep.runtime import PrepRuntime

INST = "<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME>"


@pytest.fixture
def runtime(zone, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text(textwrap.dedent("""
        def schedule(rule_args, callback, rei):
            callback.delayExec(rule_args[0], rule_args[1], '')
        def note(rule_args, callback, rei):
            callback.writeLine('serverLog', 'note %s as %s' % (rule_args[0], rei.uoic.userName))
        def boom(rule_args, callback, rei):
            raise RuntimeError('boom')
    """))
    return PrepRuntime(zone, etc)


def schedule(runtime, hints, body, user="alice"):
    return runtime.invoke("schedule", [hints, body], runtime.make_rei(user))


def test_delayed_rule_runs_when_due_as_the_scheduling_user(runtime):
    assert schedule(runtime, "<PLUSET>1m</PLUSET>" + INST, "callback.note('x')").code == 0
    assert runtime.run_due() == []
    assert runtime.pending()[0]["user"] == "alice"
    runtime.advance_clock(60)
    (result,) = runtime.run_due()
    assert result.code == 0
    assert "writeLine: inString = note x as alice" in runtime.log
    assert runtime.pending() == []


def test_body_is_not_run_in_cores_namespace(runtime):
    # The text runs in __main__: core's functions are reachable only through callback.
    schedule(runtime, INST, "note(['x'], callback, rei)")
    (result,) = runtime.run_due()
    assert result.code == irods_errors.RULE_ENGINE_ERROR
    assert any("NameError" in line for line in runtime.log)


def test_failed_rule_is_logged_and_dropped_not_retried(runtime):
    schedule(runtime, INST, "callback.boom()")
    runtime.run_due()
    assert runtime.pending() == []
    assert any(line.startswith("ruleExec of 10000: callback.boom() failed.") for line in runtime.log)


def test_repeat_until_success_reschedules_a_failure(runtime):
    schedule(runtime, INST + "<EF>30s REPEAT UNTIL SUCCESS OR 2 TIMES</EF>", "callback.boom()")
    runtime.run_due()
    assert len(runtime.pending()) == 1
    runtime.advance_clock(30)
    runtime.run_due()
    assert runtime.pending() == []


def test_multi_line_body_and_wrong_instance_name(runtime):
    schedule(runtime, INST, "x = 'multi'\ncallback.note(x)")
    schedule(runtime, "<INST_NAME>no-such-instance</INST_NAME>", "callback.note('never')")
    results = runtime.run_due()
    assert [r.code for r in results] == [0, irods_errors.SYS_INVALID_INPUT_PARAM]
    assert "writeLine: inString = note multi as alice" in runtime.log
    assert "instance not found [no-such-instance]" in runtime.log


def test_text_longer_than_max_action_size_is_truncated_and_logged(runtime):
    body = "callback.note('%s')" % ("x" * 6000)
    schedule(runtime, INST, body)
    assert len(runtime.pending()[0]["rule"]) == 1088 * 5 - 1
    assert any(line.startswith("rstrcpy not enough space") for line in runtime.log)
    (result,) = runtime.run_due()
    assert result.code == irods_errors.RULE_ENGINE_ERROR  # the truncated text is not valid Python


def test_bad_hints_fail_the_delayexec_call(runtime):
    result = schedule(runtime, "<PLUSET>5x</PLUSET>" + INST, "callback.note('x')")
    assert result.code == irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR
    result = schedule(runtime, "<PLUSET>5s" + INST, "callback.note('x')")
    assert result.code == irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR
    assert runtime.pending() == []


def test_delayed_rule_gets_a_fresh_agent(runtime, tmp_path):
    (tmp_path / "etc" / "core.py").write_text(textwrap.dedent("""
        COUNT = []
        def bump(rule_args, callback, rei):
            COUNT.append(1)
            callback.writeLine('serverLog', 'count %d' % len(COUNT))
        def schedule(rule_args, callback, rei):
            callback.delayExec(rule_args[0], rule_args[1], '')
    """))
    runtime.new_agent()
    schedule(runtime, INST, "callback.bump()")
    schedule(runtime, INST, "callback.bump()")
    runtime.run_due()
    assert [line for line in runtime.log if "count" in line] == ["writeLine: inString = count 1"] * 2
