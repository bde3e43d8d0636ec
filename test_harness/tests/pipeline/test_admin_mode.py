"""admin_mode: a rodsadmin service account provisions a mapped user's root itself."""

from pipeline_support import (LANDING, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, record_of, request_records,
                              under)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 100}


def _scenario(tmp_path, service_type, admin_mode):
    request = Request(tmp_path, "20261122T101500Z-0000ad01", FILES, target_name="run1")
    data = base_scenario(tmp_path, request.steps("prc") + [UNTIL_IDLE], config={"admin_mode": admin_mode},
                         users=[{"name": SERVICE, "type": service_type}, {"name": "alice", "groups": ["lab"]}])
    data["provision"] = []  # no admin ran `omero-irods admin provision`
    data["steps"].insert(0, {"mkdir": {"as": SERVICE, "path": LANDING}})
    return request, data


def test_admin_mode_provisions_the_users_root_then_places_and_imports(tmp_path, run_scenario):
    request, data = _scenario(tmp_path, "rodsadmin", True)
    state = run_scenario(data)
    (record,) = request_records(state)
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED, state["log"]
    root = {c["path"]: c for c in state["collections"]}["/tempZone/home/alice/omero"]
    assert root["acl"]["alice"] == "own" and root["acl"][SERVICE] == "own" and root["inherit"]
    assert any("provisioned /tempZone/home/alice/omero for alice (admin mode)" in line for line in state["log"])


def test_without_admin_mode_a_rodsadmin_service_account_still_needs_provisioning(tmp_path, run_scenario):
    request, data = _scenario(tmp_path, "rodsadmin", False)
    data["steps"][-1] = {"run_delay_queue": {"until_idle": True, "max_seconds": 1000}}
    state = run_scenario(data)
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.FAILED
    assert not under(state, "/tempZone/home/alice")


def test_admin_mode_never_grants_anything_in_another_users_home(tmp_path, run_scenario):
    # a user_root template pointing into rods' home: the service account (a rodsadmin here)
    # must not give itself own on /tempZone/home/rods to create alice's root there
    request, data = _scenario(tmp_path, "rodsadmin", True)
    data["config"]["zones"]["tempZone"]["user_root"] = "/{zone}/home/rods/omero-{irods_user}"
    state = run_scenario(data)
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "in the home of rods" in avus[names.AVU_ERROR] and avus[names.AVU_ERROR].startswith("rejected (not_permitted)")
    home = {c["path"]: c for c in state["collections"]}["/tempZone/home/rods"]
    assert SERVICE not in home["acl"] and not under(state, "/tempZone/home/rods", "collections")
