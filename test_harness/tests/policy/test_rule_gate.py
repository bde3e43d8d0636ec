"""The rule-text gate's decision (omero_irods.rule_gate): the plugin's own bar for Python,
REMOTE_PRIV_USER_AUTH (irods/irods lib/core/include/irods/rodsUser.h), for client AND proxy."""

import pytest

from omero_irods import rule_gate

ADMIN, REMOTE_ADMIN, USER, REMOTE_USER = 5, 4, 3, 2


@pytest.mark.parametrize("api", sorted(rule_gate.GATED_APIS))
def test_admins_pass_both_ways_in(api):
    assert rule_gate.refusal(api, ("rods", ADMIN), ("rods", ADMIN)) is None
    assert rule_gate.refusal(api, ("rods", REMOTE_ADMIN), ("rods", REMOTE_ADMIN)) is None


@pytest.mark.parametrize("api", sorted(rule_gate.GATED_APIS))
@pytest.mark.parametrize("client,proxy", [
    (("alice", USER), ("alice", USER)),
    (("bob", REMOTE_USER), ("bob", REMOTE_USER)),
    (("alice", USER), ("rods", ADMIN)),       # an admin proxying for a user: the user decides
    (("rods", ADMIN), ("alice", USER)),
    (("anonymous", 0), ("anonymous", 0)),
])
def test_anyone_below_the_plugins_bar_is_refused_and_named(api, client, proxy):
    refusal = rule_gate.refusal(api, client, proxy)
    assert refusal is not None
    assert client[0] in refusal and "iRODS OS user" in refusal
