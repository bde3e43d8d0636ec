"""What the admin rules answer (`irule` -> omero_irods_status / _list / _reprocess).

Requests are found through the AVUs the pipeline writes on payload objects, so the
answers come from the catalog alone: no state is kept anywhere else.
"""

from omero_irods import names, states, watch

DEFAULT_LIST_LENGTH = 20


def run(zone, config, which, args):
    """The JSON-able answer of one admin rule."""
    if which == "status":
        return status(zone, _required(args, "a request id"))
    if which == "list":
        return list_requests(zone, int(args[0]) if args and args[0] else DEFAULT_LIST_LENGTH)
    if which == "reprocess":
        return reprocess(zone, config, _required(args, "a request id"))
    raise ValueError("unknown admin rule %r" % which)


def status(zone, request_id):
    path = _payload_of(zone, request_id)
    if path is None:
        return {"request_id": request_id, "error": "no such request"}
    return describe(zone, path)


def describe(zone, payload_path):
    """A request as the admin (and `omero-irods status`) sees it."""
    avus = zone.avus(payload_path)
    values = {}
    for attribute, value, _units in avus:
        if attribute.startswith(names.AVU_PREFIX):
            values.setdefault(attribute[len(names.AVU_PREFIX):], []).append(value)
    single = {key: found[-1] for key, found in values.items() if key != "omero_image"}
    single["payload"] = payload_path
    single["omero_images"] = sorted(values.get("omero_image", []), key=int)
    return single


def list_requests(zone, how_many):
    paths = zone.find_by_avu(names.AVU_REQUEST_ID)
    described = [describe(zone, path) for path in paths]
    described.sort(key=lambda request: request.get("request_id", ""), reverse=True)
    return described[:how_many]


def reprocess(zone, config, request_id):
    """Mark a failed request (or one in progress whose rule was lost) for another attempt.

    irule runs as a rodsadmin, and a delayed rule runs as whoever scheduled it: scheduled
    from here it would run as the admin, who has no rights on the users' data (no bypass
    outside admin mode). So the admin only marks the request (admin-mode metadata), and a
    delayed rule of the service account's acts on the mark: a failed request's watcher, or
    the zone's sweep once a request in progress has been idle long enough (omero_irods.watch).
    Marking twice is answered, not refused: the mark is there once.
    """
    path = _payload_of(zone, request_id)
    if path is None:
        return {"request_id": request_id, "error": "no such request"}
    request = describe(zone, path)
    decision = states.may_process(request.get("state"), "reprocess")
    if not decision.allowed:
        return {"request_id": request_id, "error": "not reprocessed: %s" % decision.reason}
    answer = {"request_id": request_id, "payload": path, "reprocess": "requested"}
    if "reprocess" in request:
        answer["reprocess"] = "already requested"
    else:
        zone.add_avus(path, [(names.AVU_REPROCESS, "requested", "")], admin_mode=True)
    if request.get("state") == names.FAILED:
        answer["picked_up_within_seconds"] = config.retry.reprocess_poll_seconds
    else:
        answer["picked_up_by_the_sweep_once_idle_for_seconds"] = watch.idle_limit(config, request.get("state"))
    return answer


def _payload_of(zone, request_id):
    paths = [path for path in zone.find_by_avu(names.AVU_REQUEST_ID, request_id) if path.endswith(names.PAYLOAD_SUFFIX)]
    return paths[0] if paths else None


def _required(args, what):
    if not args or not args[0]:
        raise ValueError("this rule needs %s as its first argument" % what)
    return args[0]
