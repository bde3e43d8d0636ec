"""A failed request's watcher: how an admin's "reprocess" reaches the service account.

An admin marks a failed request with `omero_irods::reprocess` (irule
omero_irods_reprocess, in admin mode), or the OMERO side sets the mark as the service
account. Nothing can be scheduled from the admin's irule itself: a delayed rule runs as
whoever scheduled it, and the admin has no rights on the users' data. So when a request
enters `failed`, the service account schedules this watcher; it re-schedules itself every
`retry.reprocess_poll_seconds` (one GenQuery a run) until it finds the mark, then queues
the next attempt as the service account and stops.
"""

from omero_irods import names


def schedule_watch(zone, config, payload_path):
    zone.schedule(names.RULE_WATCH, [payload_path], config.retry.reprocess_poll_seconds)


def watch(job):
    """omero_irods_watch: queue the next attempt once the request is marked, else wait."""
    zone, path = job.zone, job.payload_path
    if zone.kind(path) != "data_object":
        zone.log("omero-irods: stopped watching %s: it is gone" % path)
        return
    avus = zone.avus(path)
    if _value(avus, names.AVU_STATE) != names.FAILED:
        return  # moved on (reprocessed another way): this watcher is no longer needed
    marks = [(value, units) for attribute, value, units in avus if attribute == names.AVU_REPROCESS]
    if not marks:
        schedule_watch(zone, job.config, path)
        return
    zone.remove_avus(path, [(names.AVU_REPROCESS, value, units) for value, units in marks])
    rule, attempt = next_attempt(avus)
    zone.set_avu(path, names.AVU_STATE, names.IMPORT_QUEUED if rule == names.RULE_IMPORT else names.RECEIVED)
    zone.schedule(rule, [path, str(attempt)], 1)
    zone.log("omero-irods: reprocessing %s as attempt %d (%s)" % (path, attempt, rule))


def next_attempt(avus):
    """(rule, attempt) that continues a request: the import once placed, else processing."""
    attempts = [int(value) for attribute, value, _units in avus if attribute == names.AVU_ATTEMPT]
    rule = names.RULE_IMPORT if _value(avus, names.AVU_IMPORT_ROOT) else names.RULE_PROCESS
    return rule, max(attempts or [0]) + 1


def _value(avus, attribute):
    values = [value for name, value, _units in avus if name == attribute]
    return values[-1] if values else None
