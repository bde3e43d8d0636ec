"""Read requests back from the landing zone: what was asked, and how far the policy got.

A request is the collection `<landing_zone>/<request_id>/`; what was asked is its payload
(`<request_id>.omero-irods.json`), how far it got are the `omero_irods::*` AVUs the policy
records on that payload (names.py: state, error, omero_image...). A collection without a
payload is a push still under way (or one that died before committing).
"""

import posixpath
from collections import namedtuple

from omero_irods import names
from omero_irods.adapters import prc
from omero_irods.errors import Rejected
from omero_irods.payload import parse_payload, payload_name

#: Shown when a request has a collection but no payload yet.
UPLOADING = "uploading"
#: Payloads bigger than this are not read back for listing (the manifest dominates them).
MAX_PAYLOAD_READ = 64 * 1024 * 1024


class RequestStatus(namedtuple("RequestStatus", "request_id collection payload_path operation "
                                                "omero_user omero_group created state error "
                                                "images avus problem")):
    """One request. `avus` maps every omero_irods:: attribute (short name) to its values;
    `problem` says why the payload could not be read (None when it could)."""

    __slots__ = ()

    def to_json(self):
        return {"request_id": self.request_id, "collection": self.collection,
                "payload": self.payload_path, "operation": self.operation,
                "omero_user": self.omero_user, "omero_group": self.omero_group,
                "created": self.created, "state": self.state, "error": self.error,
                "images": list(self.images), "avus": self.avus, "problem": self.problem}


def list_requests(session, landing_zone, omero_user=None):
    """Every request in the landing zone (only `omero_user`'s when given), oldest id first."""
    landing_zone = landing_zone.rstrip("/")
    statuses = (request_status(session, landing_zone, name)
                for name in prc.subcollection_names(session, landing_zone))
    return [s for s in statuses if omero_user is None or s.omero_user == omero_user]


def request_status(session, landing_zone, request_id):
    """The status of one request; LookupError naming the path when it does not exist."""
    collection = posixpath.join(landing_zone.rstrip("/"), request_id)
    if not prc.collection_exists(session, collection):
        raise LookupError("no request %s: %s does not exist (a placed request's record is moved "
                          "next to its data, outside the landing zone)" % (request_id, collection))
    payload_path = posixpath.join(collection, payload_name(request_id))
    if not prc.data_object_exists(session, payload_path):
        return RequestStatus(request_id, collection, None, None, None, None, None, UPLOADING,
                             None, (), {}, "no payload yet: the push has not finished")
    avus = _project_avus(prc.data_object_avus(session, payload_path))
    payload, problem = _read_payload(session, payload_path)

    def first(short):
        return (avus.get(short) or [None])[0]

    return RequestStatus(
        request_id=request_id, collection=collection, payload_path=payload_path,
        operation=payload.operation if payload else first("operation"),
        omero_user=payload.omero_user if payload else first("omero_user"),
        omero_group=payload.omero_group if payload else first("omero_group"),
        created=payload.created if payload else None,
        state=first("state") or names.RECEIVED,
        error=first("error"),
        images=tuple(avus.get(_short(names.AVU_OMERO_IMAGE), ())),
        avus=avus, problem=problem)


def _project_avus(triples):
    """{short name: [values]} of the omero_irods:: AVUs, values in a stable order."""
    found = {}
    for name, value, _units in triples:
        if name.startswith(names.AVU_PREFIX):
            found.setdefault(_short(name), []).append(value)
    return {key: sorted(values, key=_numbers_first) for key, values in sorted(found.items())}


def _numbers_first(value):
    """Image ids in numeric order ('9' before '10'), other values after them, alphabetically."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _short(attribute):
    return attribute[len(names.AVU_PREFIX):]


def _read_payload(session, path):
    try:
        raw = prc.read_data_object(session, path, MAX_PAYLOAD_READ)
        return parse_payload(raw, MAX_PAYLOAD_READ), None
    except Rejected as error:
        return None, "payload unreadable: %s" % error.message
    except Exception as error:
        return None, "payload unreadable: %s" % prc.describe(error)
