"""list/status after the REAL rules ran: requests are read from their records by GenQuery.

The policy keeps each request's state on its record `<records>/<request_id>` and moves a
placed request's payload into it (policy/omero_irods/records.py), so the landing zone alone no
longer shows it; the listing reads every record's AVUs in one query with python-irodsclient's
Query (irods/query.py), answered by the sandbox as rsGenQuery does (irods/irods
plugins/database/src/general_query.cpp, including its read access check for non-admins).
"""

import json
import types

import pytest

pytest.importorskip("irods.query")

from omero_irods.image_ids import image_ids_in
from omero_irods import names  # noqa: E402
from omero_irods.client import listing, omero_actions  # noqa: E402
from omero_irods.payload import parse_payload  # noqa: E402
from omero_irods_sandbox import scenario as scenario_module  # noqa: E402
from omero_irods_sandbox.prc_session import SandboxSession  # noqa: E402

SERVICE = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"
ALICE_INGEST = "20260101T000100Z-aliceing"
ALICE_SAVE = "20260101T000200Z-alicesav"
BOB_INGEST = "20260101T000300Z-bobingst"
CAROL_INGEST = "20260101T000400Z-carolreq"  # carol has no iRODS account: rejected
UPLOADING = "20260101T000500Z-halfdone"


def _push(request_id, user, operation="ingest"):
    return {"push": {"as": SERVICE, "dir": "run1", "operation": operation, "omero_user": user,
                     "omero_group": "lab", "target_name": request_id[-8:], "request_id": request_id}}


def _zone(folder):
    """A zone where the real rules placed (and imported) alice's and bob's requests, rejected
    carol's, and one push never committed its payload."""
    (folder / "run1").mkdir()
    (folder / "run1" / "a.tif").write_bytes(b"pixels" * 50)
    (folder / "user_map.json").write_text(json.dumps({
        "schema": "omero-irods/user-map", "version": 1,
        "users": {"alice": "alice", "bob": "bob"}, "groups": {"lab": "lab"}}))
    minute = {"advance_clock": "60s"}
    steps = [_push(ALICE_INGEST, "alice"), minute, _push(ALICE_SAVE, "alice", "save"), minute,
             _push(BOB_INGEST, "bob"), minute, _push(CAROL_INGEST, "carol"), minute,
             {"mkdir": {"as": SERVICE, "path": "%s/%s" % (LANDING, UPLOADING)}},
             {"run_delay_queue": {"until_idle": True}}]
    data = {
        "zone": "tempZone",
        "config": {"schema": "omero-irods/config", "version": 1, "zones": {"tempZone": {
            "service_account": SERVICE, "landing_zone": LANDING, "allowed_roots": ["/tempZone/home"],
            "user_map": {"file": "user_map.json"}}}},
        "users": [{"name": SERVICE}, {"name": "alice", "groups": ["lab"]},
                  {"name": "bob", "groups": ["lab"]}],
        "provision": ["alice", "bob"],
        "omero": {"import": "succeed"},
        "steps": steps,
    }
    (folder / "scenario.json").write_text(json.dumps(data))
    run = scenario_module._ZoneRun(scenario_module.load(str(folder / "scenario.json")),
                                   scenario_module.rules_dir(None), str(folder / "work"))
    run.execute()
    assert not run.unexpected, run.unexpected
    return run


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    run = _zone(tmp_path_factory.mktemp("placed"))
    return run, SandboxSession(run.server, SERVICE)


def _by_id(statuses):
    return {status.request_id: status for status in statuses}


def test_placed_and_imported_requests_are_listed_with_state_destination_and_images(placed):
    run, session = placed
    listed = _by_id(listing.list_requests(session, LANDING, omero_user="alice"))
    assert sorted(listed) == [ALICE_INGEST, ALICE_SAVE]
    ingest, save = listed[ALICE_INGEST], listed[ALICE_SAVE]
    imported = run.zone.avus(SERVICE, ingest.destination)
    image_ids = [str(image) for image in image_ids_in(avu.value for avu in imported
                                                      if avu.attribute == names.AVU_OMERO_IMAGES)]
    assert (ingest.state, ingest.operation, ingest.omero_group) == (names.IMPORTED, "ingest", "lab")
    assert ingest.destination.startswith("/tempZone/home/alice/omero/ingest/")
    assert ingest.record == "/tempZone/home/omero-svc/omero-irods-records/" + ALICE_INGEST
    assert ingest.payload_path == "%s/%s%s" % (ingest.record, ALICE_INGEST, names.PAYLOAD_SUFFIX)
    assert ingest.collection is None
    assert image_ids and list(ingest.images) == image_ids
    assert (save.state, save.operation, save.images) == (names.PLACED, "save", ())
    assert save.destination.startswith("/tempZone/home/alice/omero/save/")
    assert run.zone.collection(save.destination) is not None


def test_a_user_never_sees_another_users_requests(placed):
    _run, session = placed
    assert [s.request_id for s in listing.list_requests(session, LANDING, omero_user="bob")] == [BOB_INGEST]
    assert listing.list_requests(session, LANDING, omero_user="dave") == []


def test_a_rejected_request_shows_its_error_to_its_user(placed):
    _run, session = placed
    (rejected,) = listing.list_requests(session, LANDING, omero_user="carol")
    assert (rejected.request_id, rejected.state) == (CAROL_INGEST, names.REJECTED)
    assert "OMERO user 'carol' has no iRODS account" in rejected.error
    assert rejected.collection == "%s/%s" % (LANDING, CAROL_INGEST) and rejected.destination is None


def test_the_service_account_lists_everything_newest_first_one_entry_per_request(placed):
    _run, session = placed
    listed = listing.list_requests(session, LANDING)
    assert [s.request_id for s in listed] == [UPLOADING, CAROL_INGEST, BOB_INGEST, ALICE_SAVE, ALICE_INGEST]
    assert [s.state for s in listed][:2] == [listing.UPLOADING, names.REJECTED]
    assert listed[0].created > listed[-1].created


def test_status_finds_a_placed_request_by_its_id(placed):
    _run, session = placed
    status = listing.request_status(session, LANDING, ALICE_INGEST)
    assert (status.state, status.omero_user) == (names.IMPORTED, "alice")
    assert status.avus["request_id"] == [ALICE_INGEST] and status.avus["destination"] == [status.destination]
    with pytest.raises(LookupError, match="no request 20260101T000900Z-nothere0: %s/20260101T000900Z-"
                                          "nothere0 does not exist and there is no record" % LANDING):
        listing.request_status(session, LANDING, "20260101T000900Z-nothere0")
    with pytest.raises(LookupError, match="a request id is a letter or digit"):
        listing.request_status(session, LANDING, "../../alice")


def test_an_object_dressed_up_as_a_record_by_someone_else_is_not_listed(tmp_path):
    run = _zone(tmp_path)
    forged = "/tempZone/home/bob/forged" + names.PAYLOAD_SUFFIX
    run.zone.put("bob", forged, b"{}")
    for attribute, value in ((names.AVU_REQUEST_ID, "20260101T000600Z-forgedid"),
                             (names.AVU_OMERO_USER, "alice"), (names.AVU_STATE, names.IMPORTED)):
        run.zone.add_avu("bob", forged, attribute, value)
    run.zone.set_acl("bob", "/tempZone/home/bob", "read", SERVICE)
    run.zone.set_acl("bob", forged, "read", SERVICE)
    session = SandboxSession(run.server, SERVICE)
    listed = [s.request_id for s in listing.list_requests(session, LANDING, omero_user="alice")]
    assert listed == [ALICE_SAVE, ALICE_INGEST]
    with pytest.raises(LookupError):
        listing.request_status(session, LANDING, "20260101T000600Z-forgedid")


class _Conn(object):
    """The two BlitzGateway calls request_load makes: the session's user, no host."""

    def __init__(self, user):
        self.c = None
        self._context = types.SimpleNamespace(userName=user, groupName="lab")

    def getEventContext(self):
        return self._context


def test_load_accepts_the_request_id_of_ones_own_save(tmp_path):
    run = _zone(tmp_path)
    session = SandboxSession(run.server, SERVICE)
    snapshot = listing.request_status(session, LANDING, ALICE_SAVE).destination
    message, result = omero_actions.request_load(_Conn("alice"), ALICE_SAVE, open_session=lambda: session)
    payload = parse_payload(run.zone.read_bytes(SERVICE, result.payload_path), 1 << 20)
    assert payload.source_path == snapshot and payload.omero_user == "alice"
    assert message.startswith("Load of %s requested as request %s" % (snapshot, result.request_id))


NOT_A_SAVE = "request %s (operation ingest) is not a save: only a save's snapshot can be loaded"


@pytest.mark.parametrize("user, request_id, why", [
    ("bob", ALICE_SAVE, "no request %s for OMERO user bob (see 'iRODS List' for yours)" % ALICE_SAVE),
    ("alice", ALICE_INGEST, NOT_A_SAVE % ALICE_INGEST),
    ("carol", CAROL_INGEST, NOT_A_SAVE % CAROL_INGEST),
    ("alice", "Dataset-3", "no request Dataset-3 for OMERO user alice (see 'iRODS List' for yours)"),
])
def test_load_by_id_refuses_what_is_not_ones_own_placed_save(placed, user, request_id, why):
    run, session = placed
    before = sorted(d.path for d in run.zone.data_objects())
    with pytest.raises(omero_actions.ActionError) as raised:
        omero_actions.request_load(_Conn(user), request_id, open_session=lambda: session)
    assert str(raised.value) == ("%s is neither a snapshot's full iRODS path (starting with /) nor "
                                 "the request id of one of your saves: %s" % (request_id, why))
    assert sorted(d.path for d in run.zone.data_objects()) == before  # nothing was sent
