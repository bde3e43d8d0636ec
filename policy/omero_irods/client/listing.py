"""Read requests back: what was asked, how far the policy got, and where the data went.

A request starts as the collection `<landing_zone>/<request_id>/`, committed by its payload
`<request_id>.omero-irods.json`; the policy records its progress as `omero_irods::*` AVUs on
that payload (names.py) and, once the data is placed, MOVES the payload next to the data as its
record `<destination>.omero-irods.json` (pipeline._finish_placement). So a request is one of:

- uploading: a landing collection without its payload (a push under way, or one that died);
- in the landing zone: its payload and the AVUs so far (received, validated, rejected, failed);
- placed: its record, found by GenQuery as a data object named *.omero-irods.json carrying
  `omero_irods::request_id`, owned by the listing (service) account. Only that account commits
  payloads (the policy rejects any other owner) and nobody else may add AVUs to what it owns,
  so an object someone else dressed up as a record is never listed.

Every entry's `created` is when its payload (or, while uploading, its collection) entered the
catalog: server time, the same clock for every request.

A listing is built from GenQuery answers (collections, payloads, AVUs). A payload is read
only when its AVUs do not say whose it is (not claimed yet, or rejected before the policy
recorded its user), at most once per listing, and only up to the policy's default payload
limit: every read is an open and a close of a payload in the landing zone, which the rules
must then tell apart from an upload.
"""

import posixpath
import re
from collections import namedtuple

from omero_irods import names
from omero_irods.adapters import prc
from omero_irods.config import DEFAULTS as POLICY_DEFAULTS
from omero_irods.errors import Rejected
from omero_irods.payload import parse_payload, payload_name

#: Shown when a request has a collection but no payload yet.
UPLOADING = "uploading"
#: Payloads bigger than this are not read back for listing: the policy's default limit
#: (config.py DEFAULTS limits.payload_bytes), above which it rejects a payload unread.
MAX_PAYLOAD_READ = POLICY_DEFAULTS["limits"]["payload_bytes"]
#: States in which a save's snapshot is in place (names.py).
SNAPSHOT_READY = (names.PLACED, names.IMPORT_QUEUED, names.IMPORTED)
#: schemas/payload.v1.schema.json $defs/request_id.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,127}\Z")
_ANY_PAYLOAD = "%" + names.PAYLOAD_SUFFIX
_OUR_AVUS = names.AVU_PREFIX + "%"


class RequestStatus(namedtuple("RequestStatus", "request_id collection payload_path owner operation "
                                                "omero_user omero_group created state error "
                                                "destination images avus problem")):
    """One request.

    `collection`: its landing collection while it is there, else None. `payload_path`: its
    payload or placed record (None while uploading). `destination`: where its data was placed
    (a load: the snapshot it imports). `avus` maps every omero_irods:: attribute (short name) to
    its values; `problem` says what looks wrong (an unreadable payload...), None when nothing.
    """

    __slots__ = ()

    def to_json(self):
        document = self._asdict()
        document["payload"] = document.pop("payload_path")
        document["images"] = list(self.images)
        return document


def list_requests(session, landing_zone, omero_user=None):
    """Every request the session's account can see, newest first; only `omero_user`'s when
    given (then nothing whose payload another account wrote, nor an unfinished upload)."""
    landing_zone = landing_zone.rstrip("/")
    records = prc.find_data_objects(
        session, _ANY_PAYLOAD, owner=session.username,
        attribute=names.AVU_OMERO_USER if omero_user else names.AVU_REQUEST_ID, value=omero_user)
    landing_payloads = prc.find_data_objects(session, _ANY_PAYLOAD, parent=landing_zone)
    if omero_user is not None:  # never listed for a user, so never read
        landing_payloads = [p for p in landing_payloads if p.owner == session.username]
    statuses = _statuses(session, landing_zone, prc.child_collections(session, parent=landing_zone),
                         landing_payloads, records)
    if omero_user is None:
        return statuses
    return [s for s in statuses if s.omero_user == omero_user and s.owner == session.username]


def request_status(session, landing_zone, request_id):
    """The status of one request; LookupError naming where it was looked for."""
    landing_zone = landing_zone.rstrip("/")
    collection = posixpath.join(landing_zone, request_id)
    if not REQUEST_ID.match(request_id):
        raise LookupError("no request %r: a request id is a letter or digit, then 7 to 127 "
                          "letters, digits, '.', '_' or '-'" % (request_id,))
    collections = prc.child_collections(session, path=collection)
    payloads = prc.find_data_objects(session, payload_name(request_id), collection=collection) \
        if collections else []
    records = prc.find_data_objects(session, _ANY_PAYLOAD, owner=session.username,
                                    attribute=names.AVU_REQUEST_ID, value=request_id)
    for status in _statuses(session, landing_zone, collections, payloads, records):
        if status.request_id == request_id:
            return status
    raise LookupError("no request %s: %s does not exist and no placed record (a data object "
                      "owned by %s carrying %s = %s) was found"
                      % (request_id, collection, session.username, names.AVU_REQUEST_ID, request_id))


def snapshot_of(session, landing_zone, request_id, omero_user):
    """The iRODS path of the snapshot a save request placed for `omero_user`.

    LookupError says why not: no such save for this user (another user's request is reported
    as unknown, never described), or its snapshot is not in place (yet)."""
    try:
        status = request_status(session, landing_zone, request_id)
    except LookupError:
        status = None
    if status is None or status.omero_user != omero_user or status.owner != session.username:
        raise LookupError("no request %s for OMERO user %s (see 'iRODS List' for yours)"
                          % (request_id, omero_user))
    if status.operation != names.SAVE:
        raise LookupError("request %s (operation %s) is not a save: only a save's snapshot can "
                          "be loaded" % (request_id, status.operation or "unknown"))
    if status.state not in SNAPSHOT_READY or not status.destination:
        raise LookupError("request %s is %s: its snapshot is not in place%s" % (
            request_id, status.state, " (%s)" % status.error if status.error else " yet"))
    return status.destination


# ---------------------------------------------------------------- assembling statuses


def _statuses(session, landing_zone, collections, payloads, records):
    """One RequestStatus per request id, newest first, from landing collections [(path,
    created)], the payload objects found in them, and the records found by their AVUs."""
    expected = {posixpath.join(path, payload_name(posixpath.basename(path))): (path, created)
                for path, created in collections}
    committed = {found.path: found for found in payloads if found.path in expected}
    placed = [found for found in records if not found.path.startswith(landing_zone + "/")]
    avus = prc.avus_by_data_object(session, [f.id for f in list(committed.values()) + placed], _OUR_AVUS)
    statuses = []
    for payload_path, (collection, created) in sorted(expected.items()):
        found = committed.get(payload_path)
        if found is None:
            statuses.append(_uploading(collection, created))
        else:
            statuses.append(_from_payload(session, found, avus[found.id], collection))
    for found in placed:
        status = _from_payload(session, found, avus[found.id], None)
        if status.request_id:
            statuses.append(status)
    return sorted(_one_per_request(statuses), key=lambda s: (s.created or "", s.request_id), reverse=True)


def _uploading(collection, created):
    return RequestStatus(posixpath.basename(collection), collection, None, None, None, None, None,
                         _iso(created), UPLOADING, None, None, (), {},
                         "no payload yet: the push has not finished")


def _from_payload(session, found, avu_pairs, collection):
    """A request from its payload (in `collection`) or placed record (`collection` None)."""
    avus = _project_avus(avu_pairs)

    def first(short):
        return (avus.get(short) or [None])[0]

    payload = problem = None
    if collection is not None and first("omero_user") is None:
        # not validated yet: who and what it is for are only in the payload itself
        payload, problem = _read_payload(session, found)
    return RequestStatus(
        request_id=posixpath.basename(collection) if collection else first("request_id"),
        collection=collection, payload_path=found.path, owner=found.owner,
        operation=first("operation") or (payload.operation if payload else None),
        omero_user=first("omero_user") or (payload.omero_user if payload else None),
        omero_group=first("omero_group") or (payload.omero_group if payload else None),
        created=_iso(found.created), state=first("state") or names.RECEIVED, error=first("error"),
        destination=first("destination") or first("import_root"),
        images=tuple(avus.get(_short(names.AVU_OMERO_IMAGE), ())), avus=avus, problem=problem)


def _one_per_request(statuses):
    """A placed record beats a landing payload, which beats an unfinished upload; another
    payload under the same request id is named in the survivor's `problem`."""
    by_id = {}
    for status in statuses:
        by_id.setdefault(status.request_id, []).append(status)
    chosen = []
    for candidates in by_id.values():
        candidates.sort(key=lambda s: (s.payload_path is not None, s.collection is None), reverse=True)
        best, others = candidates[0], [c.payload_path for c in candidates[1:] if c.payload_path]
        if others:
            note = "request id %s is also used by %s" % (best.request_id, ", ".join(others))
            best = best._replace(problem="; ".join(p for p in (best.problem, note) if p))
        chosen.append(best)
    return chosen


def _iso(moment):
    """A catalog time (datetime, UTC) as '2026-11-22T10:15:00Z'."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _project_avus(pairs):
    """{short name: [values]} of the omero_irods:: AVUs, values in a stable order."""
    found = {}
    for name, value in pairs:
        if name.startswith(names.AVU_PREFIX):
            found.setdefault(_short(name), []).append(value)
    return {key: sorted(values, key=_numbers_first) for key, values in sorted(found.items())}


def _numbers_first(value):
    """Image ids in numeric order ('9' before '10'), other values after them, alphabetically."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _short(attribute):
    return attribute[len(names.AVU_PREFIX):]


def _read_payload(session, found):
    if found.size > MAX_PAYLOAD_READ:
        return None, "payload not read: %d bytes, more than the %d a listing reads" % (
            found.size, MAX_PAYLOAD_READ)
    try:
        raw = prc.read_data_object(session, found.path, MAX_PAYLOAD_READ)
        return parse_payload(raw, MAX_PAYLOAD_READ), None
    except Rejected as error:
        return None, "payload unreadable: %s" % error.message
    except Exception as error:
        return None, "payload unreadable: %s" % prc.describe(error)


def mark_for_reprocess(session, landing_zone, request_id):
    """Ask for another attempt at a failed request, as the service account: its watcher (a
    delayed rule, see omero_irods/watch.py) sees the mark and queues the next attempt.
    Returns (status, marked_now): marked_now is False when the mark was already there (the
    watcher has not taken it yet), which is as good. LookupError for an unknown id,
    ValueError for a request that is not `failed`."""
    status = request_status(session, landing_zone, request_id)
    if status.state != names.FAILED:
        advice = "push it again with the input fixed" if status.state == names.REJECTED else "nothing to do"
        raise ValueError("request %s is %s, not failed: %s" % (request_id, status.state, advice))
    if _short(names.AVU_REPROCESS) in status.avus:
        return status, False
    try:
        prc.add_data_object_avu(session, status.payload_path, names.AVU_REPROCESS, "requested")
    except Exception as error:
        if prc.is_already_exists(error):  # marked meanwhile (CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME)
            return status, False
        raise
    return status, True
