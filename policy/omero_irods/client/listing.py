"""Read requests back: what was asked, how far the policy got, and where the data went.

A request starts as the collection `<landing_zone>/<request_id>/`, committed by its payload
`<request_id>.omero-irods.json`. The policy claims it by creating its record
`<records>/<request_id>` in the records collection (omero_irods.records: only the service
account writes there) and keeps every state on that record's AVUs; once the data is placed it
MOVES the payload into the record. So a request is one of:

- uploading: a landing collection without its payload (a push under way, or one that died);
- waiting: its payload in the landing zone and no record yet (not claimed);
- recorded: its record, whose AVUs say the state, the error, where the data went, the images.
  AVUs on payloads and on placed data are never read: users can write those.

Every entry's `created` is when its payload (or, while uploading, its collection) entered
the catalog: server time, the same clock for every request (a payload moved into its record
keeps its creation time).

A listing costs four GenQueries whatever the number of requests (the records with their
AVUs, the payloads moved into them, the landing collections, the landing payloads;
python-irodsclient pages through the rows). A payload is read only while no record says
whose it is (not claimed yet), at most once per listing, and only up to the policy's default
payload limit: every read is an open and a close of a payload in the landing zone, which the
rules must then tell apart from an upload.

The records collection is `/<zone>/home/<service account>/omero-irods-records` unless the
policy config says otherwise: then set $OMERO_IRODS_RECORDS or the key `omero_irods_records`
in the service account's irods_environment.json (as for the landing zone, client/settings.py).
"""

import os
import posixpath
import re
from collections import namedtuple

from omero_irods import names
from omero_irods.adapters import prc
from omero_irods.config import DEFAULTS as POLICY_DEFAULTS
from omero_irods.errors import Rejected
from omero_irods.image_ids import image_ids_in
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
#: The record AVUs a listing reads (not the claims' bookkeeping).
LISTED = (names.AVU_REQUEST_ID, names.AVU_OPERATION, names.AVU_OMERO_USER, names.AVU_OMERO_GROUP,
          names.AVU_STATE, names.AVU_STATE_SINCE, names.AVU_ERROR, names.AVU_DESTINATION,
          names.AVU_IMPORT_ROOT, names.AVU_OMERO_TARGET, names.AVU_OMERO_IMAGE, names.AVU_OMERO_IMAGES,
          names.AVU_REPROCESS,
          names.AVU_PAYLOAD_ID)
RECORDS_ENV = "OMERO_IRODS_RECORDS"
RECORDS_KEY = "omero_irods_records"


class RequestStatus(namedtuple("RequestStatus", "request_id collection payload_path owner operation "
                                                "omero_user omero_group created state error "
                                                "destination images avus problem record",
                               defaults=(None,))):
    """One request.

    `collection`: its landing collection while it is there, else None. `payload_path`: its
    payload, in the landing zone or moved into its record (None while uploading). `record`:
    its record in the records collection (None before the policy claimed it). `destination`: where its data was placed
    (a load: the snapshot it imports). `avus` maps every omero_irods:: attribute (short name) to
    its values; `problem` says what looks wrong (an unreadable payload...), None when nothing.
    """

    __slots__ = ()

    def to_json(self):
        document = self._asdict()
        document["payload"] = document.pop("payload_path")
        document["images"] = list(self.images)
        return document


def records_collection(session, explicit=None):
    """The records collection: `explicit`, $OMERO_IRODS_RECORDS, the environment file's
    `omero_irods_records` (PRC keeps unknown keys on its account), or the default."""
    account = getattr(getattr(session, "pool", None), "account", None)
    chosen = explicit or os.environ.get(RECORDS_ENV) or getattr(account, RECORDS_KEY, None)
    if chosen:
        return chosen.rstrip("/")
    return "/%s/home/%s/%s" % (session.zone, session.username, names.DEFAULT_RECORDS_NAME)


def list_requests(session, landing_zone, omero_user=None, records=None):
    """Every request the session's account can see, newest first; only `omero_user`'s when
    given (then nothing unclaimed that another account wrote, nor an unfinished upload)."""
    landing_zone = landing_zone.rstrip("/")
    where = records_collection(session, records)
    found = _with_payload_times(session, where, prc.child_collection_avus(session, where, LISTED))
    landing_payloads = prc.find_data_objects(session, _ANY_PAYLOAD, parent=landing_zone)
    if omero_user is not None:  # never listed for a user, so never read
        landing_payloads = [p for p in landing_payloads if p.owner == session.username]
    statuses = _statuses(session, landing_zone, prc.child_collections(session, parent=landing_zone),
                         landing_payloads, found, read_unclaimed=True)
    if omero_user is None:
        return statuses
    return [s for s in statuses if s.omero_user == omero_user and s.owner == session.username]


def request_status(session, landing_zone, request_id, records=None):
    """The status of one request; LookupError naming where it was looked for."""
    landing_zone = landing_zone.rstrip("/")
    collection = posixpath.join(landing_zone, request_id)
    if not REQUEST_ID.match(request_id):
        raise LookupError("no request %r: a request id is a letter or digit, then 7 to 127 "
                          "letters, digits, '.', '_' or '-'" % (request_id,))
    where = records_collection(session, records)
    record = posixpath.join(where, request_id)
    found = _with_payload_times(session, where, prc.child_collection_avus(session, where, LISTED, path=record),
                                collection=record)
    collections = prc.child_collections(session, path=collection)
    payloads = prc.find_data_objects(session, payload_name(request_id), collection=collection) \
        if collections else []
    for status in _statuses(session, landing_zone, collections, payloads, found, read_unclaimed=True):
        if status.request_id == request_id:
            return status
    raise LookupError("no request %s: %s does not exist and there is no record %s"
                      % (request_id, collection, record))


def snapshot_of(session, landing_zone, request_id, omero_user, records=None):
    """The iRODS path of the snapshot a save request placed for `omero_user`.

    LookupError says why not: no such save for this user (another user's request is reported
    as unknown, never described), or its snapshot is not in place (yet)."""
    try:
        status = request_status(session, landing_zone, request_id, records)
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


def _statuses(session, landing_zone, collections, payloads, found, read_unclaimed):
    """One RequestStatus per request id, newest first, from landing collections [(path,
    created)], the payload objects found in them, and the records {path: FoundCollection}."""
    expected = {posixpath.join(path, payload_name(posixpath.basename(path))): (path, created)
                for path, created in collections}
    committed = {entry.path: entry for entry in payloads if entry.path in expected}
    by_id = {posixpath.basename(path): entry for path, entry in found.items()}
    statuses = []
    for payload_path, (collection, created) in sorted(expected.items()):
        request_id = posixpath.basename(collection)
        payload = committed.get(payload_path)
        record = by_id.pop(request_id, None)
        if record is not None:
            statuses.append(_from_record(record, collection, payload))
        elif payload is None:
            statuses.append(_uploading(collection, created))
        else:
            statuses.append(_unclaimed(session, payload, collection, read_unclaimed))
    statuses.extend(_from_record(record, None, None) for record in by_id.values())
    return sorted(statuses, key=lambda s: (s.created or "", s.request_id), reverse=True)


def _with_payload_times(session, where, found, collection=None):
    """The records, each `created` when its payload was (the payloads moved into records keep
    their creation time; one query): the same clock as for requests still in the landing zone."""
    moved = prc.find_data_objects(session, _ANY_PAYLOAD, collection=collection,
                                  parent=None if collection else where)
    created = {posixpath.dirname(entry.path): entry.created for entry in moved}
    return {path: record._replace(created=created.get(path, record.created)) for path, record in found.items()}


def _uploading(collection, created):
    return RequestStatus(posixpath.basename(collection), collection, None, None, None, None, None,
                         _iso(created), UPLOADING, None, None, (), {},
                         "no payload yet: the push has not finished")


def _unclaimed(session, found, collection, read_payload):
    """A payload in the landing zone that no record claimed yet: who and what it is for are
    only in the payload itself."""
    payload = problem = None
    if read_payload:
        payload, problem = _read_payload(session, found)
    return RequestStatus(
        request_id=posixpath.basename(collection), collection=collection, payload_path=found.path,
        owner=found.owner, operation=payload.operation if payload else None,
        omero_user=payload.omero_user if payload else None,
        omero_group=payload.omero_group if payload else None,
        created=_iso(found.created), state=names.RECEIVED, error=None, destination=None, images=(),
        avus={}, problem=problem)


def _from_record(record, collection, landing_payload):
    """A request from its record; `landing_payload` is what its landing collection holds."""
    avus = _project_avus(record.avus)

    def first(short):
        return (avus.get(short) or [None])[0]

    request_id = posixpath.basename(record.path)
    payload_path = posixpath.join(record.path, payload_name(request_id))
    problem, created = None, record.created
    if landing_payload is not None:
        if str(landing_payload.id) == first("payload_id"):
            payload_path, created = landing_payload.path, landing_payload.created
        else:
            problem = ("%s was refused: request id %s already belongs to another payload; push again "
                       "under a new request id" % (landing_payload.path, request_id))
    return RequestStatus(
        request_id=request_id, collection=collection, payload_path=payload_path, owner=record.owner,
        operation=first("operation"), omero_user=first("omero_user"), omero_group=first("omero_group"),
        created=_iso(created), state=first("state") or names.RECEIVED, error=first("error"),
        destination=first("destination") or first("import_root"),
        images=tuple(str(image) for image in image_ids_in(avus.get(_short(names.AVU_OMERO_IMAGES), ()),
                                                          avus.get(_short(names.AVU_OMERO_IMAGE), ()))),
        avus=avus, problem=problem,
        record=record.path)


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


def mark_for_reprocess(session, landing_zone, request_id, records=None):
    """Ask for another attempt at a failed request, as the service account: the mark goes on
    the request's record (where only the service account and admins may write) and its
    watcher (a delayed rule, see omero_irods/watch.py) queues the next attempt.
    Returns (status, marked_now): marked_now is False when the mark was already there (the
    watcher has not taken it yet), which is as good. LookupError for an unknown id,
    ValueError for a request that is not `failed`."""
    status = request_status(session, landing_zone, request_id, records)
    if status.record is None or status.state != names.FAILED:
        state = status.state if status.record is not None else "not claimed yet"
        advice = "push it again with the input fixed" if status.state == names.REJECTED else "nothing to do"
        raise ValueError("request %s is %s, not failed: %s" % (request_id, state, advice))
    if _short(names.AVU_REPROCESS) in status.avus:
        return status, False
    try:
        prc.add_collection_avu(session, status.record, names.AVU_REPROCESS, "requested")
    except Exception as error:
        if prc.is_already_exists(error):  # marked meanwhile (CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME)
            return status, False
        raise
    return status, True
