"""Reading requests back: state from the policy's records (never from AVUs on payloads, which
whoever may write in the landing zone can set), what was asked from the payload while the
policy has not claimed it yet. (Placed requests, after the real rules ran:
test_client_listing_placed.py.)"""

import pytest

from omero_irods import names
from omero_irods.client import listing
from omero_irods.client.push import push, request_load
from omero_irods_sandbox.prc_session import SandboxSession


def test_a_broken_payload_is_reported_not_fatal(irods, landing):
    collection = landing + "/req-0000030"
    irods.session.collections.create(collection, recurse=False)
    path = collection + "/req-0000030" + names.PAYLOAD_SUFFIX
    with irods.session.data_objects.open(path, "w") as handle:
        handle.write(b'{"truncated": ')
    status = listing.request_status(irods.session, landing, "req-0000030")
    assert status.problem.startswith("payload unreadable: payload is not valid JSON")
    irods.record("req-0000030", [(names.AVU_STATE, names.REJECTED), (names.AVU_ERROR, "not JSON")], payload=path)
    status = listing.request_status(irods.session, landing, "req-0000030")
    assert (status.state, status.error, status.operation) == ("rejected", "not JSON", None)
    assert status.payload_path == path and status.problem is None


def test_state_avus_on_a_payload_are_not_believed(irods, landing):
    result = request_load(irods.session, landing, "/tempZone/home/alice/snap", "alice", "lab",
                          request_id="req-0000032")
    irods.set_avus(result.payload_path, [(names.AVU_STATE, names.IMPORTED), (names.AVU_OMERO_USER, "bob"),
                                         (names.AVU_ERROR, "forged")])
    status = listing.request_status(irods.session, landing, "req-0000032")
    assert (status.state, status.omero_user, status.error) == (names.RECEIVED, "alice", None)
    assert listing.list_requests(irods.session, landing, omero_user="bob") == []


def test_without_state_avus_a_committed_request_is_received(irods, landing):
    request_load(irods.session, landing, "/tempZone/home/alice/snap", "alice", "lab",
                 request_id="req-0000031")
    status = listing.request_status(irods.session, landing, "req-0000031")
    assert (status.state, status.omero_user, status.images) == (names.RECEIVED, "alice", ())


def test_only_the_asked_users_requests_are_listed_newest_first(irods, landing):
    for number, user in enumerate(["alice", "bob", "alice", "alice"]):
        request_load(irods.session, landing, "/tempZone/home/%s/snap" % user, user, "lab",
                     request_id="req-000004%d" % number)
        irods.zone.clock.advance(60 if number < 2 else 0)
    listed = listing.list_requests(irods.session, landing, omero_user="alice")
    # committed at 00:00, 00:02, 00:02: newest first, then the larger (later) id first
    assert [(s.request_id, s.created) for s in listed] == [
        ("req-0000043", "2026-01-01T00:02:00Z"), ("req-0000042", "2026-01-01T00:02:00Z"),
        ("req-0000040", "2026-01-01T00:00:00Z")]


def test_a_payload_another_account_wrote_is_listed_but_never_as_a_users_request(irods, landing):
    irods.zone.add_user("mallory")
    irods.zone.set_acl("omero-svc", landing, "own", "mallory")
    intruder = SandboxSession(irods.server, "mallory")
    result = request_load(intruder, landing, "/tempZone/home/alice/snap", "alice", "lab",
                          request_id="req-0000050")
    for path in (landing + "/req-0000050", result.payload_path):  # so the service account sees it
        irods.zone.set_acl("mallory", path, "read", "omero-svc")
    everything = listing.list_requests(irods.session, landing)
    assert [(s.request_id, s.owner) for s in everything] == [("req-0000050", "mallory")]
    assert listing.list_requests(irods.session, landing, omero_user="alice") == []


def test_an_upload_without_payload_is_uploading_and_nobodys(irods, landing):
    irods.session.collections.create(landing + "/req-0000060", recurse=False)
    (status,) = listing.list_requests(irods.session, landing)
    assert (status.request_id, status.state, status.payload_path) == ("req-0000060", listing.UPLOADING, None)
    assert listing.list_requests(irods.session, landing, omero_user="alice") == []


def test_an_unknown_request_is_named(irods, landing):
    with pytest.raises(LookupError, match="no request nope-0000: %s/nope-0000 does not exist and there "
                                          "is no record /tempZone/home/omero-svc/omero-irods-records/nope-0000"
                                          % landing):
        listing.request_status(irods.session, landing, "nope-0000")


def test_a_save_not_placed_yet_cannot_be_loaded_by_its_id(irods, landing, run_dir):
    push(irods.session, landing, str(run_dir), "save", "alice", "lab", request_id="req-0000070")
    with pytest.raises(LookupError, match="request req-0000070 is received: its snapshot is not in "
                                          "place yet"):
        listing.snapshot_of(irods.session, landing, "req-0000070", "alice")
    irods.record("req-0000070", [(names.AVU_STATE, names.FAILED), (names.AVU_ERROR, "attempt 3: resource down"),
                                 (names.AVU_OPERATION, names.SAVE), (names.AVU_OMERO_USER, "alice")],
                 payload=landing + "/req-0000070/req-0000070" + names.PAYLOAD_SUFFIX)
    with pytest.raises(LookupError, match=r"request req-0000070 is failed: its snapshot is not in "
                                          r"place \(attempt 3: resource down\)"):
        listing.snapshot_of(irods.session, landing, "req-0000070", "alice")


def _queries_of_a_listing(irods, landing, monkeypatch, count):
    from omero_irods_sandbox.prep import genquery_engine

    for number in range(count):
        result = request_load(irods.session, landing, "/tempZone/home/alice/snap", "alice", "lab",
                              request_id="req-%07d" % (100 + number))
        irods.record("req-%07d" % (100 + number), [(names.AVU_STATE, names.IMPORTED), (names.AVU_OPERATION, "load"),
                                                   (names.AVU_OMERO_USER, "alice"), (names.AVU_OMERO_GROUP, "lab"),
                                                   (names.AVU_OMERO_IMAGE, str(number))],
                     payload=result.payload_path)
    seen = []
    execute = genquery_engine.execute

    def counting(zone, user, query, options=0):
        seen.append(query)
        return execute(zone, user, query, options)
    monkeypatch.setattr(genquery_engine, "execute", counting)
    listed = listing.list_requests(irods.session, landing, omero_user="alice")
    assert len(listed) == count and all(status.state == names.IMPORTED for status in listed)
    return len(seen)


def test_a_listing_costs_the_same_few_queries_for_one_request_or_forty(irods, landing, monkeypatch, tmp_path):
    one = _queries_of_a_listing(irods, landing, monkeypatch, 1)
    from sandbox_irods import SandboxIrods

    (tmp_path / "many").mkdir()
    forty = _queries_of_a_listing(SandboxIrods(tmp_path / "many"), landing, monkeypatch, 40)
    # the records' AVUs, the payloads moved into records, the landing collections and payloads
    # (python-irodsclient pages through more rows: a query per page, never per request)
    assert one == forty == 4
