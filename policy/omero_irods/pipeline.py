"""The delayed work of one request: claim, validate, map, place, ACL, AVUs; then import.

Runs in the delay queue as the service account (never inside a PEP), against a
`ports.ZonePort`. Each public function is one delayed rule and never raises for the
request's own reasons: a request ends `rejected` (input that can never succeed),
is retried with backoff (transient trouble) and then `failed`, or moves on.

Placement is all-or-nothing for the user: a tar is extracted into a staging collection in
the landing zone (which only the service account can see), a pushed collection stays where
the client put it; either is verified, given its ACLs and AVUs there, and only then renamed
into place -- never onto an existing name or one whose record is still there: a rename that
meets one (perhaps hidden from the service account) moves on to the next suffix. A retry
removes a stale staging collection first, and recognises a destination it already published
(recorded as `omero_irods::destination` before the rename). Nothing the client pushed is
removed before it is placed.

The import runs once per claimed attempt (`omero_irods::import_attempt`), for records of the
service account's only; when the importer may have created images but did not succeed, the
request ends `failed` for an admin to check OMERO: it is never imported twice by itself.
"""

import posixpath
from collections import namedtuple

from omero_irods import names, states, watch
from omero_irods.archive import list_members
from omero_irods.config import check_payload_limits
from omero_irods.errors import ConfigError, Rejected, Transient
from omero_irods.manifest import (PlacedObject, compare_with_members, compare_with_objects, hex_to_irods_checksum,
                                  require_sha256_checksum)
from omero_irods.mapping import map_identity
from omero_irods.omero_import import (build_import_command, import_failure, parse_import_output, stderr_tail,
                                     vault_directory)
from omero_irods.payload import parse_payload, payload_name
from omero_irods.placement import check_fits, check_inside_roots, choose_destination, placement_path
from omero_irods.ports import AlreadyExists, ZoneError
from omero_irods.provisioning import CREATE_COLLECTION, SET_ACL, SET_INHERITANCE, plan_user_provisioning

AVU_DESTINATION = names.AVU_DESTINATION
AVU_ATTEMPT = names.AVU_ATTEMPT
AVU_SHA256 = names.avu("sha256")
AVU_PAYLOAD = names.avu("payload")
AVU_STAGING = names.avu("staging")  # marks a staging collection as the pipeline's own
STAGING = ".staging"

PROCESS_RULE = "omero_irods_process"
IMPORT_RULE = "omero_irods_import"

#: What a delayed rule is working on.
Job = namedtuple("Job", "zone config zone_config payload_path attempt now")


# --- the two delayed rules ---------------------------------------------------------------


def process(job):
    """omero_irods_process: claim the payload, then validate and place the request."""
    _guarded(job, PROCESS_RULE, _claim_and_place)


def run_import(job, runner):
    """omero_irods_import: run the in-place import; `runner(ImportCommand)` -> ImportRun."""
    if job.zone.kind(job.payload_path) != "data_object":
        job.zone.log("omero-irods: import of %s skipped: it is gone" % job.payload_path)
        return
    avus = job.zone.avus(job.payload_path)
    if not _is_trusted_record(job, avus):
        return
    state = _avu_value(avus, names.AVU_STATE)
    if state != names.IMPORT_QUEUED:
        job.zone.log("omero-irods: import of %s skipped: state is %s" % (job.payload_path, state))
        return
    _guarded(job, IMPORT_RULE, lambda j: _claim_and_import(j, avus, runner))


# --- claim and outcome bookkeeping -------------------------------------------------------


def _claim_and_place(job):
    if not _claim(job):
        return
    state = _state(job.zone, job.payload_path)
    if state in states.FINISHED:  # a stray rule: the watcher sets `received` before it queues one
        job.zone.log("omero-irods: %s attempt %d not run: the request is %s" % (job.payload_path, job.attempt, state))
        return
    if _is_landing_payload(job):
        _validate_and_place(job)
    else:
        _resume_after_the_move(job, state)


def _resume_after_the_move(job, state):
    """A retry (or reprocess) of a request whose payload already moved next to its data as its
    record: only what followed the move is left to do."""
    zone, limit = job.zone, job.config.limits.payload_bytes
    record = job.payload_path
    if not record.endswith(names.PAYLOAD_SUFFIX) or not _owned_by_service_account(job, record):
        zone.log("omero-irods: %s is neither a landing payload nor a record of the service account; not processed"
                 % record)
        return
    payload = parse_payload(zone.read(record, limit), limit)
    _remove_quietly(zone, posixpath.join(job.zone_config.landing_zone, payload.request_id))
    if state != names.PLACED:
        _set_state(job, record, names.PLACED)
    if payload.operation == names.INGEST:
        _queue_import(job, record[: -len(names.PAYLOAD_SUFFIX)], payload)


def _claim(job):
    """Once-only: the AVU add fails if this attempt was already claimed by another event."""
    zone = job.zone
    if zone.kind(job.payload_path) != "data_object":  # placed (and moved) by an earlier event
        zone.log("omero-irods: %s is no longer there; duplicate event ignored" % job.payload_path)
        return False
    try:
        zone.add_avu_once(job.payload_path, AVU_ATTEMPT, str(job.attempt))
    except AlreadyExists:
        zone.log("omero-irods: %s attempt %d already claimed; duplicate event ignored" % (job.payload_path, job.attempt))
        return False
    if _state(zone, job.payload_path) is None:
        _set_state(job, job.payload_path, names.RECEIVED)
        # so that an admin finds it by request id even if its content is never readable
        zone.set_avu(job.payload_path, names.AVU_REQUEST_ID, _request_id_from_name(job.payload_path))
    return True


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

        job.zone.log("omero-irods: internal error on %s:\n%s" % (job.payload_path, traceback.format_exc()))
        _retry_or_fail(job, rule_name, error)


def _reject(job, error):
    zone = job.zone
    _remove_staging(job)
    job = _at_current_place(job)
    if job is None:
        return
    zone.set_avu(job.payload_path, names.AVU_ERROR, error.summary())
    _set_state(job, job.payload_path, names.REJECTED)
    zone.log("omero-irods: %s: %s" % (job.payload_path, error.summary()))


def _retry_or_fail(job, rule_name, error):
    zone, retry = job.zone, job.config.retry
    message = getattr(error, "summary", lambda: str(error))()
    _remove_staging(job)
    job = _at_current_place(job)
    if job is None:
        return
    zone.set_avu(job.payload_path, names.AVU_ERROR, "attempt %d: %s" % (job.attempt, message))
    delay = retry.delay_after(job.attempt)
    if delay is None:
        _fail(job, "failed %s after %d attempts: %s" % (job.payload_path, job.attempt, message))
        return
    # activity: a request waiting for its retry is not idle (see watch.sweep)
    zone.set_avu(job.payload_path, names.AVU_STATE_SINCE, str(states.epoch_seconds(job.now)))
    zone.schedule(rule_name, [job.payload_path, str(job.attempt + 1)], delay)
    zone.log("omero-irods: %s attempt %d failed (%s); retry in %ds" % (job.payload_path, job.attempt, message, delay))


def _fail(job, log_line):
    """`failed`, watched for an admin's reprocess mark."""
    _set_state(job, job.payload_path, names.FAILED)
    watch.schedule_watch(job.zone, job.config, job.payload_path)
    job.zone.log("omero-irods: " + log_line)


def _at_current_place(job):
    """The job at its payload's current path, or None (logged) when it cannot be found.

    _finish_placement moves a landing payload next to the placed data as its record; a failure
    after that must be written there. The request id is in the landing payload's name, and the
    record carries it as omero_irods::request_id (only records of the service account's count:
    a user can attach that AVU to an object of their own)."""
    zone = job.zone
    if zone.kind(job.payload_path) == "data_object":
        return job
    if _is_landing_payload(job):
        request_id = _request_id_from_name(job.payload_path)
        records = [path for path in zone.find_by_avu(names.AVU_REQUEST_ID, request_id)
                   if path.endswith(names.PAYLOAD_SUFFIX) and _owned_by_service_account(job, path)]
        if len(records) == 1:
            return job._replace(payload_path=records[0])
    zone.log("omero-irods: %s is gone and no single record of it was found; its outcome is not recorded"
             % job.payload_path)
    return None


def _set_state(job, payload_path, state):
    states.record_state(job.zone, payload_path, state, states.epoch_seconds(job.now))
    if state in (names.PLACED, names.IMPORTED):  # a retried step succeeded: its old error is void
        _clear_error(job.zone, payload_path)


def _clear_error(zone, payload_path):
    errors = [avu for avu in zone.avus(payload_path) if avu[0] == names.AVU_ERROR]
    if errors:
        zone.remove_avus(payload_path, errors)


def _state(zone, payload_path):
    return _avu_value(zone.avus(payload_path), names.AVU_STATE)


def _avu_value(avus, attribute):
    values = [value for name, value, _units in avus if name == attribute]
    return values[-1] if values else None


# --- validate ------------------------------------------------------------------------------


def _validate_and_place(job):
    payload = _validated_payload(job)
    identity = map_identity(job.zone_config.user_map, payload.omero_user, payload.omero_group, job.zone.zone_name)
    _record_request(job, payload)
    if payload.operation == names.LOAD:
        _check_load_source(job, payload, identity)
        _queue_import(job, payload.source_path, payload)
        return
    data_path = _verify_data(job, payload)
    if job.config.admin_mode:
        _provision_in_admin_mode(job, identity)
    destination = _published_destination(job, payload) or _publish(job, payload, identity, data_path)
    _finish_placement(job, payload, destination, identity)


def _validated_payload(job):
    """Authorise the upload, then parse and check the payload and its limits."""
    zone, zcfg = job.zone, job.zone_config
    info = zone.data_object(job.payload_path)
    if info["owner"] != zcfg.service_account:
        raise Rejected("not_permitted", "payload is owned by %r, not the service account" % info["owner"])
    max_bytes = job.config.limits.payload_bytes
    if info["size"] > max_bytes:
        raise Rejected("too_large", "payload is %d bytes; the limit is %d" % (info["size"], max_bytes))
    payload = parse_payload(zone.read(job.payload_path, max_bytes), max_bytes)
    expected = posixpath.join(zcfg.landing_zone, payload.request_id, payload_name(payload.request_id))
    if job.payload_path != expected:
        raise Rejected(
            "inconsistent",
            "payload for request %s must be at %s, not %s" % (payload.request_id, expected, job.payload_path),
            pointer="/request_id",
        )
    check_payload_limits(payload, job.config.limits)
    return payload


def _record_request(job, payload):
    zone = job.zone
    zone.set_avu(job.payload_path, names.AVU_REQUEST_ID, payload.request_id)
    zone.set_avu(job.payload_path, names.AVU_OPERATION, payload.operation)
    zone.set_avu(job.payload_path, names.AVU_OMERO_USER, payload.omero_user)
    zone.set_avu(job.payload_path, names.AVU_OMERO_GROUP, payload.omero_group)
    if _state(zone, job.payload_path) == names.RECEIVED:
        _set_state(job, job.payload_path, names.VALIDATED)


def _verify_data(job, payload):
    """The named data exists, has the declared size and sha256, and its members are safe."""
    zone, data = job.zone, payload.data
    if data.name.startswith("."):  # hidden names are the policy's own (and '.'/'..' are no names)
        raise Rejected("inconsistent", "data name %r starts with '.'" % data.name, pointer="/data/name")
    data_path = posixpath.join(posixpath.dirname(job.payload_path), data.name)
    kind = zone.kind(data_path)
    if kind is None:
        raise Rejected("not_found", "the payload names %s, which is not in the landing collection" % data.name)
    if data.kind == "tar":
        _verify_tar(job, payload, data_path)
    elif kind != "collection":
        raise Rejected("inconsistent", "%s is not a collection" % data.name, pointer="/data/kind")
    return data_path


def _verify_tar(job, payload, tar_path):
    zone, data = job.zone, payload.data
    size = zone.data_object(tar_path)["size"]
    if size != data.size:
        raise Rejected("manifest_mismatch", "%s is %d bytes; the payload says %d" % (data.name, size, data.size))
    checksum = zone.checksum(tar_path)
    require_sha256_checksum(checksum, data.name)
    if checksum != hex_to_irods_checksum(data.sha256):
        raise Rejected("checksum_mismatch", "%s does not have the sha256 the payload names" % data.name)
    with zone.open_reader(tar_path) as reader:
        members = list_members(reader, job.config.archive_limits, what=data.name)
    compare_with_members(payload.manifest, members).raise_if_bad("archive " + data.name)


# --- place ---------------------------------------------------------------------------------


def _published_destination(job, payload):
    """The destination an earlier attempt already published, if it did."""
    zone = job.zone
    destination = _avu_value(zone.avus(job.payload_path), AVU_DESTINATION)
    if destination and zone.kind(destination) == "collection":
        if _avu_value(zone.avus(destination), names.AVU_REQUEST_ID) == payload.request_id:
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
    _apply_acls(zone, zcfg, identity, content)
    zone.add_avus(content, _provenance(payload, job.payload_path))
    zone.create_collection(posixpath.dirname(planned))
    destination = _rename_into_place(job, content, planned, taken)
    if content == staged and payload.data.kind == "tar":  # the mark came along
        zone.remove_avus(destination, [_staging_mark(job)])
    _remove_staging(job)  # empty now, unless a top folder was unwrapped out of it
    zone.log("omero-irods: placed %s at %s for %s" % (payload.request_id, destination, identity.irods_user))
    return destination


def _rename_into_place(job, staging, planned, taken):
    """Rename to the first free name. A name the service account cannot see (or one created
    since the listing) shows up only as a failed rename: then the next name is tried."""
    while True:
        destination = _free_destination(job, planned, taken)
        job.zone.set_avu(job.payload_path, AVU_DESTINATION, destination)
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
    A name whose record (`<name>.omero-irods.json`) is there is taken too: the record of a
    request whose data was removed stays, and a new request must not inherit it."""
    zcfg = job.zone_config

    def is_taken(path):
        name = posixpath.basename(path)
        return name in taken or name + names.PAYLOAD_SUFFIX in taken

    destination = choose_destination(planned, is_taken, zcfg.on_collision, job.config.limits.name_length)
    check_inside_roots(destination, zcfg)
    return destination


def _stage(job, payload, data_path):
    """The collection the data is verified in before it is published.

    A tar is extracted into `<landing>/<rid>/.staging`, marked as the pipeline's own before
    anything is extracted into it (data names never start with '.', and cleanup removes only
    a marked collection). A collection push is verified where the client put it, in the
    landing collection only the service account sees: it moves nowhere before the final
    rename, so a failure leaves the only copy where it was."""
    if payload.data.kind != "tar":
        return data_path
    zone, staging = job.zone, _staging_path(job)
    _remove_staging(job)
    zone.create_collection(staging)
    zone.add_avus(staging, [_staging_mark(job)])
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


def _apply_acls(zone, zcfg, identity, collection):
    zone.grant(collection, zcfg.service_account, zcfg.acl.service_account, recursive=True)
    zone.grant(collection, identity.irods_user, zcfg.acl.user, recursive=True)
    if identity.irods_group and zcfg.acl.group != "null":
        zone.grant(collection, identity.irods_group, zcfg.acl.group, recursive=True)
    zone.set_inheritance(collection, recursive=True)


def _provenance(payload, payload_path):
    avus = [
        (names.AVU_REQUEST_ID, payload.request_id, ""),
        (names.AVU_OPERATION, payload.operation, ""),
        (names.AVU_OMERO_USER, payload.omero_user, ""),
        (names.AVU_OMERO_GROUP, payload.omero_group, ""),
        (AVU_PAYLOAD, payload_path, ""),
    ]
    if payload.data.sha256:
        avus.append((AVU_SHA256, payload.data.sha256, ""))
    return avus


def _finish_placement(job, payload, destination, identity):
    """Move the payload next to the data as its record; clean the landing collection."""
    zone = job.zone
    record = destination + names.PAYLOAD_SUFFIX  # free: _free_destination saw to it
    zone.rename(job.payload_path, record)
    zone.grant(record, identity.irods_user, "read")
    landing_collection = posixpath.dirname(job.payload_path)
    job = job._replace(payload_path=record)
    _remove_quietly(zone, landing_collection)
    _set_state(job, record, names.PLACED)
    if payload.operation == names.INGEST:
        _queue_import(job, destination, payload)


def _queue_import(job, import_root, payload):
    """Record what the import rule needs (it reads AVUs, never the payload again)."""
    zone = job.zone
    zone.set_avu(job.payload_path, names.AVU_IMPORT_ROOT, import_root)
    if payload.target.omero_dataset:
        zone.set_avu(job.payload_path, names.AVU_OMERO_TARGET, payload.target.omero_dataset)
    _set_state(job, job.payload_path, names.IMPORT_QUEUED)
    zone.schedule(IMPORT_RULE, [job.payload_path, "1"], 1)


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
    """What the importer gets below `root`: every data object but payload records (the
    service account's JSON, not the user's data)."""
    return [obj for obj in zone.tree(root) if not obj["path"].endswith(names.PAYLOAD_SUFFIX)]


def _check_readable(zone, root, objects, irods_user, pointer=None):
    """Rejected unless `irods_user` may read every object (one query for the whole tree)."""
    readable = zone.readable_by(root, irods_user)
    hidden = [obj["path"] for obj in objects if obj["path"] not in readable]
    if hidden:
        raise Rejected("not_permitted", "iRODS user %s may not read %d of the %d files below %s, e.g. %s"
                       % (irods_user, len(hidden), len(objects), root, ", ".join(hidden[:3])), pointer=pointer)


# --- import --------------------------------------------------------------------------------


def _is_trusted_record(job, avus):
    """Only what the pipeline itself queued is imported: an object of the service account's,
    at the place the pipeline keeps it -- next to its import root (ingest) or in the landing
    zone (load). A look-alike with forged AVUs is refused here, and nothing is written to it."""
    zone, zcfg, path = job.zone, job.zone_config, job.payload_path
    if _avu_value(avus, names.AVU_OPERATION) == names.LOAD:
        expected = _is_landing_payload(job)
    else:
        expected = path == "%s%s" % (_avu_value(avus, names.AVU_IMPORT_ROOT), names.PAYLOAD_SUFFIX)
    if expected and _owned_by_service_account(job, path):
        return True
    zone.log("omero-irods: import of %s refused: not a record of the service account %s where the pipeline "
             "keeps records" % (path, zcfg.service_account))
    return False


def _claim_and_import(job, avus, runner):
    zone = job.zone
    try:
        zone.add_avu_once(job.payload_path, names.AVU_IMPORT_ATTEMPT, str(job.attempt))
    except AlreadyExists:
        zone.log("omero-irods: import of %s attempt %d already claimed; duplicate ignored" % (job.payload_path, job.attempt))
        return
    command, import_root = _import_command(job, avus)
    _record_import(job, import_root, runner(command))


def _import_command(job, avus):
    """The importer run, checked again from the record's AVUs: the OMERO user is still mapped,
    the root is inside the allowed roots, its mapped iRODS user may read every file, and the
    target is a valid `-T`. (ImportCommand, import root)."""
    zone, zcfg = job.zone, job.zone_config
    omero_user, omero_group = _avu_value(avus, names.AVU_OMERO_USER), _avu_value(avus, names.AVU_OMERO_GROUP)
    identity = map_identity(zcfg.user_map, omero_user, omero_group, zone.zone_name)
    import_root = _avu_value(avus, names.AVU_IMPORT_ROOT)
    check_inside_roots(import_root, zcfg)
    objects = _importable_objects(zone, import_root)
    if not objects:
        raise Rejected("not_found", "%s holds no files the service account can read" % import_root)
    _check_readable(zone, import_root, objects, identity.irods_user)
    layout = vault_directory(import_root, objects) if _avu_value(avus, names.AVU_OPERATION) == names.INGEST else None
    paths, depth = ([layout[0]], layout[1]) if layout else (sorted(obj["physical_path"] for obj in objects), None)
    command = build_import_command(job.config.omero_import, omero_user, omero_group, paths,
                                   target=_avu_value(avus, names.AVU_OMERO_TARGET), depth=depth)
    return command, import_root


def _record_import(job, import_root, run):
    """Imported with its image ids; or, if the importer may have created anything, `failed`
    for an admin to check OMERO first (never imported twice by itself); or a retry."""
    zone = job.zone
    image_ids = parse_import_output(run.stdout).image_ids
    if image_ids:
        images = [(names.AVU_OMERO_IMAGE, str(image), "") for image in image_ids]
        zone.add_avus(import_root, images)
        zone.add_avus(job.payload_path, images)
    listed = ", ".join(str(image) for image in image_ids)
    if run.exit_code == 0 and not run.timed_out and image_ids:
        _set_state(job, job.payload_path, names.IMPORTED)
        zone.log("omero-irods: imported %s: images %s" % (import_root, listed))
        return
    if run.timed_out:
        problem = "omero import took longer than %ds and was stopped%s" % (
            job.config.omero_import.timeout_seconds, "; it had created images %s" % listed if image_ids else "")
    elif image_ids:
        problem = "omero import exited with status %s after creating images %s%s" % (
            run.exit_code, listed, stderr_tail(run.stderr))
    elif run.exit_code == 0:
        problem = "omero import exited with status 0 but reported no images%s" % stderr_tail(run.stderr)
    else:
        raise import_failure(run.exit_code, run.stderr)  # it created nothing: another attempt is safe
    zone.set_avu(job.payload_path, names.AVU_ERROR, "attempt %d: %s. Check OMERO before reprocessing: a "
                 "reprocess imports every file again" % (job.attempt, problem))
    _fail(job, "import of %s failed for good: %s" % (import_root, problem))


# --- helpers -------------------------------------------------------------------------------


def _request_id_from_name(payload_path):
    return posixpath.basename(payload_path)[: -len(names.PAYLOAD_SUFFIX)]


def _is_landing_payload(job):
    """Is the job's path `<landing>/<rid>/<rid>.omero-irods.json`?"""
    collection, name = posixpath.split(job.payload_path)
    return (posixpath.dirname(collection) == job.zone_config.landing_zone.rstrip("/")
            and name == posixpath.basename(collection) + names.PAYLOAD_SUFFIX)


def _owned_by_service_account(job, path):
    try:
        return job.zone.data_object(path)["owner"] == job.zone_config.service_account
    except ZoneError:
        return False


def _staging_path(job):
    """`<landing>/<rid>/.staging` (see _stage), or None for a job whose payload is not in the
    landing zone (after placement there is nothing staged)."""
    if not _is_landing_payload(job):
        return None
    return posixpath.join(posixpath.dirname(job.payload_path), STAGING)


def _staging_mark(job):
    return (AVU_STAGING, _request_id_from_name(job.payload_path), "")


def _remove_staging(job):
    """Remove the staging collection if it is the pipeline's (marked): a collection the client
    pushed under that name is its data and stays."""
    zone, staging = job.zone, _staging_path(job)
    if staging and zone.kind(staging) == "collection" and _staging_mark(job) in zone.avus(staging):
        _remove_quietly(zone, staging)


def _remove_quietly(zone, path):
    try:
        if zone.kind(path) is not None:
            zone.remove(path)
    except ZoneError as error:
        zone.log("omero-irods: could not remove %s: %s" % (path, error))


__all__ = ["Job", "process", "run_import", "states"]
