"""Request states and provisioning plans."""

import pytest

from omero_irods import names
from omero_irods.config import AclPolicy, UserMap, ZoneConfig
from omero_irods.provisioning import (
    CREATE_COLLECTION,
    SET_ACL,
    SET_INHERITANCE,
    plan_user_provisioning,
    plan_zone_provisioning,
    provision_user,
)
from omero_irods.states import check_transition, is_done, may_process, next_state

# --- states ---------------------------------------------------------------------------------


def walk(operation):
    state, seen = names.RECEIVED, [names.RECEIVED]
    while next_state(state, operation):
        new = next_state(state, operation)
        check_transition(state, new, operation)
        state = new
        seen.append(state)
    return seen


def test_happy_paths_per_operation():
    assert walk(names.INGEST) == [names.RECEIVED, names.VALIDATED, names.PLACED, names.IMPORT_QUEUED,
                                  names.IMPORTING, names.IMPORTED]
    assert walk(names.SAVE) == [names.RECEIVED, names.VALIDATED, names.PLACED]
    assert walk(names.LOAD) == [names.RECEIVED, names.VALIDATED, names.IMPORT_QUEUED, names.IMPORTING,
                                names.IMPORTED]
    assert is_done(names.PLACED, names.SAVE) and not is_done(names.PLACED, names.INGEST)


@pytest.mark.parametrize(
    "old, new, operation",
    [
        (names.RECEIVED, names.IMPORTED, names.INGEST),  # no skipping steps
        (names.VALIDATED, names.IMPORT_QUEUED, names.INGEST),  # ingest data must be placed first
        (names.PLACED, names.IMPORT_QUEUED, names.SAVE),  # a save ends at placed
        (names.REJECTED, names.RECEIVED, names.INGEST),  # rejected is final
        (names.IMPORTED, names.FAILED, names.INGEST),
        (names.IMPORT_QUEUED, names.REJECTED, names.INGEST),  # input was accepted by then
        (None, names.VALIDATED, names.INGEST),
    ],
)
def test_forbidden_transitions(old, new, operation):
    with pytest.raises(ValueError):
        check_transition(old, new, operation)


def test_failure_and_reprocess_transitions():
    check_transition(names.PLACED, names.FAILED, names.INGEST)
    check_transition(names.VALIDATED, names.REJECTED, names.INGEST)
    check_transition(names.FAILED, names.RECEIVED, names.INGEST)


def test_put_claims_only_new_requests():
    assert may_process(None, "put").allowed
    assert not may_process(names.RECEIVED, "put").allowed


def test_resume_continues_in_progress_only():
    for state in (names.RECEIVED, names.VALIDATED, names.PLACED, names.IMPORT_QUEUED):
        assert may_process(state, "resume").allowed
    for state in (None, names.IMPORTED, names.REJECTED, names.FAILED):
        assert not may_process(state, "resume").allowed


def test_admin_reprocess_rules():
    assert may_process(names.FAILED, "reprocess").allowed
    assert may_process(names.RECEIVED, "reprocess").allowed  # its delayed rule was lost
    rejected = may_process(names.REJECTED, "reprocess")
    assert not rejected.allowed and "new request" in rejected.reason
    assert not may_process(names.IMPORTED, "reprocess").allowed
    with pytest.raises(ValueError):
        may_process(names.FAILED, "retry-please")


# --- provisioning ---------------------------------------------------------------------------

ZONE = ZoneConfig(
    name="tempZone",
    service_account="omero-svc",
    landing_zone="/tempZone/home/omero-svc/landing",
    user_root="/{zone}/home/{irods_user}/omero",
    placement_template="{user_root}/{operation}/{date}/{name}",
    allowed_roots=("/tempZone/home",),
    user_map=UserMap("/m.json", {}, {}, frozenset(), frozenset()),
    acl=AclPolicy("own", "read", "own"),
    archive_mode="extract",
    on_collision="suffix",
    records="/tempZone/home/omero-svc/omero-irods-records",
)


def test_user_plan_gives_user_and_service_account_own_with_inheritance():
    plan = plan_user_provisioning(ZONE, "alice")
    root = "/tempZone/home/alice/omero"
    assert [op.to_json() for op in plan] == [
        {"op": CREATE_COLLECTION, "path": root},
        {"op": SET_ACL, "path": root, "user": "alice", "level": "own"},
        {"op": SET_ACL, "path": root, "user": "omero-svc", "level": "own"},
        {"op": SET_INHERITANCE, "path": root, "inherit": True},
    ]


def test_zone_plan_gives_the_service_account_its_landing_zone_and_records_only_it_may_write():
    records = "/tempZone/home/omero-svc/omero-irods-records"
    assert [op.to_json() for op in plan_zone_provisioning(ZONE)] == [
        {"op": CREATE_COLLECTION, "path": "/tempZone/home/omero-svc/landing"},
        {"op": SET_ACL, "path": "/tempZone/home/omero-svc/landing", "user": "omero-svc", "level": "own"},
        {"op": CREATE_COLLECTION, "path": records},
        {"op": SET_ACL, "path": records, "user": "omero-svc", "level": "own"},
        {"op": SET_INHERITANCE, "path": records, "inherit": False},
    ]


def test_provision_user_applies_the_plan_in_order():
    applied = []
    returned = provision_user(ZONE, "alice", applied.append)
    assert applied == returned == plan_user_provisioning(ZONE, "alice")
