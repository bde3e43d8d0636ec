"""The delayed rules of the service account's that make sure no request is forgotten.

Both read only the records collection (omero_irods.records), which only the service account
and rodsadmins may write: a mark or a state anywhere else steers nothing.

The watcher (omero_irods_watch): how an admin's "reprocess" of a FAILED request reaches the
service account. An admin marks the request's record with `omero_irods::reprocess` (irule
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
- queues again each canonical landing payload with no record that is older than
  `sweep.unclaimed_seconds` (the claims make a duplicate harmless);
- acts on reprocess marks on failed requests, and on requests in progress that nothing touched
  for `sweep.idle_seconds` plus the longest retry backoff (for an import, plus the import
  timeout too, so a running import is never started twice), and names the unmarked idle ones
  in the serverLog;
- repairs the links the guard reads (restore_links): entries others were let write are made
  the service account's again, and links of imported requests missing from them come back.
Cost per run: about eleven GenQueries (the records' trust, the landing payloads, the records'
states and marks, the last run, the links' and the records' ACLs, the links), plus two per
request it acts on.
It re-schedules itself before it works, and records its run on the records collection
(`omero_irods::last_sweep`); the put trigger starts it again when that record is older than
two intervals, and a sweep that finds another one ran less than half an interval ago ends
its own chain, so two chains never last.
"""

import posixpath

from omero_irods import names, records, states
from omero_irods.ports import ZoneError

# --- a failed request's watcher ------------------------------------------------------------


def schedule_watch(zone, config, record):
    zone.schedule(names.RULE_WATCH, [record], config.retry.reprocess_poll_seconds)


def watch(job):
    """omero_irods_watch: queue the next attempt once the request is marked, else wait."""
    zone, zcfg, record = job.zone, job.zone_config, job.payload_path
    records.check_trusted(zone, zcfg, job.config.path)
    if records.request_id_of(zcfg.records, record) is None or zone.kind(record) != "collection":
        zone.log("omero-irods: stopped watching %s: it is no request record in %s" % (record, zcfg.records))
        return
    avus = zone.avus(record)
    if records.value(avus, names.AVU_STATE) != names.FAILED:
        return  # moved on (reprocessed another way): this watcher is no longer needed
    now = states.epoch_seconds(job.now)
    if _marks(avus):
        reprocess_now(zone, record, avus, now)
        return
    since = _since(avus)
    if since is None:  # failed before state_since existed: the watch starts counting now
        zone.set_avu(record, names.AVU_STATE_SINCE, str(now))
        since = now
    if now - since >= job.config.retry.watch_seconds:
        zone.log("omero-irods: stopped watching failed request %s after %d days; a reprocess mark set later is "
                 "picked up by the sweep" % (record, (now - since) // 86400))
        return
    schedule_watch(zone, job.config, record)


def reprocess_now(zone, record, avus, now):
    """Consume the reprocess marks and queue the request's next attempt (as the caller)."""
    zone.remove_avus(record, [(names.AVU_REPROCESS, value, units)
                              for attribute, value, units in avus if attribute == names.AVU_REPROCESS])
    rule, attempt = next_attempt(avus, zone.names_in(record))
    state = {names.RULE_IMPORT: names.IMPORT_QUEUED, names.RULE_IMPORT_CHECK: names.IMPORTING}.get(rule, names.RECEIVED)
    states.record_state(zone, record, state, now)
    zone.schedule(rule, [record, str(attempt)], 1)
    zone.log("omero-irods: reprocessing %s as attempt %d (%s)" % (record, attempt, rule))


def next_attempt(avus, entry_names):
    """(rule, attempt) that continues a request: the import once placed, else processing.
    Each rule numbers its own attempts, claimed in the record as attempt-N / import-N. A request
    still `importing` (its check rule lost) is checked again, never imported a second time: the
    check finds the importer running, ended, or lost (then `failed`)."""
    if records.value(avus, names.AVU_STATE) == names.IMPORTING:
        return names.RULE_IMPORT_CHECK, _last(records.numbers(entry_names, records.IMPORT_ATTEMPT))
    if records.value(avus, names.AVU_IMPORT_ROOT):
        return names.RULE_IMPORT, _last(records.numbers(entry_names, records.IMPORT_ATTEMPT)) + 1
    return names.RULE_PROCESS, _last(records.numbers(entry_names, records.ATTEMPT)) + 1


# --- the zone's sweep -------------------------------------------------------------------------


def start_sweep_if_stale(zone, config, zone_config, now):
    """From the put trigger: (re)start the sweep unless it ran within two intervals.
    Costs one query of the records collection's AVUs per payload put."""
    where = zone_config.records
    interval = config.sweep.interval_seconds
    last = _last_sweep(zone, where)
    if last is not None and now - last <= 2 * interval:
        return
    if zone.kind(where) != "collection":
        zone.log("omero-irods: sweep not started: the records collection %s is missing (run `omero-irods admin "
                 "provision`; the first delayed rule creates it where it can)" % where)
        return
    zone.set_avu(where, names.AVU_LAST_SWEEP, str(now))  # concurrent puts start one sweep
    zone.schedule(names.RULE_SWEEP, [where], interval)
    zone.log("omero-irods: sweep of %s started (%s)" % (
        zone_config.landing_zone, "first run" if last is None else "last run %ds ago" % (now - last)))


def sweep(job):
    """omero_irods_sweep: re-queue what no rule is scheduled for any more (see the module)."""
    zone, zcfg, interval = job.zone, job.zone_config, job.config.sweep.interval_seconds
    records.check_trusted(zone, zcfg, job.config.path)
    landing, where = zcfg.landing_zone, zcfg.records
    now = states.epoch_seconds(job.now)
    last = _last_sweep(zone, where)
    if last is not None and now - last < interval // 2:
        zone.log("omero-irods: sweep of %s ended: another one ran %ds ago" % (landing, now - last))
        return
    zone.set_avu(where, names.AVU_LAST_SWEEP, str(now))
    zone.schedule(names.RULE_SWEEP, [where], interval)  # first: a failure below must not end the chain
    known = zone.record_avus(where, [names.AVU_STATE, names.AVU_STATE_SINCE, names.AVU_REPROCESS,
                                     names.AVU_IMPORT_ROOT, names.AVU_PAYLOAD_ID, names.AVU_OMERO_USER])
    try:
        restore_links(job, known)
    except ZoneError as error:  # the rest of the sweep still runs; the next one tries again
        zone.log("omero-irods: sweep of %s: checking the links failed: %s" % (landing, error))
    requeued = _requeue_unclaimed(job, now, known)
    reprocessed, idle = _act_on_marks(job, now, known)
    if requeued or reprocessed or idle:
        zone.log("omero-irods: sweep of %s: queued again %s; reprocessed %s; idle without a reprocess mark %s" % (
            landing, _listed(requeued), _listed(reprocessed), _listed(idle)))


def restore_links(job, known):
    """The guard reads the public links; the records are their source. A link entry someone
    else may write (an admin's grant) is made the service account's alone again, and any link
    of an importing or imported request missing from such an entry, or whose entry is gone,
    is written again from the request's record (itself trusted: nobody else may write it).
    A link missing from an entry nobody else could write was released by the service account
    or an admin, and stays released. Five queries a run, more only for what it repairs."""
    zone, zcfg = job.zone, job.zone_config
    service = zcfg.service_account
    links = records.links_path(zcfg.records)
    entry_acls = zone.child_acls(links)
    suspect = {entry for entry, acl in entry_acls.items() if records.untrusted_writers(acl, service)}
    for entry in sorted(suspect):
        records.secure_link_entry(zone, entry, service)
    record_acls = zone.child_acls(zcfg.records)
    linked = zone.record_avus(links, [names.AVU_LINKED_ROOT]) if entry_acls else {}
    restored = []
    for record in sorted(known):
        avus = known[record]
        root, omero_user = records.value(avus, names.AVU_IMPORT_ROOT), records.value(avus, names.AVU_OMERO_USER)
        if records.value(avus, names.AVU_STATE) not in (names.IMPORTING, names.IMPORTED) or not root \
                or records.untrusted_writers(record_acls.get(record, []), service):
            continue
        entry = records.link_path(zcfg.records, posixpath.basename(record))
        if entry in entry_acls and entry not in suspect:
            continue
        if root in records.values(linked.get(entry, []), names.AVU_LINKED_ROOT):
            continue
        for collection in (links, entry):
            if collection not in entry_acls and zone.kind(collection) is None:
                zone.create_collection_exclusive(collection)
                zone.grant(collection, records.LINKS_READERS, "read")
        zone.add_avus(entry, [(names.AVU_LINKED_ROOT, root, omero_user or "")])
        restored.append("%s (%s)" % (root, entry))
    if restored:
        zone.log("omero-irods: sweep: restored links OMERO still depends on, removed where the service account "
                 "alone may not write: %s" % ", ".join(restored))
    return restored


def _requeue_unclaimed(job, now, known):
    """Canonical landing payloads of the service account's that no record claimed in time."""
    zone, zcfg = job.zone, job.zone_config
    requeued = []
    for payload in zone.request_payloads(zcfg.landing_zone):
        path = payload["path"]
        rid = _request_id(path, zcfg.landing_zone)
        if rid is None or payload["owner"] != zcfg.service_account:
            continue
        if now - payload["created"] < job.config.sweep.unclaimed_seconds:
            continue
        record = records.record_path(zcfg.records, rid)
        if record in known:
            continue  # claimed (by this payload, or refused as another payload's id)
        if zone.kind(record) is None:
            zone.schedule(names.RULE_PROCESS, [path, "1"], 1)
            requeued.append(path)
        else:
            zone.log("omero-irods: sweep: %s was claimed but its claim never recorded which payload (an agent "
                     "stopped in between): remove the empty record %s as the service account to let the next "
                     "sweep queue it again" % (path, record))
    return requeued


def _act_on_marks(job, now, known):
    """(reprocessed, idle): marked requests acted on, and idle in-progress ones left alone; an
    idle `importing` one (its check rule lost) is checked again without a mark."""
    zone = job.zone
    reprocessed, idle = [], []
    for record in sorted(known):
        avus = known[record]
        state = records.value(avus, names.AVU_STATE)
        if not _marks(avus) and state not in states.IN_PROGRESS:
            continue
        idle_long = state in states.IN_PROGRESS and now - (_since(avus) or 0) >= idle_limit(job.config, state)
        if state == names.IMPORTING and idle_long:  # its check rule was lost: check again, never import again
            reprocess_now(zone, record, zone.avus(record), now)
            reprocessed.append(record)
        elif _marks(avus) and (state == names.FAILED or idle_long):
            reprocess_now(zone, record, zone.avus(record), now)
            reprocessed.append(record)
        elif idle_long:
            idle.append(record)
    return reprocessed, idle


def idle_limit(config, state):
    """How long a request in `state` may rest before it counts as lost: its longest retry
    backoff may pass first, and a running import may take its whole timeout."""
    limit = config.sweep.idle_seconds + config.retry.max_seconds
    if state == names.IMPORT_QUEUED:
        limit += config.omero_import.timeout_seconds
    return limit


def _request_id(path, landing_zone):
    """The request id of `<landing>/<rid>/<rid>.omero-irods.json`, the only place the push
    client writes a payload; None elsewhere."""
    collection, name = posixpath.split(path)
    rid = posixpath.basename(collection)
    if posixpath.dirname(collection) == landing_zone.rstrip("/") and name == rid + names.PAYLOAD_SUFFIX:
        return rid
    return None


def _last_sweep(zone, where):
    return _as_int(records.value(zone.avus(where), names.AVU_LAST_SWEEP))


def _listed(paths):
    return ", ".join(paths) if paths else "none"


# --- AVU helpers -------------------------------------------------------------------------------


def _marks(avus):
    return records.values(avus, names.AVU_REPROCESS)


def _since(avus):
    return _as_int(records.value(avus, names.AVU_STATE_SINCE))


def _last(numbers):
    return numbers[-1] if numbers else 0


def _as_int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
