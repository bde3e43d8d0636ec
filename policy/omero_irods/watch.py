"""The delayed rules of the service account's that make sure no request is forgotten.

The watcher (omero_irods_watch): how an admin's "reprocess" of a FAILED request reaches the
service account. An admin marks a request with `omero_irods::reprocess` (irule
omero_irods_reprocess, in admin mode), or the OMERO side sets the mark as the service account.
Nothing can be scheduled from the admin's irule itself: a delayed rule runs as whoever
scheduled it, and the admin has no rights on the users' data. So when a request enters
`failed`, the service account schedules this watcher; it re-schedules itself every
`retry.reprocess_poll_seconds` (one GenQuery a run) until it finds the mark, then queues the
next attempt as the service account and stops. It gives up after `retry.watch_seconds`
(default 14 days) and says so in the serverLog; a later mark is picked up by the sweep.

The sweep (omero_irods_sweep), one per zone: the safety net for what no rule is scheduled for
any more -- a rule lost with its agent or a purged queue, a payload whose rule gave up while
the config stayed broken. Every `sweep.interval_seconds` it
- queues again each payload in the landing zone that nothing claimed within
  `sweep.unclaimed_seconds` of its upload (the claim makes a duplicate harmless);
- acts on reprocess marks on failed requests, and on requests in progress that nothing touched
  for `sweep.idle_seconds` plus the longest retry backoff (for an import, plus the import
  timeout too, so a running import is never started twice), and names the unmarked idle ones
  in the serverLog.
Cost per run: about five GenQueries, plus one or two per request in progress or marked.
It re-schedules itself before it works, and records its run on the landing zone
(`omero_irods::last_sweep`); the put trigger starts it again when that record is older than
two intervals, and a sweep that finds another one ran less than half an interval ago ends
its own chain, so two chains never last.
"""

import posixpath

from omero_irods import names, states
from omero_irods.ports import ZoneError


# --- a failed request's watcher ------------------------------------------------------------


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
    now = states.epoch_seconds(job.now)
    if _marks(avus):
        reprocess_now(zone, path, avus, now)
        return
    since = _since(avus)
    if since is None:  # failed before state_since existed: the watch starts counting now
        zone.set_avu(path, names.AVU_STATE_SINCE, str(now))
        since = now
    if now - since >= job.config.retry.watch_seconds:
        zone.log("omero-irods: stopped watching failed request %s after %d days; a reprocess mark set later is "
                 "picked up by the sweep" % (path, (now - since) // 86400))
        return
    schedule_watch(zone, job.config, path)


def reprocess_now(zone, path, avus, now):
    """Consume the reprocess marks and queue the request's next attempt (as the caller)."""
    zone.remove_avus(path, [(names.AVU_REPROCESS, value, units)
                            for attribute, value, units in avus if attribute == names.AVU_REPROCESS])
    rule, attempt = next_attempt(avus)
    states.record_state(zone, path, names.IMPORT_QUEUED if rule == names.RULE_IMPORT else names.RECEIVED, now)
    zone.schedule(rule, [path, str(attempt)], 1)
    zone.log("omero-irods: reprocessing %s as attempt %d (%s)" % (path, attempt, rule))


def next_attempt(avus):
    """(rule, attempt) that continues a request: the import once placed, else processing.
    Each rule numbers its own attempts (each number is claimed once)."""
    if _value(avus, names.AVU_IMPORT_ROOT):
        return names.RULE_IMPORT, _last_number(avus, names.AVU_IMPORT_ATTEMPT) + 1
    return names.RULE_PROCESS, _last_number(avus, names.AVU_ATTEMPT) + 1


# --- the zone's sweep -------------------------------------------------------------------------


def start_sweep_if_stale(zone, config, zone_config, now):
    """From the put trigger: (re)start the sweep unless it ran within two intervals.
    Costs one query of the landing zone's AVUs per payload put."""
    landing = zone_config.landing_zone
    interval = config.sweep.interval_seconds
    last = _last_sweep(zone, landing)
    if last is not None and now - last <= 2 * interval:
        return
    zone.set_avu(landing, names.AVU_LAST_SWEEP, str(now))  # concurrent puts start one sweep
    zone.schedule(names.RULE_SWEEP, [landing], interval)
    zone.log("omero-irods: sweep of %s started (%s)" % (
        landing, "first run" if last is None else "last run %ds ago" % (now - last)))


def sweep(job):
    """omero_irods_sweep: re-queue what no rule is scheduled for any more (see the module)."""
    zone, landing, interval = job.zone, job.zone_config.landing_zone, job.config.sweep.interval_seconds
    now = states.epoch_seconds(job.now)
    last = _last_sweep(zone, landing)
    if last is not None and now - last < interval // 2:
        zone.log("omero-irods: sweep of %s ended: another one ran %ds ago" % (landing, now - last))
        return
    zone.set_avu(landing, names.AVU_LAST_SWEEP, str(now))
    zone.schedule(names.RULE_SWEEP, [landing], interval)  # first: a failure below must not end the chain
    requeued = _requeue_unclaimed(job, now)
    reprocessed, idle = _act_on_marks(job, now)
    if requeued or reprocessed or idle:
        zone.log("omero-irods: sweep of %s: queued again %s; reprocessed %s; idle without a reprocess mark %s" % (
            landing, _listed(requeued), _listed(reprocessed), _listed(idle)))


def _requeue_unclaimed(job, now):
    """Landing payloads of the service account's that nothing claimed in time."""
    zone, zcfg = job.zone, job.zone_config
    requeued = []
    for payload in zone.request_payloads(zcfg.landing_zone):
        path, avus = payload["path"], payload["avus"]
        if not _is_request_payload(path, zcfg.landing_zone) or payload["owner"] != zcfg.service_account:
            continue
        if _value(avus, names.AVU_STATE) is None and now - payload["created"] >= job.config.sweep.unclaimed_seconds:
            attempt = _last_number(avus, names.AVU_ATTEMPT) + 1  # a claim whose rule died is not claimed again
            zone.schedule(names.RULE_PROCESS, [path, str(attempt)], 1)
            requeued.append(path)
    return requeued


def _act_on_marks(job, now):
    """(reprocessed, idle): marked requests acted on, and idle in-progress ones left alone."""
    zone = job.zone
    reprocessed, idle = [], []
    marked = set(zone.find_by_avu(names.AVU_REPROCESS))
    in_progress = set(zone.find_by_avu(names.AVU_STATE, states.IN_PROGRESS))
    for path in sorted(marked | in_progress):
        if not path.endswith(names.PAYLOAD_SUFFIX) or not _owned_by_service_account(job, path):
            continue
        avus = zone.avus(path)
        state = _value(avus, names.AVU_STATE)
        idle_long = state in states.IN_PROGRESS and now - (_since(avus) or 0) >= idle_limit(job.config, state)
        if _marks(avus) and (state == names.FAILED or idle_long):
            reprocess_now(zone, path, avus, now)
            reprocessed.append(path)
        elif idle_long:
            idle.append(path)
    return reprocessed, idle


def idle_limit(config, state):
    """How long a request in `state` may rest before it counts as lost: its longest retry
    backoff may pass first, and a running import may take its whole timeout."""
    limit = config.sweep.idle_seconds + config.retry.max_seconds
    if state == names.IMPORT_QUEUED:
        limit += config.omero_import.timeout_seconds
    return limit


def _owned_by_service_account(job, path):
    # a user can put a look-alike payload with forged AVUs where the service account reads it
    try:
        return job.zone.data_object(path)["owner"] == job.zone_config.service_account
    except ZoneError:  # gone since the query
        return False


def _is_request_payload(path, landing_zone):
    """`<landing>/<rid>/<rid>.omero-irods.json`, the only place the push client writes one."""
    collection, name = posixpath.split(path)
    return (posixpath.dirname(collection) == landing_zone.rstrip("/")
            and name == posixpath.basename(collection) + names.PAYLOAD_SUFFIX)


def _last_sweep(zone, landing):
    values = [value for attribute, value, _units in zone.avus(landing) if attribute == names.AVU_LAST_SWEEP]
    return _as_int(values[-1]) if values else None


def _listed(paths):
    return ", ".join(paths) if paths else "none"


# --- AVU helpers -------------------------------------------------------------------------------


def _marks(avus):
    return [value for attribute, value, _units in avus if attribute == names.AVU_REPROCESS]


def _since(avus):
    return _as_int(_value(avus, names.AVU_STATE_SINCE))


def _last_number(avus, attribute):
    numbers = [_as_int(value) for name, value, _units in avus if name == attribute]
    return max([number for number in numbers if number is not None] or [0])


def _as_int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _value(avus, attribute):
    values = [value for name, value, _units in avus if name == attribute]
    return values[-1] if values else None
