"""The delayed work of one request: claim, validate, map, place, ACL, AVUs; then import.

Runs in the delay queue as the service account (never inside a PEP), against a
`ports.ZonePort`. Each public function is one delayed rule and never raises for the
request's own reasons: a request ends `rejected` (input that can never succeed),
is retried with backoff (transient trouble) and then `failed`, or moves on.

What drives it is read from the request's record in the records collection (omero_irods.records),
which only the service account may write; AVUs on landing payloads and on placed data are
written for people and never read to decide anything. A delayed rule names its request by
the landing payload (`<landing>/<rid>/<rid>.omero-irods.json`, the only place a payload is
taken from) or by its record (`<records>/<rid>`). Each rule run claims what it does by
creating a uniquely named collection in the record (the request itself, `attempt-N`,
`import-N`): exactly one of any number of concurrent runs wins.

Placement is all-or-nothing for the user: a tar is extracted into the attempt's staging
collection in the record (`staging-N`), a pushed collection stays where the client put it;
either is verified, given its ACLs and AVUs there, and only then renamed into place -- never
onto an existing name or one whose record is still there: a rename that meets one (perhaps
hidden from the service account) moves on to the next suffix. A retry removes the staging
collections of its own earlier attempts, and recognises a destination it already published
(recorded on the record before the rename). Nothing the client pushed is removed before it
is placed, and nothing is removed on the word of a payload's content.

The import runs once per claimed attempt, and records the root OMERO links to on the record
(the guard's source, omero_irods.guard) before the importer starts. The importer runs detached
(`importing`, its process recorded on the record): the import rule returns at once and a short
check rule polls it until it ended, so no import holds a delay executor. Exactly one check
records the result (it claims `checked-N`). When the importer may have created images but did
not succeed, or its process was lost (a restart), the request ends `failed` for an admin to
check OMERO: it is never imported twice by itself.
"""

import json
import os
import posixpath
from collections import namedtuple

from omero_irods import integrity, names, records, states, watch
from omero_irods.archive import list_members
from omero_irods.config import check_payload_limits
from omero_irods.errors import ConfigError, Rejected, Transient
from omero_irods.image_ids import image_avus, ranges_of
from omero_irods.manifest import PlacedObject, compare_with_members, compare_with_objects, require_sha256_checksum
from omero_irods.mapping import check_in_zone, map_identity
from omero_irods.omero_import import (MAX_PACKET_BYTES, check_packet, command_for_plan, import_failure,
                                     parse_import_output, plan_import, stderr_tail)
from omero_irods.payload import parse_payload, payload_name
from omero_irods.placement import check_fits, check_inside_roots, choose_destination, placement_path
from omero_irods.ports import AlreadyExists, ZoneError
from omero_irods.provisioning import CREATE_COLLECTION, SET_ACL, SET_INHERITANCE, home_owner, plan_user_provisioning

AVU_DESTINATION = names.AVU_DESTINATION
AVU_SHA256 = names.avu("sha256")
AVU_PAYLOAD = names.avu("payload")
#: On a request's record: a principal the pipeline itself granted access to a collection push
#: still in the landing zone (units: the level), so a retry's seal does not take the pipeline's
#: own grant for a co-writer.
AVU_GRANTED = names.avu("granted")

PROCESS_RULE = names.RULE_PROCESS
IMPORT_RULE = names.RULE_IMPORT
CHECK_RULE = names.RULE_IMPORT_CHECK

#: What a delayed rule is working on. payload_path: the rule's path argument (a landing
#: payload or a record); record: the request's record once the rule found it.
Job = namedtuple("Job", "zone config zone_config payload_path attempt now record", defaults=(None,))


# --- the three delayed rules ---------------------------------------------------------------


def process(job):
    """omero_irods_process: claim the request and this attempt, then validate and place."""
    check_records_trusted(job)
    job = _claimed_request(job)
    if job is None:
        return
    check_record_trusted(job)
    if not _claim(job, records.ATTEMPT):
        return
    _guarded(job, PROCESS_RULE, _place)


def run_import(job, importer):
    """omero_irods_import: start the in-place import, detached; `importer`: the port of
    adapters.importer_process.DetachedImporter (start, status, stop, finish)."""
    check_records_trusted(job)
    job = _existing_record(job)
    if job is None:
        return
    check_record_trusted(job)
    avus = job.zone.avus(job.record)
    state = records.value(avus, names.AVU_STATE)
    if state != names.IMPORT_QUEUED:
        job.zone.log("omero-irods: import of %s skipped: state is %s" % (job.record, state))
        return
    if not _claim(job, records.IMPORT_ATTEMPT):
        return
    _guarded(job, IMPORT_RULE, lambda j: _start_import(j, avus, importer))


def check_import(job, importer):
    """omero_irods_import_check: poll the importer of attempt `job.attempt`; once it ended,
    record its result (one check of any number of duplicates does) and stop."""
    check_records_trusted(job)
    job = _existing_record(job)
    if job is None:
        return
    avus = job.zone.avus(job.record)
    process = _importer_process(avus)
    state = records.value(avus, names.AVU_STATE)
    if state != names.IMPORTING or process is None or process.get("attempt") != job.attempt:
        job.zone.log("omero-irods: import check of %s attempt %d ended: state is %s" % (job.record, job.attempt, state))
        return
    now = states.epoch_seconds(job.now)
    last = _as_int(records.value(avus, names.AVU_IMPORT_CHECKED))
    if last is not None and 0 <= now - last < job.config.omero_import.check_seconds // 2:
        job.zone.log("omero-irods: import check of %s: a duplicate (another ran %ds ago) ended" % (job.record, now - last))
        return
    job.zone.set_avu(job.record, names.AVU_IMPORT_CHECKED, str(now))
    _check_import(job, avus, importer, process, now)


# --- trust and claims ----------------------------------------------------------------------


def check_records_trusted(job):
    records.check_trusted(job.zone, job.zone_config, job.config.path)


def check_record_trusted(job):
    records.check_record_trusted(job.zone, job.zone_config, job.config.path, job.record)


def _claimed_request(job):
    """The job with its record, claimed for this payload; None (logged) when the rule's path
    is no canonical landing payload nor a record, or the record belongs to another payload."""
    zone, zcfg = job.zone, job.zone_config
    rid = records.request_id_of(zcfg.records, job.payload_path)
    if rid is not None:
        return _existing_record(job)
    rid = _landing_request_id(job.payload_path, zcfg.landing_zone)
    if rid is None:
        zone.log("omero-irods: %s ignored: a payload is taken only from <landing>/<request id>/<request id>%s"
                 % (job.payload_path, names.PAYLOAD_SUFFIX))
        return None
    payload_id = zone.data_object_id(job.payload_path)
    record = records.record_path(zcfg.records, rid)
    if payload_id is None:
        _record_vanished_payload(job._replace(record=record))
        return None
    job = job._replace(record=record)
    if zone.create_collection_exclusive(record):
        zone.add_avus(record, [(names.AVU_PAYLOAD_ID, payload_id, ""), (names.AVU_REQUEST_ID, rid, "")])
        _set_state(job, names.RECEIVED)
        return job
    bound = records.value(zone.avus(record), names.AVU_PAYLOAD_ID)
    if bound == payload_id:
        return job
    if bound is None:
        zone.log("omero-irods: %s is being claimed by another event; duplicate event ignored" % job.payload_path)
    else:
        zone.log("omero-irods: %s refused: request id %s already belongs to another payload (record %s); push "
                 "again under a new request id" % (job.payload_path, rid, record))
    return None


def _record_vanished_payload(job):
    """A put event whose payload is gone. With a record, an earlier event of the same put took
    it (the payload moved into its record): a duplicate. Without one, nobody processed it: only
    someone else who may write in the landing zone removed it, and the request would vanish
    without a trace. It is recorded as `rejected`, naming who may write there, so `status`
    tells the OMERO side and the admin sees what to fix."""
    zone, zcfg = job.zone, job.zone_config
    if zone.kind(job.record) is not None or not zone.create_collection_exclusive(job.record):
        zone.log("omero-irods: %s is no longer there; duplicate event ignored" % job.payload_path)
        return
    rid = records.request_id_of(zcfg.records, job.record)
    zone.add_avus(job.record, [(names.AVU_REQUEST_ID, rid, "")])
    collection = posixpath.dirname(job.payload_path)
    holders = sorted({name for name, _type, _level in zone.access_entries(collection)} - {zcfg.service_account}) \
        if zone.kind(collection) == "collection" else []
    _reject(job, Rejected("not_permitted", "the payload %s was removed before it was processed, by someone other "
                                           "than the service account (who may write in %s now: %s); only the service "
                                           "account may write in the landing zone: push again under a new request id"
                          % (job.payload_path, collection, ", ".join(holders) or "nobody else")))


def _existing_record(job):
    zone, zcfg = job.zone, job.zone_config
    record = job.record or job.payload_path
    if records.request_id_of(zcfg.records, record) is None or zone.kind(record) != "collection":
        zone.log("omero-irods: %s is not a request record in %s; not processed" % (record, zcfg.records))
        return None
    return job._replace(record=record)


def _claim(job, prefix):
    """Once-only: creating `<record>/<prefix>N` fails for every run but one."""
    if job.zone.create_collection_exclusive(records.claim_path(job.record, prefix, job.attempt)):
        return True
    job.zone.log("omero-irods: %s %s%d already claimed; duplicate ignored" % (job.record, prefix, job.attempt))
    return False


def _place(job):
    state = _state(job)
    if state in states.FINISHED:  # a stray rule: a reprocess sets `received` before it queues one
        job.zone.log("omero-irods: %s attempt %d not run: the request is %s" % (job.record, job.attempt, state))
        return
    landing = _bound_landing_payload(job)
    if landing is not None:
        _validate_and_place(job._replace(payload_path=landing))
    else:
        _resume_after_the_move(job, state)


def _bound_landing_payload(job):
    """The landing payload the record claimed, if it is still at its canonical place."""
    zone, rid = job.zone, _request_id(job)
    path = posixpath.join(job.zone_config.landing_zone, rid, payload_name(rid))
    bound = records.value(zone.avus(job.record), names.AVU_PAYLOAD_ID)
    return path if bound is not None and zone.data_object_id(path) == bound else None


def _resume_after_the_move(job, state):
    """A retry (or reprocess) of a request whose payload already moved into its record: only
    what followed the move is left to do."""
    zone = job.zone
    avus = zone.avus(job.record)
    if state not in (names.PLACED, names.IMPORT_QUEUED) and not records.value(avus, AVU_DESTINATION):
        zone.log("omero-irods: %s: its payload is gone from the landing zone and nothing was placed; not "
                 "processed" % job.record)
        return
    _remove_landing_collection(job)
    if state != names.PLACED:
        _set_state(job, names.PLACED)
    if records.value(avus, names.AVU_OPERATION) == names.INGEST:
        _queue_import(job, records.value(avus, AVU_DESTINATION), records.value(avus, names.AVU_OMERO_TARGET))


def _guarded(job, rule_name, work):
    """Run one step; turn its failure into `rejected`, a retry, or `failed`."""
    try:
        work(job)
    except Rejected as error:
        _reject(job, error)
    except (Transient, ConfigError, ZoneError, OSError) as error:
        _retry_or_fail(job, rule_name, error)
    except Exception as error:  # a defect: retried like trouble, with its traceback for the admin
        import traceback

        job.zone.log("omero-irods: internal error on %s:\n%s" % (job.record, traceback.format_exc()))
        _retry_or_fail(job, rule_name, error)


def _reject(job, error):
    zone = job.zone
    _remove_staging(job)
    zone.set_avu(job.record, names.AVU_ERROR, error.summary())
    _set_state(job, names.REJECTED)
    zone.log("omero-irods: %s: %s" % (job.payload_path, error.summary()))


def _retry_or_fail(job, rule_name, error):
    zone, retry = job.zone, job.config.retry
    message = getattr(error, "summary", lambda: str(error))()
    _remove_staging(job)
    zone.set_avu(job.record, names.AVU_ERROR, "attempt %d: %s" % (job.attempt, message))
    delay = retry.delay_after(job.attempt)
    if delay is None:
        _fail(job, "failed %s after %d attempts: %s" % (job.record, job.attempt, message))
        return
    # activity: a request waiting for its retry is not idle (see watch.sweep)
    zone.set_avu(job.record, names.AVU_STATE_SINCE, str(states.epoch_seconds(job.now)))
    zone.schedule(rule_name, [job.record, str(job.attempt + 1)], delay)
    zone.log("omero-irods: %s attempt %d failed (%s); retry in %ds" % (job.record, job.attempt, message, delay))


def _fail(job, log_line):
    """`failed`, watched for an admin's reprocess mark."""
    _set_state(job, names.FAILED)
    watch.schedule_watch(job.zone, job.config, job.record)
    job.zone.log("omero-irods: " + log_line)


def _set_state(job, state):
    states.record_state(job.zone, job.record, state, states.epoch_seconds(job.now))
    if state in (names.PLACED, names.IMPORTED):  # a retried step succeeded: its old error is void
        _clear_error(job.zone, job.record)


def _clear_error(zone, record):
    errors = [avu for avu in zone.avus(record) if avu[0] == names.AVU_ERROR]
    if errors:
        zone.remove_avus(record, errors)


def _state(job):
    return records.value(job.zone.avus(job.record), names.AVU_STATE)


# --- validate ------------------------------------------------------------------------------


def _validate_and_place(job):
    payload = _validated_payload(job)
    _record_request(job, payload)  # before mapping: a rejection names whose request it was
    identity = _mapped_identity(job, payload.omero_user, payload.omero_group)
    if payload.operation == names.LOAD:
        _check_load_source(job, payload, identity)
        _queue_import(job, payload.source_path, payload.target.omero_dataset)
        return
    data_path = _verify_data(job, payload)
    if job.config.admin_mode:
        _provision_in_admin_mode(job, identity)
    destination = _published_destination(job) or _publish(job, payload, identity, data_path)
    _finish_placement(job, payload, destination)


def _seal_landing_collection(job):
    """Nobody but the service account may have written, or may still write, what is about to
    be checked and then used.

    The payload, the tar (read once by the member check, again by msiTarFileExtract) and a
    pushed collection's files are checked, then used: whoever else may still write them in
    between (an admin let others write in the landing zone, inheritance on) could swap a
    checked tar for one that libarchive writes outside its extraction folder, as the iRODS
    OS user. So every access but the service account's is removed from the request's landing
    collection and everything in it BEFORE anything is read. Checked on iRODS 5.0.2: after
    `ichmod -r null` by the owner a new open for writing is CAT_NO_ACCESS_PERMISSION; a writer
    that opened before still writes through its open descriptor, but while it is open the
    replica is locked and every read and checksum answers HIERARCHY_ERROR (retried), so what
    the checks read is what the extraction reads.

    What a writer wrote BEFORE this cannot be told from the service account's own bytes (an
    overwrite keeps the object's owner, also checked on 5.0.2): so a request whose landing
    data anyone else could write (write or own on it, or on a landing zone whose inheritance
    hands that to every new request) is rejected, never placed nor imported. A reader (or a
    holder of metadata levels only: a landing payload's AVUs are never read) only loses their
    access. A co-writer who removed their own access before this ran is seen only
    by the integrity mark (_check_integrity_mark). Runs once the payload's owner is known to be
    the service account."""
    zone, zcfg = job.zone, job.zone_config
    service = zcfg.service_account
    collection = posixpath.dirname(job.payload_path)
    entries = zone.access_entries(collection)
    granted = set(records.values(zone.avus(job.record), AVU_GRANTED))  # an earlier attempt's own grants
    writers = [(name, level) for name, level in records.content_writers(entries, service) if name not in granted]
    landing_writers = records.content_writers(zone.collection_acl(zcfg.landing_zone), service) \
        if zone.inherits(zcfg.landing_zone) else []
    others = sorted({name for name, _type, _level in entries} - {service})
    unremoved = []
    for other in others:
        try:
            zone.grant(collection, other, "null", recursive=True)
        except ZoneError as error:  # e.g. an object in it that the service account does not own
            unremoved.append("%s (%s)" % (other, error))
    if others:
        zone.log("omero-irods: %s: removed the access of %s to the landing data before checking it; only the "
                 "service account %s may write in the landing zone" % (collection, ", ".join(others), service))
    if writers or landing_writers or unremoved:
        raise Rejected("not_permitted", _untrusted_landing_problem(job, collection, writers, landing_writers,
                                                                   unremoved))


def _untrusted_landing_problem(job, collection, writers, landing_writers, unremoved):
    """What made the landing data untrustworthy and what the admin must fix."""
    zcfg = job.zone_config
    landing = zcfg.landing_zone
    said = []
    if writers:
        said.append("%s could write in %s" % (_named_levels(writers), collection))
    if landing_writers:
        said.append("the landing zone %s hands %s to every new request (inheritance on)"
                    % (landing, _named_levels(landing_writers)))
    if unremoved:
        said.append("the service account cannot remove the access of %s" % ", ".join(unremoved))
    fixes = ["ichmod -r -M null NAME %s" % landing]
    if landing_writers:
        fixes.append("ichmod -M noinherit %s" % landing)
    return ("the landing data cannot be trusted, nothing of it is used: %s, and what they wrote cannot be told "
            "from the service account's own. Only the service account %s may write in the landing zone: an iRODS "
            "admin must remove everyone else's write access (%s), then the request is pushed again under a new "
            "request id" % ("; ".join(said), zcfg.service_account, "; ".join(fixes)))


def _named_levels(writers):
    return ", ".join("%s (%s)" % writer for writer in writers)


def _validated_payload(job):
    """Authorise the upload, then parse and check the payload and its limits."""
    zone, zcfg = job.zone, job.zone_config
    info = zone.data_object(job.payload_path)
    if info["owner"] != zcfg.service_account:
        raise Rejected("not_permitted", "payload is owned by %r, not the service account" % info["owner"])
    max_bytes = job.config.limits.payload_bytes
    if info["size"] > max_bytes:
        raise Rejected("too_large", "payload is %d bytes; the limit is %d" % (info["size"], max_bytes))
    _seal_landing_collection(job)
    raw = zone.read(job.payload_path, max_bytes)
    _check_integrity_mark(job, raw)
    payload = parse_payload(raw, max_bytes)
    expected = posixpath.join(zcfg.landing_zone, payload.request_id, payload_name(payload.request_id))
    if job.payload_path != expected:
        raise Rejected(
            "inconsistent",
            "payload for request %s must be at %s, not %s" % (payload.request_id, expected, job.payload_path),
            pointer="/request_id",
        )
    check_payload_limits(payload, job.config.limits)
    _refuse_payload_names(payload)
    return payload


def _check_integrity_mark(job, raw):
    """When the zone names a key, the payload's bytes must carry the OMERO side's mark
    (omero_irods.integrity), checked before anything is parsed: a co-writer of the landing
    zone who removed their own access before the seal cannot make one. An unusable key file
    is the admin's to fix (ConfigError: retried, then failed; never checked without it)."""
    zone, key_file = job.zone, job.zone_config.integrity_key_file
    rid = _landing_request_id(job.payload_path, job.zone_config.landing_zone)
    mark_path = posixpath.join(posixpath.dirname(job.payload_path), integrity.mark_name(rid))
    has_mark = zone.kind(mark_path) == "data_object"
    if not key_file:
        if has_mark:  # the OMERO side signs, the zone does not check: an admin must know
            zone.log("omero-irods: %s: the payload carries an integrity mark, but zone %s names no "
                     "integrity_key_file, so marks are NOT checked here; set it in the policy config "
                     "(docs/deploy.md)" % (job.payload_path, zone.zone_name))
        return
    key = integrity.read_key(key_file)
    integrity.check_mark(key, raw, zone.read(mark_path, integrity.MAX_MARK_BYTES) if has_mark else None)


def _refuse_payload_names(payload):
    """A file named like a payload in the user's data would look like a request to people and
    to older versions: refused (a tar member: unsafe_member; a pushed collection's file:
    inconsistent)."""
    for index, entry in enumerate(payload.manifest):
        if entry.path.endswith(names.PAYLOAD_SUFFIX):
            reason = "unsafe_member" if payload.data.kind == "tar" else "inconsistent"
            raise Rejected(reason, "%s: names ending with %s are reserved for payloads" % (
                entry.path, names.PAYLOAD_SUFFIX), pointer="/manifest/%d/path" % index)


def _mapped_identity(job, omero_user, omero_group):
    """The user map's identity, checked against the catalog (mapping.check_in_zone)."""
    identity = map_identity(job.zone_config.user_map, omero_user, omero_group, job.zone.zone_name)
    check_in_zone(identity, job.zone_config.service_account, job.zone.user_info)
    return identity


def _record_request(job, payload):
    job.zone.add_avus(job.record, [(names.AVU_OPERATION, payload.operation, ""),
                                   (names.AVU_OMERO_USER, payload.omero_user, ""),
                                   (names.AVU_OMERO_GROUP, payload.omero_group, "")])
    if _state(job) == names.RECEIVED:
        _set_state(job, names.VALIDATED)


def _verify_data(job, payload):
    """The named data exists, has the declared size and sha256, and its members are safe."""
    zone, data = job.zone, payload.data
    if data.name.startswith("."):  # hidden names are the policy's own (and '.'/'..' are no names)
        raise Rejected("inconsistent", "data name %r starts with '.'" % data.name, pointer="/data/name")
    if data.name.endswith(names.PAYLOAD_SUFFIX):
        raise Rejected("inconsistent", "data name %r is a payload's name" % data.name, pointer="/data/name")
    data_path = posixpath.join(posixpath.dirname(job.payload_path), data.name)
    kind = zone.kind(data_path)
    if kind is None:
        raise Rejected("not_found", "the payload names %s, which is not in the landing collection" % data.name)
    expected = "data_object" if data.kind == "tar" else "collection"
    if kind != expected:
        raise Rejected("inconsistent", "%s is a %s, not a %s" % (data.name, kind.replace("_", " "), data.kind),
                       pointer="/data/kind")
    if data.kind == "tar":
        _verify_tar(job, payload, data_path)
    return data_path


def _verify_tar(job, payload, tar_path):
    """The tar has the declared size and exactly the manifest's members (path, size).

    The tar as a whole is not checksummed: that would read every byte once more than the
    extraction does (issue 10). Nothing goes unchecked without it: the member walk
    (archive.list_members) lists exactly what libarchive extracts or refuses the archive,
    bytes after the end marker included, and every extracted file's sha256 is then compared
    with its manifest entry (_verify_placed). The payload's archive sha256 stays on the placed
    data as provenance (`omero_irods::sha256`)."""
    zone, data = job.zone, payload.data
    size = zone.data_object(tar_path)["size"]
    if size != data.size:
        raise Rejected("manifest_mismatch", "%s is %d bytes; the payload says %d" % (data.name, size, data.size))
    with zone.open_reader(tar_path) as reader:
        members = list_members(reader, job.config.archive_limits, what=data.name)
    compare_with_members(payload.manifest, members).raise_if_bad("archive " + data.name)


# --- place ---------------------------------------------------------------------------------


def _published_destination(job):
    """The destination an earlier attempt already published: recorded before its rename, and
    what it renamed (recorded too) is gone, so the rename happened."""
    zone = job.zone
    avus = zone.avus(job.record)
    destination, staged = records.value(avus, AVU_DESTINATION), records.value(avus, names.AVU_STAGED)
    if destination and staged and zone.kind(destination) == "collection" and zone.kind(staged) is None:
        return destination
    return None


def _publish(job, payload, identity, data_path):
    """Stage, verify, set ACLs and AVUs, then rename into place: the user sees all or nothing."""
    zone, zcfg = job.zone, job.zone_config
    planned = placement_path(zcfg, identity, payload, job.now, job.config.limits.name_length)
    check_fits(planned, [entry.path for entry in payload.manifest])
    taken = zone.names_in(posixpath.dirname(planned))  # one listing, not one query per candidate
    _free_destination(job, planned, taken)  # a collision with on_collision=fail is refused before any copy
    staged = _stage(job, payload, data_path)
    _verify_placed(zone, payload, staged)
    content = _content_root(payload, staged)
    if payload.data.kind != "tar":  # the content is still in the landing collection
        zone.add_avus(job.record, [(AVU_GRANTED, name, level) for name, level in _decided_grants(zcfg, identity)])
    _apply_acls(zone, zcfg, identity, content, staged)
    zone.add_avus(content, _provenance(job, payload))
    zone.create_collection(posixpath.dirname(planned))
    zone.set_avu(job.record, names.AVU_STAGED, content)
    destination = _rename_into_place(job, content, planned, taken)
    _remove_staging(job)  # empty now, unless a top folder was unwrapped out of it
    zone.log("omero-irods: placed %s at %s for %s" % (payload.request_id, destination, identity.irods_user))
    return destination


def _rename_into_place(job, staging, planned, taken):
    """Rename to the first free name. A name the service account cannot see (or one created
    since the listing) shows up only as a failed rename: then the next name is tried."""
    while True:
        destination = _free_destination(job, planned, taken)
        job.zone.set_avu(job.record, AVU_DESTINATION, destination)
        try:
            job.zone.rename(staging, destination)
            return destination
        except AlreadyExists:
            _refuse_source_sibling_clash(job, staging, destination)
            taken.add(posixpath.basename(destination))


def _refuse_source_sibling_clash(job, staging, destination):
    """iRODS renames inside the source collection first, then moves (irods/irods
    server/api/src/rsDataObjRename.cpp): an entry next to `staging` with the destination's
    name fails the rename although the destination is free. Another name would not be the
    one asked for, so the request is refused with what to change."""
    sibling = posixpath.join(posixpath.dirname(staging), posixpath.basename(destination))
    if sibling != staging and job.zone.kind(destination) is None and job.zone.kind(sibling) is not None:
        raise Rejected("collision", "%s cannot be renamed to %s: iRODS renames it inside %s first, where %s "
                       "exists; push again with another target name" % (staging, destination,
                                                                         posixpath.dirname(staging), sibling))


def _free_destination(job, planned, taken):
    """The first candidate name not in `taken` (a set of names in the parent), inside the roots.
    A name with a payload record next to it (`<name>.omero-irods.json`, where versions before
    the records collection kept them) is taken too."""
    zcfg = job.zone_config

    def is_taken(path):
        name = posixpath.basename(path)
        return name in taken or name + names.PAYLOAD_SUFFIX in taken

    destination = choose_destination(planned, is_taken, zcfg.on_collision, job.config.limits.name_length)
    check_inside_roots(destination, zcfg)
    return destination


def _stage(job, payload, data_path):
    """The collection the data is verified in before it is published.

    A tar is extracted into `<record>/staging-N`, created by this attempt (a claim like any
    other: only the service account can create in the record), after the staging collections
    of this request's earlier attempts are removed. A collection push is verified where the
    client put it, in the landing collection: it moves nowhere before the final rename, so a
    failure leaves the only copy where it was."""
    if payload.data.kind != "tar":
        return data_path
    zone = job.zone
    _remove_staging(job)
    staging = records.claim_path(job.record, records.STAGING, job.attempt)
    if not zone.create_collection_exclusive(staging):
        raise Transient("%s exists although this attempt claimed it" % staging)
    zone.extract_tar(data_path, staging)
    return staging


def _provision_in_admin_mode(job, identity):
    """admin_mode: the service account is a rodsadmin and provisions a user's root itself,
    as `omero-irods admin provision` would. It cannot create inside the user's home without
    an ACL there (no bypass outside admin mode), so it first grants itself `own` on the
    root's parent in admin mode (documented in the config schema)."""
    zone, zcfg = job.zone, job.zone_config
    operations = plan_user_provisioning(zcfg, identity.irods_user)
    root = operations[0].path
    if zone.kind(root) == "collection":
        return
    owner = home_owner(root)
    if owner is not None and owner != identity.irods_user:  # e.g. rods' home: never granted on
        raise Rejected("not_permitted", "the user root %s of %s is in the home of %s; admin mode provisions a "
                                        "user's root only in their own home" % (root, identity.irods_user, owner))
    zone.grant(posixpath.dirname(root), zcfg.service_account, "own", admin_mode=True)
    for operation in operations:
        if operation.op == CREATE_COLLECTION:
            zone.create_collection(operation.path)
        elif operation.op == SET_ACL:
            zone.grant(operation.path, operation.user, operation.level, admin_mode=True)
        elif operation.op == SET_INHERITANCE:
            zone.set_inheritance(operation.path, admin_mode=True)
    zone.log("omero-irods: provisioned %s for %s (admin mode)" % (root, identity.irods_user))


def _content_root(payload, staging):
    """What gets the destination's name: the staging collection, or the one folder that holds
    everything (`tar -cf run1.tar run1` puts `run1/` inside: placed as .../run1/a.tif, not
    .../run1/run1/a.tif)."""
    tops = {entry.path.split("/", 1)[0] for entry in payload.manifest}
    if len(tops) == 1 and all("/" in entry.path for entry in payload.manifest):
        return posixpath.join(staging, tops.pop())
    return staging


def _verify_placed(zone, payload, staging):
    placed = [
        PlacedObject(posixpath.relpath(obj["path"], staging), obj["size"], zone.checksum(obj["path"]))
        for obj in zone.tree(staging)
    ]
    for placed_object in placed[:1]:  # one zone, one scheme: a wrong one is not a mismatch
        require_sha256_checksum(placed_object.checksum, placed_object.path)
    compare_with_objects(payload.manifest, placed).raise_if_bad("placed data")


def _apply_acls(zone, zcfg, identity, collection, tree):
    """Exactly the decided grants on `collection` and everything below: whatever else the data
    picked up on its way (a new entry copies its parent's ACL where inheritance is on, as in a
    landing zone an admin opened to others) is removed. `tree` is where to look for holders:
    the staging collection, which holds `collection` (queryable even when the content's own
    name, taken from a tar member, is not). The service account keeps `own` throughout: it
    needs it for every grant and for the rename that follows."""
    decided = _decided_grants(zcfg, identity)
    for extra in sorted(zone.access_holders(tree) - {name for name, _level in decided}):
        zone.grant(collection, extra, "null", recursive=True)
    zone.set_inheritance(collection, recursive=True)
    for name, level in decided:
        zone.grant(collection, name, level, recursive=True)


def _decided_grants(zcfg, identity):
    """[(user or group, level)]: the placed data's whole ACL."""
    decided = [(identity.irods_user, zcfg.acl.user)]
    if identity.irods_group and zcfg.acl.group != "null":
        decided.append((identity.irods_group, zcfg.acl.group))
    decided.append((zcfg.service_account, zcfg.acl.service_account))
    return decided


def _provenance(job, payload):
    """For people: where the data came from. Never read back by the pipeline."""
    avus = [
        (names.AVU_REQUEST_ID, payload.request_id, ""),
        (names.AVU_OPERATION, payload.operation, ""),
        (names.AVU_OMERO_USER, payload.omero_user, ""),
        (names.AVU_OMERO_GROUP, payload.omero_group, ""),
        (AVU_PAYLOAD, records.payload_record_path(job.record, payload.request_id), ""),
    ]
    if payload.data.sha256:
        avus.append((AVU_SHA256, payload.data.sha256, ""))
    return avus


def _finish_placement(job, payload, destination):
    """Move the payload into its record; clean the landing collection."""
    zone = job.zone
    zone.rename(job.payload_path, records.payload_record_path(job.record, payload.request_id))
    _remove_landing_collection(job)
    _set_state(job, names.PLACED)
    if payload.operation == names.INGEST:
        _queue_import(job, destination, payload.target.omero_dataset)


def _remove_landing_collection(job):
    """The request's landing collection once its payload moved into the record: only when no
    payload is in it (a new push under the same id keeps its own)."""
    zone, rid = job.zone, _request_id(job)
    collection = posixpath.join(job.zone_config.landing_zone, rid)
    if zone.kind(collection) == "collection" and payload_name(rid) not in zone.names_in(collection):
        _remove_quietly(zone, collection)


def _queue_import(job, import_root, target):
    """Record what the import rule needs on the record (it never reads the payload again)."""
    avus = [(names.AVU_IMPORT_ROOT, import_root, "")]
    if target:
        avus.append((names.AVU_OMERO_TARGET, target, ""))
    job.zone.add_avus(job.record, avus)
    _set_state(job, names.IMPORT_QUEUED)
    job.zone.schedule(IMPORT_RULE, [job.record, "1"], 1)


def _check_load_source(job, payload, identity):
    """A load links a snapshot already in iRODS into OMERO for the mapped user: only inside
    the allowed roots, only a collection, and only if that user may read every file the
    importer would get (read on a collection gives none on the objects in it)."""
    zone, source = job.zone, payload.source_path
    check_inside_roots(source, job.zone_config)
    if zone.kind(source) != "collection":
        raise Rejected("not_found", "%s is not a collection the service account can see" % source,
                       pointer="/source/path")
    objects = _importable_objects(zone, source)
    if not objects:
        raise Rejected("not_found", "%s holds no files the service account can read" % source,
                       pointer="/source/path")
    _check_readable(zone, source, objects, identity.irods_user, pointer="/source/path")


def _importable_objects(zone, root):
    """What the importer gets below `root`: every data object but payload-named ones (records
    of versions that kept them next to the data; never the user's data, which may not use
    such names)."""
    return [obj for obj in zone.tree(root) if not obj["path"].endswith(names.PAYLOAD_SUFFIX)]


def _check_readable(zone, root, objects, irods_user, pointer=None):
    """Rejected unless `irods_user` may read every object (one query for the whole tree)."""
    readable = zone.readable_by(root, irods_user)
    hidden = [obj["path"] for obj in objects if obj["path"] not in readable]
    if hidden:
        raise Rejected("not_permitted", "iRODS user %s may not read %d of the %d files below %s, e.g. %s"
                       % (irods_user, len(hidden), len(objects), root, ", ".join(hidden[:3])), pointer=pointer)


# --- import --------------------------------------------------------------------------------


def _start_import(job, avus, importer):
    command, import_root, omero_user = _import_command(job, avus)
    link = (names.AVU_LINKED_ROOT, import_root, omero_user)
    _record_link(job, import_root, link)  # guarded before OMERO links anything
    try:
        process = importer.start(command, import_folder(job))
    except Exception:
        _remove_link(job, link)  # nothing ran
        raise
    process.update(attempt=job.attempt, output=command.output, started=states.epoch_seconds(job.now))
    job.zone.set_avu(job.record, names.AVU_IMPORTER, json.dumps(process, sort_keys=True))
    _set_state(job, names.IMPORTING)
    job.zone.schedule(CHECK_RULE, [job.record, str(job.attempt)], job.config.omero_import.check_seconds)
    job.zone.log("omero-irods: import of %s started (attempt %d, pid %s); its output goes to %s"
                 % (import_root, job.attempt, process.get("pid"), import_folder(job)))


def import_folder(job):
    """This attempt's private folder of the importer's logs and exit status (a local path)."""
    rid = _request_id(job)
    if rid in ("", ".", "..") or os.sep in rid:
        raise Rejected("invalid", "request id %r cannot name a folder" % rid)
    return os.path.join(job.config.omero_import.log_folder, rid, "%s%d" % (records.IMPORT_ATTEMPT, job.attempt))


def _importer_process(avus):
    try:
        process = json.loads(records.value(avus, names.AVU_IMPORTER) or "null")
    except ValueError:
        return None
    return process if isinstance(process, dict) else None


def _check_import(job, avus, importer, process, now):
    """Still running: check again later (stopping it first past the admin's limit). Ended or
    lost: the first check to claim `checked-N` records the result and closes the session."""
    zone, settings, folder = job.zone, job.config.omero_import, import_folder(job)
    try:
        status = importer.status(folder, process)
        if status.state == "running":
            if settings.max_seconds and now - process.get("started", now) >= settings.max_seconds:
                importer.stop(folder, process)
                zone.log("omero-irods: import of %s ran longer than omero_import.max_seconds (%ds): stopped"
                         % (job.record, settings.max_seconds))
            zone.set_avu(job.record, names.AVU_STATE_SINCE, str(now))  # activity: not idle (see watch.sweep)
            zone.schedule(CHECK_RULE, [job.record, str(job.attempt)], settings.check_seconds)
            return
    except Exception as error:  # trouble reading it: look again later, never start it twice
        zone.log("omero-irods: import check of %s failed (%s); checking again in %ds"
                 % (job.record, error, settings.check_seconds))
        zone.schedule(CHECK_RULE, [job.record, str(job.attempt)], settings.check_seconds)
        return
    if not _claim(job, records.IMPORT_CHECKED):
        return
    import_root = records.value(avus, names.AVU_IMPORT_ROOT)
    link = (names.AVU_LINKED_ROOT, import_root, records.value(avus, names.AVU_OMERO_USER))
    _finish_session(job, importer, folder)
    try:
        if status.state == "lost":
            _fail_checked(job, import_root, "%s; its output is in %s" % (status.reason, folder))
            return
        retry = _record_import(job, import_root, link, status.run, process.get("output", "yaml"), folder)
    except Exception as error:  # the importer ran: never import again by ourselves
        import traceback

        zone.log("omero-irods: internal error on %s:\n%s" % (job.record, traceback.format_exc()))
        _fail_checked(job, import_root, "recording its result failed (%s); its output is in %s" % (error, folder))
        return
    if retry is not None:
        _set_state(job, names.IMPORT_QUEUED)  # nothing was created: another attempt is safe
        _retry_or_fail(job, IMPORT_RULE, retry)


def _finish_session(job, importer, folder):
    try:
        importer.finish(folder)
    except Exception as error:  # the session ends by itself when its time to live is over
        job.zone.log("omero-irods: could not close the OMERO session of %s: %s" % (job.record, error))


def _fail_checked(job, import_root, problem):
    job.zone.set_avu(job.record, names.AVU_ERROR, "attempt %d: %s. Check OMERO before reprocessing: a "
                     "reprocess imports every file again" % (job.attempt, problem))
    _fail(job, "import of %s failed for good: %s" % (import_root, problem))


def _as_int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _import_command(job, avus):
    """The importer run, checked again from the record: the OMERO user is still mapped, the
    root is inside the allowed roots, its mapped iRODS user may read every file, and the
    target is a valid `-T`. (ImportCommand, import root, OMERO user)."""
    zone, zcfg = job.zone, job.zone_config
    omero_user, omero_group = records.value(avus, names.AVU_OMERO_USER), records.value(avus, names.AVU_OMERO_GROUP)
    identity = _mapped_identity(job, omero_user, omero_group)
    import_root = records.value(avus, names.AVU_IMPORT_ROOT)
    check_inside_roots(import_root, zcfg)
    objects = _importable_objects(zone, import_root)
    if not objects:
        raise Rejected("not_found", "%s holds no files the service account can read" % import_root)
    _check_readable(zone, import_root, objects, identity.irods_user)
    plan = plan_import(records.value(avus, names.AVU_OPERATION), import_root, objects)
    if plan.packet:
        check_packet(zone.read(plan.packet, MAX_PACKET_BYTES), import_root, objects)
    command = command_for_plan(job.config.omero_import, plan, omero_user, omero_group,
                               target=records.value(avus, names.AVU_OMERO_TARGET))
    return command, import_root, omero_user


def _record_link(job, import_root, link):
    """The link in `<records>/links/<rid>` (per OMERO user: the guard names who holds it), and
    the allowed root it lies in on `<records>/links`: the guard's string test keeps every root
    anything was ever linked in, whatever the config says later. Both readable by everyone
    (the guard queries as the caller), writable by the service account only."""
    zone, zcfg = job.zone, job.zone_config
    links = records.links_path(zcfg.records)
    entry = records.link_path(zcfg.records, _request_id(job))
    for collection in (links, entry):
        if zone.kind(collection) is None:
            zone.create_collection_exclusive(collection)  # False: another run made it meanwhile
        zone.grant(collection, records.LINKS_READERS, "read")
    records.secure_link_entry(zone, entry, zcfg.service_account)  # nobody else may remove what follows
    zone.add_avus(entry, [link])
    roots = [root for root in zcfg.allowed_roots if _at_or_below(import_root, root)]
    zone.add_avus(links, [(names.AVU_LINKED_UNDER, root, "") for root in roots])


def _remove_link(job, link):
    """Release a link nothing was linked under, but only from an entry nobody else may write:
    otherwise whoever may write there could have made it look released, so it stays (more
    protection, never less) and the log says why."""
    zone, zcfg = job.zone, job.zone_config
    entry = records.link_path(zcfg.records, _request_id(job))
    writers = records.link_entry_writers(zone, entry, zcfg.service_account)
    if writers:
        zone.log("omero-irods: the link %s on %s is kept: %s may write that entry, so it is not trusted (an iRODS "
                 "admin removes their access, then the link: imeta rm -C %s %s %s %s)" % (
                     link[1], entry, ", ".join("%s (%s)" % writer for writer in writers), entry, *link))
        return
    zone.remove_avus(entry, [link])


def _record_import(job, import_root, link, run, output, folder):
    """Imported with its image ids; or, if the importer may have created anything, `failed`
    for an admin to check OMERO first (never imported twice by itself); or the error to retry
    on (returned: nothing was created)."""
    zone = job.zone
    image_ids = parse_import_output(run.stdout, output).image_ids
    if image_ids:
        images = image_avus(image_ids)  # a count and ranges: a few AVUs however many images
        zone.add_avus(import_root, images)  # for people: what OMERO made of this data
        zone.add_avus(job.record, images)
    listed = ranges_of(image_ids)
    if run.exit_code == 0 and not run.timed_out and image_ids:
        _set_state(job, names.IMPORTED)
        zone.log("omero-irods: imported %s: images %s" % (import_root, listed))
        return None
    if run.timed_out:
        problem = "omero import ran longer than omero_import.max_seconds (%ds) and was stopped%s" % (
            job.config.omero_import.max_seconds or 0, "; it had created images %s" % listed if image_ids else "")
    elif image_ids:
        problem = "omero import exited with status %s after creating images %s%s" % (
            run.exit_code, listed, stderr_tail(run.stderr))
    elif run.exit_code == 0:
        problem = "omero import exited with status 0 but reported no images%s" % stderr_tail(run.stderr)
    else:
        _remove_link(job, link)  # nothing linked
        return import_failure(run.exit_code, run.stderr)  # and another attempt is safe
    _fail_checked(job, import_root, "%s (output in %s)" % (problem, folder))
    return None


# --- helpers -------------------------------------------------------------------------------


def _request_id(job):
    return posixpath.basename(job.record)


def _landing_request_id(path, landing_zone):
    """The request id of `<landing>/<rid>/<rid>.omero-irods.json`, else None."""
    collection, name = posixpath.split(path)
    rid = posixpath.basename(collection)
    if posixpath.dirname(collection) == landing_zone.rstrip("/") and name == payload_name(rid):
        return rid
    return None


def _at_or_below(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _remove_staging(job):
    """Remove the staging collections of this request's attempts: only the pipeline creates in
    a record, so whatever is named staging-N there is its own."""
    zone = job.zone
    if job.record is None:
        return
    for number in records.numbers(zone.names_in(job.record), records.STAGING):
        _remove_quietly(zone, records.claim_path(job.record, records.STAGING, number))


def _remove_quietly(zone, path):
    try:
        if zone.kind(path) is not None:
            zone.remove(path)
    except ZoneError as error:
        zone.log("omero-irods: could not remove %s: %s" % (path, error))


__all__ = ["Job", "process", "run_import", "check_import", "import_folder", "states", "check_records_trusted"]
