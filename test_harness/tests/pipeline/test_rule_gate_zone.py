"""The rule-text gate in a zone: a rodsuser's delayed Python never runs, admins keep irule.

A rodsuser reaches the Python rule engine's unchecked `exec_rule_expression` through irule with
a native-language delay() naming the Python instance (seen on iRODS 5.0.2: the text ran as the
OS user irods; omero_irods.rule_gate). The policy's pep_api_exec_my_rule_pre refuses the irule
itself, so nothing is queued."""

import pytest

from pipeline_support import SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, queued, record_of
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 64}
BOB_HOME = "/tempZone/home/bob"
STEAL = "callback.msiModAVUMetadata('-C', '%s', 'add', 'ran_as', str(__import__('os').getuid()), '')" % BOB_HOME


def _bob_home_avus(state):
    return [avu for entry in state["collections"] if entry["path"] == BOB_HOME for avu in entry["avus"]]


@pytest.mark.parametrize("user", ["bob", SERVICE])
def test_a_users_delayed_python_rule_is_refused_at_the_irule(tmp_path, live_zone, user):
    zone = live_zone(base_scenario(tmp_path, []))
    zone.step({"user_rule": {"as": user, "rule": STEAL, "expect_error": "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"}})
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert [error["name"] for error in state["client_errors"]] == ["CAT_INSUFFICIENT_PRIVILEGE_LEVEL"]
    assert queued(state) == [] and _bob_home_avus(state) == []
    assert [line for line in state["log"] if "refused irule" in line and user in line]


def test_admins_keep_irule_and_the_pipeline_its_delayed_rules(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T140000Z-0000g001", FILES, target_name="run1")
    zone = live_zone(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    status = zone.irule("omero_irods_status", request_id=request.request_id)
    assert status["state"] == names.IMPORTED


def test_rule_text_sent_straight_to_exec_rule_expression_is_refused_to_a_user(tmp_path, live_zone):
    """EXEC_RULE_EXPRESSION_AN is open to LOCAL_USER_AUTH (irods/irods apiTable.hpp) and
    rsExecRuleExpression.cpp checks no privilege: its pre-PEP is the only place to refuse."""
    from omero_irods_sandbox.error_codes import IrodsError

    zone = live_zone(base_scenario(tmp_path, []))
    server, ran = zone._run.server, []
    for user, allowed in (("bob", False), ("rods", True)):
        call = lambda: server.call_api("api_exec_rule_expression", server.rs_comm(user),  # noqa: E731
                                       [{"rule_text": STEAL}], lambda: ran.append(user) or 0)
        if allowed:
            call()
        else:
            with pytest.raises(IrodsError) as refused:
                call()
            assert refused.value.name == "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"
    assert ran == ["rods"]
