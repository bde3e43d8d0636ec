"""What the admin rules answer (`irule` -> omero_irods_status / _list / _reprocess).

Requests are read from their records in the records collection (omero_irods.records), the
only place the pipeline keeps what drives it: the answers come from the catalog alone, and a
list costs one GenQuery whatever the number of requests.
"""

from omero_irods import names, records, states, watch
from omero_irods.image_ids import image_ids_in, ranges_of

DEFAULT_LIST_LENGTH = 20
#: What a list shows of each record (not the claims' bookkeeping).
LISTED = (names.AVU_REQUEST_ID, names.AVU_OPERATION, names.AVU_OMERO_USER, names.AVU_OMERO_GROUP,
          names.AVU_STATE, names.AVU_STATE_SINCE, names.AVU_ERROR, names.AVU_DESTINATION,
          names.AVU_IMPORT_ROOT, names.AVU_OMERO_IMAGE, names.AVU_OMERO_IMAGES, names.AVU_REPROCESS)


def status(zone, zone_config, request_id):
    record = _record_of(zone, zone_config, request_id)
    if record is None:
        return {"request_id": request_id, "error": "no such request"}
    return describe(record, zone.avus(record))


def describe(record, avus):
    """A request as the admin (and `omero-irods status`) sees it."""
    values = {}
    for attribute, value, _units in avus:
        if attribute.startswith(names.AVU_PREFIX):
            values.setdefault(attribute[len(names.AVU_PREFIX):], []).append(value)
    plural = ("omero_image", "omero_images", "omero_image_count", "linked_root")
    single = {key: found[-1] for key, found in values.items() if key not in plural}
    single["record"] = record
    # ranges of ids ('101-180,185'), and the ids older versions recorded one per AVU
    ids = image_ids_in(values.get("omero_images", []), values.get("omero_image", []))
    single["omero_images"] = ranges_of(ids)
    single["omero_image_count"] = len(ids)
    return single


def list_requests(zone, zone_config, how_many):
    found = zone.record_avus(zone_config.records, LISTED)
    described = [describe(record, avus) for record, avus in found.items()]
    described.sort(key=lambda request: request.get("request_id", ""), reverse=True)
    return described[:how_many]


def reprocess(zone, config, zone_config, request_id):
    """Mark a failed request (or one in progress whose rule was lost) for another attempt.

    irule runs as a rodsadmin, and a delayed rule runs as whoever scheduled it: scheduled
    from here it would run as the admin, who has no rights on the users' data (no bypass
    outside admin mode). So the admin only marks the request's record (admin-mode metadata,
    in the records collection only admins and the service account may write), and a delayed
    rule of the service account's acts on the mark: a failed request's watcher, or the zone's
    sweep once a request in progress has been idle long enough (omero_irods.watch).
    Marking twice is answered, not refused: the mark is there once.
    """
    record = _record_of(zone, zone_config, request_id)
    if record is None:
        return {"request_id": request_id, "error": "no such request"}
    request = describe(record, zone.avus(record))
    decision = states.may_process(request.get("state"), "reprocess")
    if not decision.allowed:
        return {"request_id": request_id, "error": "not reprocessed: %s" % decision.reason}
    answer = {"request_id": request_id, "record": record, "reprocess": "requested"}
    if "reprocess" in request:
        answer["reprocess"] = "already requested"
    else:
        zone.add_avus(record, [(names.AVU_REPROCESS, "requested", "")], admin_mode=True)
    if request.get("state") == names.FAILED:
        answer["picked_up_within_seconds"] = config.retry.reprocess_poll_seconds
    else:
        answer["picked_up_by_the_sweep_once_idle_for_seconds"] = watch.idle_limit(config, request.get("state"))
    return answer


def _record_of(zone, zone_config, request_id):
    record = records.record_path(zone_config.records, request_id)
    if records.request_id_of(zone_config.records, record) != request_id or zone.kind(record) != "collection":
        return None
    return record
