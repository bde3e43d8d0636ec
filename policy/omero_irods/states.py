"""The request state machine, recorded as `omero_irods::state` on the request's record
(`<records>/<request_id>`, omero_irods.records: only the service account writes there).

    received -> validated -> placed -> import_queued -> importing -> imported
    (load skips `placed`: its data is already in iRODS; save ends at `placed`)
    any in-progress state -> failed   (transient trouble outlasted its retries)
    importing -> import_queued   (the importer created nothing and failed: another attempt)
    received / validated / placed -> rejected   (input that can never succeed)

Who may (re)process a request, by event:
- `put`: a payload arrived. Only a request with no record yet may be claimed; the claim
  creates the record collection, which fails if it exists (the catalog's unique index on
  collection names), so any number of PEPs and delayed rules firing for one put claim it
  once, and each attempt is claimed the same way (`attempt-N`, `import-N` in the record).
- `resume`: the delayed rule runs. It continues any in-progress state (each step is
  idempotent or checks its own result), and does nothing for a finished one.
- `reprocess`: an admin asks again. Allowed for `failed`, and for an in-progress state whose
  delayed rule was lost (e.g. a server restart dropped the queue: the sweep acts on such a mark
  once the request has been idle long enough, see omero_irods.watch); never for `rejected` (the
  input must change: push a new request) or `imported` (it would import twice).

Each state is written with `omero_irods::state_since` (epoch seconds), which tells how long a
request has been idle.
"""

import datetime
from collections import namedtuple

from omero_irods import names

IN_PROGRESS = (names.RECEIVED, names.VALIDATED, names.PLACED, names.IMPORT_QUEUED, names.IMPORTING)
FINISHED = (names.IMPORTED, names.REJECTED, names.FAILED)
REJECTABLE = (names.RECEIVED, names.VALIDATED, names.PLACED)  # input is checked up to placement

#: Each operation's happy path.
HAPPY_PATH = {
    names.INGEST: (names.RECEIVED, names.VALIDATED, names.PLACED, names.IMPORT_QUEUED, names.IMPORTING, names.IMPORTED),
    names.SAVE: (names.RECEIVED, names.VALIDATED, names.PLACED),
    names.LOAD: (names.RECEIVED, names.VALIDATED, names.IMPORT_QUEUED, names.IMPORTING, names.IMPORTED),
}

EVENTS = ("put", "resume", "reprocess")

Decision = namedtuple("Decision", "allowed reason")


def record_state(zone, path, state, now_seconds):
    """Write a request's state and the time it was entered on its record."""
    zone.set_avu(path, names.AVU_STATE, state)
    zone.set_avu(path, names.AVU_STATE_SINCE, str(int(now_seconds)))


def epoch_seconds(moment):
    """A datetime as whole seconds since the epoch (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def next_state(state, operation):
    """The happy-path successor of `state` for `operation`, or None when there is none."""
    path = HAPPY_PATH[operation]
    if state not in path or state == path[-1]:
        return None
    return path[path.index(state) + 1]


def is_done(state, operation):
    """True when nothing more will happen to the request without an admin."""
    return state in FINISHED or state == HAPPY_PATH[operation][-1]


def check_transition(old, new, operation):
    """Raise ValueError unless `old -> new` is allowed for `operation` (old None: unclaimed)."""
    if new not in names.STATES or (old is not None and old not in names.STATES):
        raise ValueError("unknown state in %r -> %r" % (old, new))
    allowed = (
        (old is None and new == names.RECEIVED)
        or new == next_state(old, operation)
        or (new == names.FAILED and old in IN_PROGRESS)
        or (new == names.REJECTED and old in REJECTABLE)
        or (old == names.FAILED and new == names.RECEIVED)  # admin reprocess
        or (old == names.IMPORTING and new == names.IMPORT_QUEUED)  # an import that created nothing: retry
    )
    if not allowed:
        raise ValueError("a %s request may not go from %s to %s" % (operation, old or "no state", new))


def may_process(state, event):
    """Decision(allowed, reason) for `event` on a request currently in `state` (None: new)."""
    if event not in EVENTS:
        raise ValueError("unknown event %r" % (event,))
    if event == "put":
        if state is None:
            return Decision(True, "new request")
        return Decision(False, "already claimed (state %s)" % state)
    if event == "resume":
        if state in IN_PROGRESS:
            return Decision(True, "continuing from %s" % state)
        return Decision(False, "nothing to resume (state %s)" % (state or "none"))
    if state == names.FAILED or state in IN_PROGRESS:
        return Decision(True, "reprocessing from %s" % state)
    if state == names.REJECTED:
        return Decision(False, "rejected requests are never retried; fix the input and push a new request")
    if state == names.IMPORTED:
        return Decision(False, "already imported; reprocessing would import it twice")
    return Decision(False, "no such request in progress")
