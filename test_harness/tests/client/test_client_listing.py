"""Reading requests back: state from the policy's AVUs, what was asked from the payload."""

import pytest

from omero_irods import names
from omero_irods.client import listing
from omero_irods.client.push import request_load


def test_a_broken_payload_is_reported_not_fatal(irods, landing):
    collection = landing + "/req-0000030"
    irods.session.collections.create(collection, recurse=False)
    path = collection + "/req-0000030" + names.PAYLOAD_SUFFIX
    with irods.session.data_objects.open(path, "w") as handle:
        handle.write(b'{"truncated": ')
    irods.set_avus(path, [(names.AVU_STATE, names.REJECTED), (names.AVU_ERROR, "not JSON")])
    status = listing.request_status(irods.session, landing, "req-0000030")
    assert (status.state, status.error, status.operation) == ("rejected", "not JSON", None)
    assert status.problem.startswith("payload unreadable: payload is not valid JSON")


def test_without_state_avus_a_committed_request_is_received(irods, landing):
    request_load(irods.session, landing, "/tempZone/home/alice/snap", "alice", "lab",
                 request_id="req-0000031")
    status = listing.request_status(irods.session, landing, "req-0000031")
    assert (status.state, status.omero_user, status.images) == (names.RECEIVED, "alice", ())


def test_only_the_asked_users_requests_are_listed(irods, landing):
    for number, user in enumerate(["alice", "bob", "alice"]):
        request_load(irods.session, landing, "/tempZone/home/%s/snap" % user, user, "lab",
                     request_id="req-000004%d" % number)
    listed = listing.list_requests(irods.session, landing, omero_user="alice")
    assert [s.request_id for s in listed] == ["req-0000040", "req-0000042"]


def test_an_unknown_request_is_named(irods, landing):
    with pytest.raises(LookupError, match="no request nope-0000: %s/nope-0000 does not exist" % landing):
        listing.request_status(irods.session, landing, "nope-0000")
