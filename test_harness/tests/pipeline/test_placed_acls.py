"""Placed data carries exactly the policy's grants, for exactly the identity the admin decided.

Facts used: a new entry in a collection with inheritance on gets a copy of the parent's ACL
(irods/irods plugins/database/src/db_plugin.cpp db_reg_coll_op and the data object
registration), so data extracted or pushed into a landing zone an admin opened to others
would carry those others along; a rename keeps an entry's ACL (server/api/src/rsDataObjRename.cpp).
"""

import pytest

from test_collection_pushes import collection_request
from pipeline_support import (ALICE_ROOT, LANDING, PREP_INSTANCE, SERVICE, UNTIL_IDLE, Request, avus_of,
                              base_scenario, ours, record_of, request_records)
from omero_irods import names
from omero_irods.triggers import delayed_rule_text

FILES = {"run1/a.tif": b"A" * 10, "run1/sub/b.tif": b"B" * 10}
#: The group's level is not the default (read), so the configured level is what is checked.
ACL = {"user": "own", "group": "write"}
DECIDED = {"alice": "own", "lab": "modify_object", SERVICE: "own"}  # `write` is stored as modify_object


def _placed_tree(state, destination):
    entries = state["collections"] + state["data_objects"]
    return {e["path"]: e for e in entries if e["path"] == destination or e["path"].startswith(destination + "/")}


def _open_landing(zone):
    """The landing zone inherits, and bob may read it (an admin's shortcut for a helper)."""
    zone.catalog.set_inheritance(SERVICE, LANDING, True)
    zone.catalog.set_acl(SERVICE, LANDING, "read", "bob")


@pytest.mark.parametrize("landing", ["as provisioned", "opened to bob"])
@pytest.mark.parametrize("kind", ["tar", "collection"])
def test_placed_data_has_exactly_the_decided_acls_and_inherits(tmp_path, live_zone, kind, landing):
    zone = live_zone(base_scenario(tmp_path, [], config_zone={"acl": ACL}))
    if landing == "opened to bob":
        _open_landing(zone)
    if kind == "tar":
        steps = Request(tmp_path, "20261122T101500Z-0000acl1", FILES, target_name="run1").steps()
    else:
        _collection, steps = collection_request(tmp_path, "20261122T101500Z-0000acl1", FILES, data_name="run1")
    for step in steps + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    avus = avus_of(state, record_of(state, "20261122T101500Z-0000acl1"))
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])
    tree = _placed_tree(state, avus[names.AVU_DESTINATION])
    assert sorted(path.rsplit("/run1", 1)[-1] for path in tree) == ["", "/a.tif", "/sub", "/sub/b.tif"]
    for path, entry in sorted(tree.items()):
        assert entry["acl"] == DECIDED, (path, entry["acl"])  # no bob from the landing zone
        if "inherit" in entry:  # collections: what alice adds later gets the same grants
            assert entry["inherit"] is True, path


def test_a_user_mapped_to_a_rodsadmin_is_rejected_and_nothing_is_placed(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000acl2", FILES)
    users = [{"name": SERVICE}, {"name": "alice", "groups": ["lab"]}, {"name": "boss", "type": "rodsadmin",
                                                                         "groups": ["lab"]}]
    state = run_scenario(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], users=users,
                                       mapped_users={"alice": "boss"}))
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert avus[names.AVU_ERROR].startswith("rejected (unmapped_user)") and "'boss', a rodsadmin" in avus[names.AVU_ERROR]
    assert state["imports"] == [] and not [e for e in state["collections"] if "/home/boss/" in e["path"]]
    assert not [line for line in ours(state["log"]) if "retry" in line]  # never retried


def test_a_group_the_user_is_not_in_is_rejected(tmp_path, run_scenario):
    request = Request(tmp_path, "20261122T101500Z-0000acl3", FILES)
    users = [{"name": SERVICE}, {"name": "alice", "groups": []}, {"name": "bob", "groups": ["lab"]}]
    state = run_scenario(base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], users=users))
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED and "not a member" in avus[names.AVU_ERROR]
    assert not [e for e in state["data_objects"] if e["path"].startswith(ALICE_ROOT + "/")]


def test_a_tar_payload_naming_a_collection_is_rejected_at_once(tmp_path, run_scenario):
    def name_a_collection(document):
        document["data"]["name"] = "folder"

    request = Request(tmp_path, "20261122T101500Z-0000acl4", FILES, payload_edit=name_a_collection)
    steps = request.steps()
    steps.insert(1, {"mkdir": {"as": SERVICE, "path": request.collection + "/folder"}})
    state = run_scenario(base_scenario(tmp_path, steps + [UNTIL_IDLE]))
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert avus[names.AVU_ERROR] == "rejected (inconsistent): folder is a collection, not a tar"


def test_a_rule_run_for_the_service_account_by_another_proxy_is_refused(tmp_path, live_zone):
    # A rodsadmin connecting as proxy for the service account (clientUser omero-svc, proxyUser
    # rods) and calling the rule: the client user alone must not be trusted.
    request = Request(tmp_path, "20261122T101500Z-0000acl5", FILES)
    users = [{"name": SERVICE}, {"name": "alice", "groups": ["lab"]}, {"name": "boss", "type": "rodsadmin"}]
    zone = live_zone(base_scenario(tmp_path, request.steps(), users=users))
    runtime = zone.runtime
    runtime.new_agent()
    rei = runtime.make_rei(SERVICE, proxy_user="boss")
    runtime.exec_rule_expression(PREP_INSTANCE, delayed_rule_text(names.RULE_PROCESS, request.payload_path, "1"), rei)
    state = zone.state()
    refusals = [line for line in ours(state["log"]) if "refused" in line]
    assert len(refusals) == 1 and refusals[0].endswith(
        "omero-irods: %s(%s) refused: it runs as %s (proxy boss), not as the service account %s"
        % (names.RULE_PROCESS, request.payload_path, SERVICE, SERVICE))
    assert avus_of(state, request.payload_path) == {} and not request_records(state)  # nothing claimed
