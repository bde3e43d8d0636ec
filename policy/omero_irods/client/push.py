"""Push a request into the landing zone: its data streamed first, its payload last.

    <landing_zone>/<request_id>/                       created exclusively (never reused)
    <landing_zone>/<request_id>/<request_id>.tar       streamed pax tar (no temporary file)
    <landing_zone>/<request_id>/<request_id>.omero-irods.json   the payload: commit marker

The policy starts work when a payload is closed, so the payload is written last, in one
write, after the archive's size was checked. If anything fails before the payload's close
was attempted, the request's collection is removed (best effort) and no payload is left:
nothing fires. Once a close was attempted the policy may already be working on the request:
the payload is then never rewritten nor removed; its stored size is asked again, and when
that does not settle it the push fails with "commit state unknown" (cleaned_up False).
Transient errors (network, resource briefly down: adapters.prc.is_transient) are retried
with exponential backoff; a retried upload continues from what iRODS already holds (see
`_UploadJournal` for how that prefix is verified), and a retried collection create
recognises the collection its lost reply created. With a journal directory, a push that
still fails (or is interrupted) keeps its partial archive and can be resumed later by
`push(..., resume=True, request_id=ID)` from another process.

The archive's name derives from the request id, never from a folder name: a folder name may
hold characters (quotes, `++++`) the policy cannot use in a data object name.

Everything goes through `session`, a python-irodsclient iRODSSession or the sandbox's
SandboxSession, via `omero_irods.adapters.prc` (the PRC subset is listed there).
"""

import logging
import os
import posixpath
import time
from collections import namedtuple

from omero_irods import integrity, names
from omero_irods.adapters import prc
from omero_irods.client import resume as resume_module
from omero_irods.client import tarstream
from omero_irods.errors import Rejected
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload, new_request_id, payload_name

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 2.0
_PLACEHOLDER_SHA256 = "0" * 64
_FRESH_ID_ATTEMPTS = 5


class PushError(Exception):
    """A push failed; the message says what and where. `request_id` is None before one existed.

    `cleaned_up` tells whether the partial request was removed (False: removal failed too,
    or the payload may already have been committed, see the message).
    """

    def __init__(self, message, request_id=None, cleaned_up=True):
        super().__init__(message)
        self.request_id = request_id
        self.cleaned_up = cleaned_up


class IrodsUnreachable(PushError):
    """No connection to the iRODS server could be made (host down, wrong host or port, a
    firewall): worth trying again later."""


class AuthenticationRefused(PushError):
    """iRODS refused the service account's credentials (wrong or expired password, unknown
    user): fix the credentials; trying again will not help."""


class LandingZoneMissing(PushError):
    """The landing zone collection does not exist or the service account cannot see it."""


class PartialUploadKept(PushError):
    """The archive upload failed or was interrupted; what iRODS holds of it was kept (no
    payload, so nothing fires) and the push can be resumed with the same request id."""

    def __init__(self, message, request_id, held_bytes):
        super().__init__(message, request_id, cleaned_up=False)
        self.held_bytes = held_bytes


class CommitUnknown(PushError):
    """The payload's close was sent but its outcome could not be confirmed: the request may
    be processed. Nothing was removed; `omero-irods status ID` tells what became of it."""

    def __init__(self, message, request_id):
        super().__init__(message, request_id, cleaned_up=False)


PushResult = namedtuple("PushResult", "request_id collection data_path payload_path size sha256 members")
PushResult.__doc__ = """What a push left in the landing zone (data_path, size, sha256 are None for a load)."""

PushPlan = namedtuple("PushPlan", "name members predicted_size payload request")
PushPlan.__doc__ = """What a push would send: archive name, tarstream.Members, exact archive
size, the payload as validated with placeholder checksums (for --dry-run), and the request
fields it was made from."""


class _Request(namedtuple("_Request", "operation omero_user omero_group target_name omero_dataset "
                                      "omero_server omero_objects source_path")):
    """The payload fields the caller chose (everything but data, manifest, id, time)."""

    def payload(self, request_id, data=None, manifest=()):
        return make_payload(
            self.operation, request_id, self.omero_user, self.omero_group, data=data,
            manifest=manifest, target_name=self.target_name, omero_dataset=self.omero_dataset,
            source_path=self.source_path, omero_server=self.omero_server,
            omero_objects=self.omero_objects)


# ---------------------------------------------------------------- planning (no iRODS)


def plan_push(files_or_dir, operation, omero_user, omero_group, target=None, name=None,
              target_name=None, omero_server=None, omero_objects=(), follow_symlinks=False,
              request_id=None):
    """Check everything that can be checked before connecting; raise PushError if bad.

    `files_or_dir`: a path, a list of paths, or a list of tarstream.Member (OMERO files).
    """
    if operation not in (names.INGEST, names.SAVE):
        raise PushError("operation %r cannot carry data; use ingest or save (load: request_load)"
                        % (operation,))
    members, name = _members_and_name(files_or_dir, name, follow_symlinks)
    stream = tarstream.TarStream(members)
    request_id = request_id or new_request_id()
    name = name or archive_name(request_id)
    placeholder = [ManifestEntry(m.path, m.size, _PLACEHOLDER_SHA256) for m in members]
    data = DataRef("tar", name, stream.predicted_size, _PLACEHOLDER_SHA256, len(members))
    request = _Request(operation, omero_user, omero_group, target_name, target, omero_server,
                       tuple(omero_objects), None)
    if target_name is None:
        request = _with_folder_target_name(request, files_or_dir, request_id, data, placeholder)
    payload = _validated(request, request_id, data, placeholder)
    return PushPlan(name, members, stream.predicted_size, payload, request)


def _with_folder_target_name(request, files_or_dir, request_id, data, manifest):
    """The request with the pushed folder's name as the placed collection's name (`run1`
    for /data/run1), when the policy accepts that name; else unchanged (the policy then
    names the collection after the archive, i.e. the request id)."""
    items = [files_or_dir] if isinstance(files_or_dir, (str, bytes, os.PathLike)) else list(files_or_dir)
    if not items or any(isinstance(item, tarstream.Member) for item in items):
        return request
    folder = tarstream.default_archive_name(items)[:-len(".tar")]
    named = request._replace(target_name=folder)
    try:  # only the name is in question: a one-file payload checks it in O(1)
        named.payload(request_id, data._replace(members=1), manifest[:1])
    except Rejected:
        return request
    return named


def archive_name(request_id):
    """The archive's data object name: `<request_id>.tar` (request ids are safe names)."""
    return request_id + ".tar"


#: An archive name the caller chose: plain characters only, so it is usable as an iRODS data
#: object name and in the policy's record names (issue: a folder name with a quote or `++++`
#: made a name the policy could not use).
_SAFE_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_NAME_LENGTH = 128


def _checked_name(name):
    if not name.endswith(".tar"):
        name += ".tar"
    if (len(name) > MAX_NAME_LENGTH or name.startswith((".", "-"))
            or not set(name) <= _SAFE_NAME_CHARACTERS):
        raise PushError("archive name %r: use at most %d letters, digits, '.', '_' or '-' (not "
                        "first), or leave it out to name the archive after the request id"
                        % (name[:200], MAX_NAME_LENGTH))
    return name


def _members_and_name(files_or_dir, name, follow_symlinks):
    items = [files_or_dir] if isinstance(files_or_dir, (str, bytes, os.PathLike)) else list(files_or_dir)
    if not items:
        raise PushError("nothing to push: no files given")
    try:
        if all(isinstance(item, tarstream.Member) for item in items):
            members = sorted(items, key=lambda member: member.path)
        else:
            members = tarstream.members_from_paths(items, follow_symlinks=follow_symlinks)
    except tarstream.SourceError as error:
        raise PushError(str(error))
    return members, (_checked_name(name) if name else None)


def _validated(request, request_id, data=None, manifest=()):
    try:
        return request.payload(request_id, data, manifest)
    except Rejected as error:
        raise PushError("the request would be rejected: %s" % error.message, request_id)


# ---------------------------------------------------------------- pushing


def push(session, landing_zone, files_or_dir, operation, omero_user, omero_group, target=None,
         request_id=None, name=None, target_name=None, omero_server=None, omero_objects=(),
         follow_symlinks=False, chunk_size=tarstream.CHUNK_SIZE, attempts=DEFAULT_ATTEMPTS,
         backoff=DEFAULT_BACKOFF_SECONDS, progress=None, sleep=None, journal_dir=None,
         resume=False, plan=None, mark_key=None):
    """Stream files as `<request_id>.tar` (or `name`) into a new request collection, then
    commit its payload.

    `target` is the OMERO import target (`Dataset:name:X` or `Dataset:id:N`), `target_name`
    the name of the collection the policy places the data in. `progress(done, total)` is
    called as bytes go out (the first call's `done` is where a resumed upload starts).
    Returns a PushResult; raises PushError. Without `journal_dir` a failed push leaves
    nothing behind. With it, a push whose archive upload fails on a transient error or is
    interrupted keeps what iRODS holds (PartialUploadKept, no payload) and records its
    journal there; `resume=True` with the same `request_id`, files and options continues it.
    `plan`: the PushPlan plan_push made of these same arguments, if the caller has one
    (the payload of a request with many files is not validated twice before the upload).
    `mark_key`: the zone's integrity key (bytes, omero_irods.integrity): the payload's mark
    is written just before the payload.
    """
    if resume and not request_id:
        raise PushError("resuming a push needs its request id")
    if plan is None or (request_id and plan.payload.request_id != request_id):
        plan = plan_push(files_or_dir, operation, omero_user, omero_group, target=target, name=name,
                         target_name=target_name, omero_server=omero_server,
                         omero_objects=omero_objects, follow_symlinks=follow_symlinks,
                         request_id=request_id)
    request = plan.request
    retry = _Retry(attempts, backoff, sleep)
    if resume:
        collection = _resumable_collection(session, landing_zone, request_id)
    else:
        collection, request_id = _create_request_collection(session, landing_zone, request_id, retry)
    data_path = posixpath.join(collection, name and plan.name or archive_name(request_id))
    stream = tarstream.TarStream(plan.members, chunk_size)
    journal = resume_module.UploadJournal(request_id, data_path,
                                          resume_module.fingerprint(plan.members, chunk_size),
                                          journal_dir)
    if resume:  # outside the cleanup below: a wrong resume never removes the earlier partial
        try:
            journal.load()
        except (resume_module.ResumeError, OSError) as error:
            raise PushError(str(error), request_id, cleaned_up=False)
    with _removed_on_failure(session, collection, request_id, data_path, journal):
        if not resume:
            _start_journal(journal)
        log.info("request %s: streaming %d files (%d bytes) to %s", request_id,
                 len(plan.members), plan.predicted_size, data_path)
        retry.run("upload of %s" % data_path,
                  lambda: _upload_archive(session, data_path, stream, progress, journal))
        data = DataRef("tar", posixpath.basename(data_path), stream.size, stream.sha256,
                       len(stream.manifest))
        payload = _validated(request, request_id, data, stream.manifest)
        payload_path = _commit_payload(session, collection, payload, retry, mark_key)
    journal.remove()
    return PushResult(request_id, collection, data_path, payload_path, stream.size,
                      stream.sha256, len(stream.manifest))


def _start_journal(journal):
    try:
        journal.start()
    except OSError as error:
        raise PushError("cannot write the push journal %s: %s (give a writable --journal-dir)"
                        % (journal.path, error.strerror))


def request_load(session, landing_zone, source_path, omero_user, omero_group, target=None,
                 request_id=None, target_name=None, omero_server=None,
                 attempts=DEFAULT_ATTEMPTS, backoff=DEFAULT_BACKOFF_SECONDS, sleep=time.sleep, mark_key=None):
    """Ask the policy to bring the snapshot at `source_path` back into OMERO (payload only)."""
    request = _Request(names.LOAD, omero_user, omero_group, target_name, target, omero_server,
                       (), source_path)
    _validated(request, request_id or new_request_id())  # bad input fails before any upload
    retry = _Retry(attempts, backoff, sleep)
    collection, request_id = _create_request_collection(session, landing_zone, request_id, retry)
    with _removed_on_failure(session, collection, request_id, None,
                             resume_module.UploadJournal(request_id, None, None)):
        payload_path = _commit_payload(session, collection, _validated(request, request_id), retry, mark_key)
    return PushResult(request_id, collection, None, payload_path, None, None, 0)


def _create_request_collection(session, landing_zone, request_id, retry):
    """Exclusively create <landing>/<id>; a generated id that is taken is replaced."""
    landing_zone = landing_zone.rstrip("/")
    candidates = [request_id] if request_id else (new_request_id() for _ in range(_FRESH_ID_ATTEMPTS))
    for candidate in candidates:
        collection = posixpath.join(landing_zone, candidate)
        try:
            created = _create_exclusive(session, collection, retry)
        except (IrodsUnreachable, AuthenticationRefused):
            raise
        except PushError:
            _require_landing_zone(session, landing_zone)
            raise
        if created:
            return collection, candidate
        if request_id:
            raise PushError("request id %s is already used in %s; a request id is never reused"
                            % (request_id, landing_zone), request_id)
    raise PushError("could not find an unused request id in %s" % landing_zone)


def _create_exclusive(session, collection, retry):
    """Exclusive create, retried. After a transient failure the lost reply may have been a
    success: "exists" is then ours when the collection is empty and owned by us."""
    transient_failures = []

    def create():
        try:
            return prc.create_collection_exclusive(session, collection)
        except Exception as error:
            if prc.is_transient(error):
                transient_failures.append(error)
            raise

    created = retry.run("creation of %s" % collection, create)
    if not created and transient_failures and prc.is_own_empty_collection(session, collection):
        log.info("%s: created by an attempt whose reply was lost; using it", collection)
        return True
    return created


def _require_landing_zone(session, landing_zone):
    """LandingZoneMissing when iRODS says the landing zone is not there; a failing check
    says nothing (the original error stands)."""
    try:
        exists = prc.collection_exists(session, landing_zone)
    except Exception:
        return
    if not exists:
        raise LandingZoneMissing("landing zone %s does not exist or the service account cannot "
                                 "see it; ask the iRODS admin to create it (or give the right "
                                 "one with --landing-zone)" % landing_zone)


def _resumable_collection(session, landing_zone, request_id):
    """The collection of an earlier, uncommitted push of `request_id`."""
    collection = posixpath.join(landing_zone.rstrip("/"), request_id)
    try:
        exists = prc.collection_exists(session, collection)
    except Exception as error:
        raise _classified("looking up %s" % collection, error)
    if not exists:
        _require_landing_zone(session, landing_zone)
        raise PushError("request %s: %s does not exist (removed, or never created): push again "
                        "without --resume" % (request_id, collection), request_id, cleaned_up=False)
    if prc.data_object_exists(session, posixpath.join(collection, payload_name(request_id))):
        raise PushError("request %s is already committed (its payload exists): nothing to resume; "
                        "see `omero-irods status %s`" % (request_id, request_id), request_id,
                        cleaned_up=False)
    return collection


def _upload_archive(session, data_path, stream, progress, journal):
    """Send the archive, continuing after the verified prefix iRODS already holds."""
    total = stream.predicted_size
    chunks, start = _resume_position(session, data_path, stream, journal)
    if progress:
        progress(start, total)
    with prc.open_for_write(session, data_path, append=bool(start)) as writer:
        if start:
            writer.seek(start)
        for chunk in chunks:
            writer.write(chunk)
            writer.flush()  # acknowledged by iRODS before it is journaled
            journal.record(stream.produced, stream.prefix_sha256())
            if progress:
                progress(stream.produced, total)
    stored = prc.data_object_size(session, data_path)
    if stored != stream.size:
        journal.forget_after(0)
        raise _IncompleteUpload("%s holds %d bytes after upload, %d were sent"
                                % (data_path, stored, stream.size))


def _resume_position(session, data_path, stream, journal):
    """(the stream's remaining chunks, the offset they start at). The chunks before the
    offset are regenerated (the manifest and archive digest need them) but not sent; the
    offset is used only when the regenerated prefix matches the journal and the bytes iRODS
    holds just before it (client/resume.py says why both)."""
    if not journal.acknowledged:  # nothing was sent yet: no need to ask iRODS
        return stream.chunks(), 0
    held = _held_size(session, data_path)
    offset = journal.resume_point(held)
    chunks = stream.chunks()
    if not offset:
        return chunks, 0
    last = None
    for chunk in chunks:
        last = chunk
        if stream.produced >= offset:
            break
    tail = bytes(last[-min(len(last), resume_module.TAIL_CHECK_BYTES):]) if last else b""
    if (stream.produced == offset and stream.prefix_sha256() == journal.acknowledged[offset]
            and prc.read_range(session, data_path, offset - len(tail), len(tail)) == tail):
        log.info("%s: resuming after the %d bytes iRODS holds (verified)", data_path, offset)
        return chunks, offset
    log.warning("%s: what iRODS holds does not match the files now; sending it again from the "
                "start", data_path)
    chunks.close()
    journal.forget_after(0)
    return stream.chunks(), 0


def _held_size(session, data_path):
    try:
        return prc.data_object_size(session, data_path)
    except Exception as error:
        if prc.is_not_found(error):
            return 0
        raise


def _commit_payload(session, collection, payload, retry, mark_key=None):
    """Write the payload in one write (after its integrity mark, given the zone's key). Only
    opens are retried: once a close was attempted the payload may be committed, so it is
    never rewritten (an open 'w' truncates)."""
    path = posixpath.join(collection, payload_name(payload.request_id))
    body = payload.to_json_bytes()
    if mark_key is not None:
        _write_mark(session, collection, payload.request_id, integrity.make_mark(mark_key, body), retry)
    close_attempted = []

    def write_payload():
        writer = prc.open_for_write(session, path)
        close_attempted.append(True)  # leaving the `with` below closes, whatever happens
        with writer:
            writer.write(body)

    try:
        retry.run("upload of the payload %s" % path, write_payload,
                  retry_while=lambda: not close_attempted)
    except PushError as error:
        if not close_attempted:
            raise
        _confirm_commit(session, path, len(body), payload.request_id, retry, error)
    log.info("request %s: committed %s", payload.request_id, path)
    return path


def _write_mark(session, collection, request_id, mark, retry):
    """The payload's mark, before the payload: no event fires for it, and a push that fails
    here leaves no payload (the request collection is removed)."""
    path = posixpath.join(collection, integrity.mark_name(request_id))

    def write_mark():
        with prc.open_for_write(session, path) as writer:
            writer.write(mark)
    retry.run("upload of the integrity mark %s" % path, write_mark)


def _confirm_commit(session, path, size, request_id, retry, error):
    """Return when iRODS holds the whole payload (the close landed); else CommitUnknown.
    iRODS records a replica's size when it is closed (irods/irods
    server/api/src/rsDataObjClose.cpp), so the full size means the commit happened."""
    try:
        stored = retry.run("checking the payload %s" % path, lambda: prc.data_object_size(session, path))
    except PushError as stat_error:
        found = "its size could not be read (%s)" % stat_error
    else:
        if stored == size:
            log.warning("request %s: the payload's close reached iRODS (%s); treating it as "
                        "committed", request_id, error)
            return
        found = "iRODS holds %d of its %d bytes" % (stored, size)
    raise CommitUnknown(
        "request %s: commit state unknown: %s; then %s. The policy may process it: see "
        "`omero-irods status %s` (or 'iRODS List') before pushing again; nothing was removed"
        % (request_id, error, found, request_id), request_id)


class _removed_on_failure(object):
    """Context manager: on failure, remove the request's collection and say so -- except
    once its payload may be committed (CommitUnknown passes through untouched) and except a
    resumable archive upload (a journal on disk, a transient error or an interruption, bytes
    held): then the partial archive stays for `resume` (PartialUploadKept)."""

    def __init__(self, session, collection, request_id, data_path, journal):
        self.session, self.collection, self.request_id = session, collection, request_id
        self.data_path, self.journal = data_path, journal

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or isinstance(error, CommitUnknown):
            return False
        kept = self._kept_for_resume(error)
        if kept:
            raise PartialUploadKept(
                "%s; iRODS holds %d bytes of %s, kept (no payload was written, so nothing is "
                "processed): continue with the same command and --resume %s"
                % (_reason(error), kept, self.data_path, self.request_id), self.request_id, kept) from error
        self.journal.remove()
        cleaned_up = _remove_quietly(self.session, self.collection)
        note = ("; the partial request was removed" if cleaned_up else
                "; removing the partial request %s failed too: remove it by hand" % self.collection)
        if isinstance(error, PushError):
            raise type(error)(str(error) + note, self.request_id, cleaned_up) from error
        if isinstance(error, tarstream.SourceError):
            raise PushError(str(error) + note, self.request_id, cleaned_up) from error
        return False  # KeyboardInterrupt and programming errors propagate unchanged

    def _kept_for_resume(self, error):
        """Bytes of the archive worth keeping, or 0."""
        resumable = isinstance(error, (KeyboardInterrupt, IrodsUnreachable)) or (
            isinstance(error, PushError) and getattr(error, "transient", False))
        if self.journal.path is None or not resumable or not self.journal.acknowledged:
            return 0
        try:
            held = _held_size(self.session, self.data_path)
        except Exception:
            held = None  # iRODS is away: keep it, resume will see what is there
        return held if held is None or held > 0 else 0


def _reason(error):
    return str(error) if isinstance(error, PushError) else "interrupted (%s)" % type(error).__name__


def _remove_quietly(session, collection):
    try:
        prc.remove_collection(session, collection)
        return True
    except Exception as error:
        log.warning("could not remove %s: %s", collection, prc.describe(error))
        return False


# ---------------------------------------------------------------- retries


def _classified(what, error, attempts=1):
    """The PushError for an iRODS call's final failure: unreachable, authentication refused,
    or another failure (marked `transient` when trying later may help)."""
    tries = " %d times; last error:" % attempts if attempts > 1 else ":"
    if prc.is_unreachable(error):
        return IrodsUnreachable("iRODS is unreachable (%s failed%s %s); check the host and port "
                                "in the iRODS environment file and the network, then try again"
                                % (what, tries, prc.describe(error)))
    if prc.is_authentication_refused(error):
        return AuthenticationRefused("iRODS refused the service account's credentials (%s): fix "
                                     "the password with `iinit` as the service account, or the "
                                     "user/zone in the iRODS environment file" % prc.describe(error))
    failure = PushError("%s failed%s %s" % (what, tries, prc.describe(error)))
    failure.transient = isinstance(error, _IncompleteUpload) or prc.is_transient(error)
    return failure


class _IncompleteUpload(Exception):
    """The stored size differs from what was sent; streaming again may fix it."""


class _Retry(object):
    """Run an action, retrying transient failures with exponential backoff."""

    def __init__(self, attempts, backoff, sleep=None):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts, self.backoff, self.sleep = attempts, backoff, sleep or time.sleep

    def run(self, what, action, retry_while=lambda: True):
        """action()'s result; PushError once it fails for good. `retry_while()` false after
        a failure means another attempt must not be made."""
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except (PushError, tarstream.SourceError):
                raise
            except Exception as error:
                transient = isinstance(error, _IncompleteUpload) or prc.is_transient(error)
                if not transient or not retry_while():
                    raise _classified(what, error) from error
                if attempt == self.attempts:
                    raise _classified(what, error, self.attempts) from error
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s failed (%s); attempt %d of %d in %.0f s", what,
                            prc.describe(error), attempt + 1, self.attempts, delay)
                self.sleep(delay)
