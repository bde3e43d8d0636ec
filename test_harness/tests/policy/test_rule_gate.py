"""The rule-text gate's decision (omero_irods.rule_gate): this zone's admins only
(LOCAL_PRIV_USER_AUTH, irods/irods lib/core/include/irods/rodsUser.h)."""

import pytest

from omero_irods import rule_gate

ADMIN, REMOTE_ADMIN, USER, REMOTE_USER = 5, 4, 3, 2
IRULE, EXPRESSION = "exec_my_rule", "exec_rule_expression"


@pytest.mark.parametrize("api", sorted(rule_gate.GATED_APIS))
def test_this_zones_admins_pass_both_ways_in(api):
    assert rule_gate.refusal(api, ("rods", ADMIN), ("rods", ADMIN)) is None


def test_the_delay_server_runs_the_service_accounts_rules_as_its_proxy():
    """With advanced_settings.delay_rule_executors set, the delay server connects as the local
    admin proxying for the rule's owner, a plain rodsuser (server/delay_server/src/
    irodsDelayServer.cpp): the pipeline's own rules must still run."""
    assert rule_gate.refusal(EXPRESSION, ("omero-svc", USER), ("rods", ADMIN)) is None


@pytest.mark.parametrize("api", sorted(rule_gate.GATED_APIS))
@pytest.mark.parametrize("client,proxy", [
    (("alice", USER), ("alice", USER)),
    (("bob", REMOTE_USER), ("bob", REMOTE_USER)),
    (("otheradmin", REMOTE_ADMIN), ("otheradmin", REMOTE_ADMIN)),  # a federated zone's rodsadmin
    (("anonymous", 0), ("anonymous", 0)),
    (("rods", ADMIN), ("alice", USER)),
])
def test_anyone_but_this_zones_admins_is_refused_and_named(api, client, proxy):
    refusal = rule_gate.refusal(api, client, proxy)
    assert refusal is not None
    assert client[0] in refusal and "iRODS OS user" in refusal


def test_irule_is_refused_to_a_user_an_admin_proxies_for():
    assert rule_gate.refusal(IRULE, ("alice", USER), ("rods", ADMIN)) is not None
