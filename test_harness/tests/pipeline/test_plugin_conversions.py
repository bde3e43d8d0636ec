"""The pipeline works through the plugin's conversions as a real zone applies them (each seen
on iRODS 5.0.2; the sandbox emulates them, see test_harness/tests/sandbox/test_prep_conversions.py).

- A delayed rule's text is refused when a session-variable word appears in it (irods/irods
  server/api/src/rsRuleExecSubmit.cpp, server/core/src/server_utilities.cpp
  contains_session_variables); a record path holds the user's target name, so
  triggers.delayed_rule_text writes `$` as an escape and no path can make the text refused.
- msiModAVUMetadata reads the string "null" as a missing argument (irods/irods
  lib/core/src/msParam.cpp parseMspForStr): an OMERO user or group named `null` is recorded
  through the atomic metadata API, whose JSON has no such conversion.
"""

import ast
import re

import pytest

from pipeline_support import ALICE_ROOT, DRAIN_FAILURES, Request, avus_of, base_scenario, ours, record_of
from omero_irods import names, triggers
from omero_irods_sandbox.prep import msi_misc

DAY = "%s/ingest/2026-01-01" % ALICE_ROOT
#: Every word of the server's list (server_utilities.cpp, as msi_misc copies it).
SESSION_WORDS = msi_misc._SESSION_VARIABLES.pattern.split("(?:", 1)[1].split(")", 1)[0].split("|")


def _arguments_of(text, rule):
    assert text.startswith("callback.%s(" % rule)
    return ast.literal_eval("(%s,)" % text[len("callback.%s(" % rule):-1])


@pytest.mark.parametrize("word", SESSION_WORDS)
def test_no_path_makes_a_delayed_rule_text_hold_a_session_variable(word):
    hostile = ['/z/$%s' % word, '/z/a$%s/b' % word, '/z/\\$%s"\'' % word, '/z/$%s\U0001F9EA$' % word,
               '/z/\\u0024%s' % word]
    for path in hostile:
        text = triggers.delayed_rule_text(names.RULE_IMPORT, path, "1")
        assert msi_misc.session_variable_in(text) is None and "$" not in text
        assert _arguments_of(text, names.RULE_IMPORT) == (path, "1")


def test_a_target_name_holding_session_variables_is_placed_and_imported(tmp_path, run_scenario):
    rid = "20261122T101500Z-0000s001"
    target = "run $objPath $status $userNameClient"
    request = Request(tmp_path, rid, {"a.tif": b"A" * 10}, target_name=target)
    state = run_scenario(base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES]))
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])[-3:]
    assert avus[names.AVU_DESTINATION] == "%s/%s" % (DAY, target)
    (run,) = state["imports"]
    assert any("$objPath $status" in arg for arg in run["argv"])


@pytest.mark.parametrize("omero_user, omero_group", [("null", "lab"), ("alice", "null")])
def test_an_omero_user_or_group_named_null_is_recorded_and_imported(tmp_path, run_scenario, omero_user, omero_group):
    rid = "20261122T101500Z-0000n001"
    request = Request(tmp_path, rid, {"a.tif": b"A" * 10}, omero_user=omero_user, omero_group=omero_group)
    data = base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES], mapped_users={omero_user: "alice"})
    if omero_group == "null":
        user_map = tmp_path / "user_map.json"
        user_map.write_text(user_map.read_text().replace('"lab": "lab"', '"null": "lab"'))
    state = run_scenario(data)
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])[-3:]
    assert avus[names.AVU_OMERO_USER] == omero_user and avus[names.AVU_OMERO_GROUP] == omero_group
    (run,) = state["imports"]
    assert run["argv"][run["argv"].index("-u") + 1] == omero_user
