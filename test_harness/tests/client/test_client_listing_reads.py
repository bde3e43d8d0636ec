"""Listing reads payloads as little as it can: each read is an open and close of a payload in
the landing zone, the very events the rules watch (pep_api_data_obj_open_pre /
close_post, irods/irods server/api/src/rsDataObjOpen.cpp, rsDataObjClose.cpp). Whose a
request is comes from the policy's record where there is one; a payload is read only while
no record says (not claimed yet), and only if small."""

import os
import sys

from omero_irods import names
from omero_irods.client import listing
from omero_irods.client.push import request_load
from omero_irods_sandbox.prc_session import SandboxSession

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(irods, landing, request_id, user="alice", session=None):
    return request_load(session or irods.session, landing, "/tempZone/home/%s/snap" % user, user,
                        "lab", request_id=request_id)


def _opened(irods):
    return [path for _name, path in irods.calls("open") if path.endswith(names.PAYLOAD_SUFFIX)]


def test_a_request_whose_record_names_its_user_is_listed_without_reading_its_payload(irods, landing):
    result = _load(irods, landing, "req-00000101")
    irods.record("req-00000101", [(names.AVU_STATE, names.VALIDATED), (names.AVU_OPERATION, "load"),
                                  (names.AVU_OMERO_USER, "alice"), (names.AVU_OMERO_GROUP, "lab")],
                 payload=result.payload_path)
    irods.server.pep_points.clear()
    (status,) = listing.list_requests(irods.session, landing, omero_user="alice")
    assert (status.request_id, status.state, status.omero_user) == ("req-00000101", names.VALIDATED, "alice")
    assert listing.request_status(irods.session, landing, "req-00000101").omero_group == "lab"
    assert _opened(irods) == []


def test_an_unclaimed_payload_is_read_once_per_listing(irods, landing):
    result = _load(irods, landing, "req-00000102")
    irods.server.pep_points.clear()
    (status,) = listing.list_requests(irods.session, landing, omero_user="alice")
    assert (status.state, status.omero_user) == (names.RECEIVED, "alice")
    assert _opened(irods) == [result.payload_path]


def test_a_users_listing_never_reads_a_payload_another_account_wrote(irods, landing):
    irods.zone.add_user("mallory")
    irods.zone.set_acl("omero-svc", landing, "own", "mallory")
    result = _load(irods, landing, "req-00000103", session=SandboxSession(irods.server, "mallory"))
    for path in (landing + "/req-00000103", result.payload_path):
        irods.zone.set_acl("mallory", path, "read", "omero-svc")
    irods.server.pep_points.clear()
    assert listing.list_requests(irods.session, landing, omero_user="alice") == []
    assert _opened(irods) == []


def test_a_payload_above_the_listing_bound_is_reported_not_read(irods, landing, monkeypatch):
    result = _load(irods, landing, "req-00000104")
    size = len(irods.read(result.payload_path))
    monkeypatch.setattr(listing, "MAX_PAYLOAD_READ", size - 1)
    irods.server.pep_points.clear()
    status = listing.request_status(irods.session, landing, "req-00000104")
    assert status.problem == "payload not read: %d bytes, more than the %d a listing reads" % (size, size - 1)
    assert status.omero_user is None and _opened(irods) == []


def test_listing_with_the_real_rules_loaded_queues_no_policy_work(tmp_path):
    """End to end, with the rules (the server half: only write opens of a payload count)."""
    sys.path.insert(0, os.path.join(HERE, os.pardir, "pipeline"))
    from pipeline_support import LANDING, SERVICE, LiveZone, Request, base_scenario

    request = Request(tmp_path, "req-00000099", {"run/a.tif": b"pixels"})
    zone = LiveZone(tmp_path, base_scenario(tmp_path, request.steps()))
    before = [entry["rule"] for entry in zone.runtime.pending()]
    session = SandboxSession(zone._run.server, SERVICE)
    statuses = listing.list_requests(session, LANDING, omero_user="alice")
    assert [s.request_id for s in statuses] == ["req-00000099"]
    after = [entry["rule"] for entry in zone.runtime.pending()]
    assert after == before, "listing queued: %s" % after[len(before):]
