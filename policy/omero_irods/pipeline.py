"""The delayed work of one request: claim, validate, map, place, ACL, AVUs; then import.

Runs in the delay queue as the service account (never inside a PEP), against a
`ports.ZonePort`. Each public function is one delayed rule and never raises for the
request's own reasons: a request ends `rejected` (input that can never succeed),
is retried with backoff (transient trouble) and then `failed`, or moves on.

Placement is all-or-nothing for the user: data is extracted into a staging collection
inside the request's landing collection (which only the service account can see),
verified, given its ACLs and AVUs there, and only then renamed into place -- never onto
an existing name: a rename that meets one (perhaps hidden from the service account) moves
on to the next suffix. A retry removes a stale staging collection first, and recognises a
destination it already published (recorded as `omero_irods::destination` before the rename).
"""

import posixpath
from collections import namedtuple

from omero_irods import names, states, watch
from omero_irods.archive import list_members
from omero_irods.config import check_payload_limits
from omero_irods.errors import ConfigError, Rejected, Transient
from omero_irods.manifest import PlacedObject, compare_with_members, compare_with_objects, hex_to_irods_checksum
from omero_irods.mapping import map_identity
from omero_irods.omero_import import build_import_command, import_failure, parse_import_output
from omero_irods.payload import parse_payload, payload_name
from omero_irods.placement import check_fits, check_inside_roots, choose_destination, placement_path
from omero_irods.ports import AlreadyExists, ZoneError
from omero_irods.provisioning import CREATE_COLLECTION, SET_ACL, SET_INHERITANCE, plan_user_provisioning

AVU_DESTINATION = names.AVU_DESTINATION
AVU_ATTEMPT = names.AVU_ATTEMPT
AVU_SHA256 = names.avu("sha256")
AVU_PAYLOAD = names.avu("payload")
STAGING = ".staging"

PROCESS_RULE = "omero_irods_process"
IMPORT_RULE = "omero_irods_import"

#: What a delayed rule is working on.
Job = namedtuple("Job", "zone config zone_config payload_path attempt now")


# --- the two delayed rules ---------------------------------------------------------------


def process(job):
    """omero_irods_process: claim the payload, then validate and place the request."""
    if not _claim(job):
        return
    _guarded(job, PROCESS_RULE, _validate_and_place)


def run_import(job, runner):
    """omero_irods_import: run the in-place import; `runner(ImportCommand)` -> (exit, out, err)."""
    state = _state(job.zone, job.payload_path)
    if state != names.IMPORT_QUEUED:
        job.zone.log("omero-irods: import of %s skipped: state is %s" % (job.payload_path, state))
        return
    _guarded(job, IMPORT_RULE, lambda j: _import(j, runner))


# --- claim and outcome bookkeeping -------------------------------------------------------


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
    if job.attempt == 1:
        _set_state(zone, job.payload_path, names.RECEIVED)
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


def _reject(job, error):
    zone = job.zone
    _remove_quietly(zone, _staging_path(job.payload_path))
    zone.set_avu(job.payload_path, names.AVU_ERROR, error.summary())
    _set_state(zone, job.payload_path, names.REJECTED)
    zone.log("omero-irods: %s: %s" % (job.payload_path, error.summary()))


def _retry_or_fail(job, rule_name, error):
    zone, retry = job.zone, job.config.retry
    message = getattr(error, "summary", lambda: str(error))()
    _remove_quietly(zone, _staging_path(job.payload_path))
    zone.set_avu(job.payload_path, names.AVU_ERROR, "attempt %d: %s" % (job.attempt, message))
    delay = retry.delay_after(job.attempt)
    if delay is None:
        _set_state(zone, job.payload_path, names.FAILED)
        watch.schedule_watch(zone, job.config, job.payload_path)  # waits for an admin's reprocess mark
        zone.log("omero-irods: failed %s after %d attempts: %s" % (job.payload_path, job.attempt, message))
        return
    zone.schedule(rule_name, [job.payload_path, str(job.attempt + 1)], delay)
    zone.log("omero-irods: %s attempt %d failed (%s); retry in %ds" % (job.payload_path, job.attempt, message, delay))


def _set_state(zone, payload_path, state):
    zone.set_avu(payload_path, names.AVU_STATE, state)
    if state in (names.PLACED, names.IMPORTED):  # a retried step succeeded: its old error is void
        _clear_error(zone, payload_path)


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
        _set_state(zone, job.payload_path, names.VALIDATED)


def _verify_data(job, payload):
    """The named data exists, has the declared size and sha256, and its members are safe."""
    zone, data = job.zone, payload.data
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
    if zone.checksum(tar_path) != hex_to_irods_checksum(data.sha256):
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
    staging = _staging_path(job.payload_path)
    _remove_quietly(zone, staging)
    _stage(zone, payload, data_path, staging)
    _verify_placed(zone, payload, staging)
    content = _content_root(payload, staging)
    _apply_acls(zone, zcfg, identity, content)
    zone.add_avus(content, _provenance(payload, job.payload_path))
    zone.create_collection(posixpath.dirname(planned))
    destination = _rename_into_place(job, content, planned, taken)
    _remove_quietly(zone, staging)  # empty now, unless a top folder was unwrapped out of it
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
            taken.add(posixpath.basename(destination))


def _free_destination(job, planned, taken):
    """The first candidate name not in `taken` (a set of names in the parent), inside the roots."""
    zcfg = job.zone_config
    destination = choose_destination(planned, lambda path: posixpath.basename(path) in taken, zcfg.on_collision,
                                     job.config.limits.name_length)
    check_inside_roots(destination, zcfg)
    return destination


def _stage(zone, payload, data_path, staging):
    zone.create_collection(posixpath.dirname(staging))
    if payload.data.kind == "tar":
        zone.extract_tar(data_path, staging)
    else:
        zone.rename(data_path, staging)


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
    zone, zcfg = job.zone, job.zone_config
    record = destination + names.PAYLOAD_SUFFIX
    if zone.kind(record) is None:
        zone.rename(job.payload_path, record)
        zone.grant(record, identity.irods_user, "read")
    landing_collection = posixpath.dirname(job.payload_path)
    _remove_quietly(zone, landing_collection)
    job = job._replace(payload_path=record)
    _set_state(zone, record, names.PLACED)
    if payload.operation == names.INGEST:
        _queue_import(job, destination, payload)


def _queue_import(job, import_root, payload):
    """Record what the import rule needs (it reads AVUs, never the payload again)."""
    zone = job.zone
    zone.set_avu(job.payload_path, names.AVU_IMPORT_ROOT, import_root)
    if payload.target.omero_dataset:
        zone.set_avu(job.payload_path, names.AVU_OMERO_TARGET, payload.target.omero_dataset)
    _set_state(zone, job.payload_path, names.IMPORT_QUEUED)
    zone.schedule(IMPORT_RULE, [job.payload_path, "1"], 1)


def _check_load_source(job, payload, identity):
    """A load links a snapshot already in iRODS into OMERO for the mapped user: only inside
    the allowed roots, only a collection, only one that user may read in iRODS, and one the
    service account can read (it hands the importer the files)."""
    zone, source = job.zone, payload.source_path
    check_inside_roots(source, job.zone_config)
    if zone.kind(source) != "collection":
        raise Rejected("not_found", "%s is not a collection the service account can see" % source,
                       pointer="/source/path")
    if not zone.can_read(source, identity.irods_user):
        raise Rejected("not_permitted", "iRODS user %s may not read %s" % (identity.irods_user, source),
                       pointer="/source/path")
    if not zone.tree(source):
        raise Rejected("not_found", "%s holds no files the service account can read" % source,
                       pointer="/source/path")


# --- import --------------------------------------------------------------------------------


def _import(job, runner):
    zone = job.zone
    avus = zone.avus(job.payload_path)
    import_root = _avu_value(avus, names.AVU_IMPORT_ROOT)
    paths = sorted(obj["physical_path"] for obj in zone.tree(import_root))
    command = build_import_command(
        job.config.omero_import,
        _avu_value(avus, names.AVU_OMERO_USER),
        _avu_value(avus, names.AVU_OMERO_GROUP),
        paths,
        target=_avu_value(avus, names.AVU_OMERO_TARGET),
    )
    exit_code, stdout, stderr = runner(command)
    if exit_code != 0:
        raise import_failure(exit_code, stderr)
    result = parse_import_output(stdout)
    images = [(names.AVU_OMERO_IMAGE, str(image), "") for image in result.image_ids]
    if images:
        zone.add_avus(import_root, images)
        zone.add_avus(job.payload_path, images)
    _set_state(zone, job.payload_path, names.IMPORTED)
    zone.log("omero-irods: imported %s: images %s" % (import_root, ", ".join(str(i) for i in result.image_ids)))


# --- helpers -------------------------------------------------------------------------------


def _request_id_from_name(payload_path):
    return posixpath.basename(payload_path)[: -len(names.PAYLOAD_SUFFIX)]


def _staging_path(payload_path):
    return posixpath.join(posixpath.dirname(payload_path), STAGING)


def _remove_quietly(zone, path):
    try:
        if zone.kind(path) is not None:
            zone.remove(path)
    except ZoneError as error:
        zone.log("omero-irods: could not remove %s: %s" % (path, error))


__all__ = ["Job", "process", "run_import", "states"]
