"""push(): the two moments where a retry must not be naive.

- The payload is the commit marker: once its close was attempted, the policy may be working
  on the request (the close PEPs fire: irods/irods server/api/src/rsDataObjClose.cpp), so it
  is never rewritten (PRC's open 'w' truncates: python-irodsclient
  irods/manager/data_object_manager.py) nor removed; only its stored size is asked again.
- The request collection is created exclusively (irods/irods server/api/src/rsCollCreate.cpp
  answers CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME): after a lost reply, "exists" may be our own.
"""

import pytest

from faults import Faulty
from omero_irods.client.push import CommitUnknown, PushError, push
from omero_irods.names import PAYLOAD_SUFFIX

exception = pytest.importorskip("irods.exception")


def is_payload(path):
    return path.endswith(PAYLOAD_SUFFIX)


def push_run(session, landing, run_dir, **options):
    options.setdefault("sleep", lambda seconds: None)
    return push(session, landing, run_dir, "ingest", "alice", "lab", **options)


class FlakyStat(Faulty):
    """A Faulty session whose data_objects.get (the size check) fails `stat_failures` times."""

    def __init__(self, session):
        super().__init__(session)
        self.stat_failures = 0
        inner, outer = self.data_objects, self

        class DataObjects(object):
            def get(self, path):
                if outer.stat_failures:
                    outer.stat_failures -= 1
                    raise exception.NetworkException("connection refused")
                return inner.get(path)

            def __getattr__(self, name):
                return getattr(inner, name)

        self.data_objects = DataObjects()


def test_a_payload_whose_close_may_have_landed_is_never_removed_and_the_error_says_so(irods, landing, run_dir):
    faulty = FlakyStat(irods.session)
    faulty.fail("open", exception.NetworkException("connection refused"), when=is_payload, times=2)
    faulty.fail("closed", exception.NetworkException("reply lost"), when=is_payload)
    real_open = faulty.data_objects.open

    def open_then_lose_the_link(path, mode):  # from the payload's open on, every stat fails
        if is_payload(path):
            faulty.stat_failures = 3
        return real_open(path, mode)

    faulty.data_objects.open = open_then_lose_the_link
    with pytest.raises(CommitUnknown) as raised:
        push_run(faulty, landing, run_dir, request_id="req-00000077")
    payload = landing + "/req-00000077/req-00000077" + PAYLOAD_SUFFIX
    assert irods.payloads() == [payload]  # committed and kept: the policy may be working on it
    message = str(raised.value)
    assert message.startswith("request req-00000077: commit state unknown")
    assert "omero-irods status req-00000077" in message and "nothing was removed" in message
    assert not raised.value.cleaned_up and raised.value.request_id == "req-00000077"


def test_a_payload_write_that_fails_is_not_retried_over_the_payload(irods, landing, run_dir):
    """The failed write's `with` still closes the payload: the policy may have seen it."""
    faulty = Faulty(irods.session)
    faulty.fail("write", exception.NetworkException("connection reset"), when=is_payload)
    with pytest.raises(CommitUnknown, match="iRODS holds 0 of its .* bytes"):
        push_run(faulty, landing, run_dir, request_id="req-00000078")
    payload = landing + "/req-00000078/req-00000078" + PAYLOAD_SUFFIX
    assert irods.calls("open").count(("open", payload)) == 1  # never opened 'w' (truncated) again
    assert irods.payloads() == [payload]


def test_a_lost_close_reply_with_the_whole_payload_stored_is_a_commit(irods, landing, run_dir):
    faulty = FlakyStat(irods.session)
    faulty.fail("closed", exception.NetworkException("reply lost"), when=is_payload)
    faulty.stat_failures = 0
    result = push_run(faulty, landing, run_dir)
    assert irods.payloads() == [result.payload_path]
    assert irods.calls("open").count(("open", result.payload_path)) == 1


def test_failed_payload_opens_are_retried_and_commit_once(irods, landing, run_dir):
    faulty = Faulty(irods.session)
    faulty.fail("open", exception.NetworkException("connection refused"), when=is_payload, times=2)
    result = push_run(faulty, landing, run_dir)
    assert irods.payloads() == [result.payload_path]


class ReplyLostOnCreate(object):
    """A session whose first collections.create reaches the server, then the reply is lost."""

    def __init__(self, session, creates_lost=1):
        self._session = session
        outer = self
        self.lost = creates_lost

        class Collections(object):
            def create(self, path, recurse=True):
                result = session.collections.create(path, recurse=recurse)
                if outer.lost:
                    outer.lost -= 1
                    raise exception.NetworkException("reply lost")
                return result

            def __getattr__(self, name):
                return getattr(session.collections, name)

        self.collections = Collections()

    def __getattr__(self, name):
        return getattr(self._session, name)


def test_an_explicit_request_id_survives_a_lost_create_reply(irods, landing, run_dir):
    result = push_run(ReplyLostOnCreate(irods.session), landing, run_dir, request_id="req-00000042")
    assert result.request_id == "req-00000042"
    assert irods.payloads() == [result.payload_path]


def test_a_lost_create_reply_leaves_no_orphan_collection(irods, landing, run_dir):
    result = push_run(ReplyLostOnCreate(irods.session), landing, run_dir)
    children = [p for p in irods.tree() if p.count("/") == landing.count("/") + 1]
    assert children == [result.collection]


def test_after_a_transient_error_a_collection_with_content_is_still_refused(irods, landing, run_dir):
    """Only an EMPTY collection of ours can be the lost create's: one with data is in use."""
    collection = landing + "/req-00000043"
    irods.session.collections.create(collection, recurse=False)
    with irods.session.data_objects.open(collection + "/other.tar", "w") as handle:
        handle.write(b"someone else's upload")
    faulty = Faulty(irods.session)
    faulty.fail("create_collection", exception.NetworkException("connection reset"))
    with pytest.raises(PushError, match="request id req-00000043 is already used"):
        push_run(faulty, landing, run_dir, request_id="req-00000043")
    assert irods.read(collection + "/other.tar") == b"someone else's upload"
    assert irods.payloads() == []
