"""push(): data streamed first, payload last; failures leave nothing that could fire.

Runs against the sandbox's SandboxSession (python-irodsclient's open/write/close requests;
python-irodsclient irods/manager/data_object_manager.py). The policy starts work when a
payload object is closed (acPostProcForPut / pep_api_data_obj_close_post: irods/irods
server/api/src/rsDataObjClose.cpp), so a payload must only ever be closed complete.
"""

import hashlib
import io
import json
import tarfile

import pytest

from faults import Faulty
from omero_irods.client import push as push_module
from omero_irods.client.push import PushError, plan_push, push, request_load
from omero_irods.names import PAYLOAD_SUFFIX
from omero_irods.payload import parse_payload

exception = pytest.importorskip("irods.exception")  # the errors PRC raises


def push_run(session, landing, run_dir, **options):
    options.setdefault("sleep", lambda seconds: None)
    return push(session, landing, run_dir, "ingest", "alice", "lab", **options)


def test_push_streams_the_tar_then_commits_a_valid_payload(irods, session, landing, run_dir):
    result = push_run(session, landing, run_dir, target="Dataset:name:run1", request_id="req-00000001")

    assert result.collection == landing + "/req-00000001"
    assert result.data_path == landing + "/req-00000001/req-00000001.tar"
    assert result.payload_path == landing + "/req-00000001/req-00000001" + PAYLOAD_SUFFIX
    tar_bytes = irods.read(result.data_path)
    assert (result.size, result.sha256) == (len(tar_bytes), hashlib.sha256(tar_bytes).hexdigest())
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert tar.extractfile("run1/plate/A1.tif").read() == b"A1" * 1000

    payload = parse_payload(irods.read(result.payload_path), max_bytes=1 << 20)
    assert (payload.operation, payload.omero_user, payload.omero_group) == ("ingest", "alice", "lab")
    assert payload.request_id == "req-00000001"
    assert payload.data == ("tar", "req-00000001.tar", result.size, result.sha256, 3)
    assert payload.target.name == "run1"  # the folder names the placed collection
    assert payload.target.omero_dataset == "Dataset:name:run1"
    assert [(e.path, e.size) for e in payload.manifest] == [
        ("run1/notes.txt", 15), ("run1/plate/A1.tif", 2000), ("run1/plate/B2.tif", 0)]
    assert payload.manifest[1].sha256 == hashlib.sha256(b"A1" * 1000).hexdigest()


def test_payload_is_opened_after_the_archive_is_committed_and_sent_in_one_write(irods, session, landing, run_dir):
    result = push_run(session, landing, run_dir)
    calls = irods.calls("open", "write", "committed")
    assert calls.index(("open", result.payload_path)) > calls.index(("committed", result.data_path))
    after_payload_open = calls[calls.index(("open", result.payload_path)):]
    assert [c[0] for c in after_payload_open] == ["open", "write", "committed"]
    assert calls[-1] == ("committed", result.payload_path)


def test_archive_goes_out_in_chunk_size_writes(session, landing, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"z" * 200_000)
    spy = Faulty(session)
    result = push_run(spy, landing, tmp_path / "d", chunk_size=64 * 1024)
    sizes = [n for path, n in spy.writes if path == result.data_path]
    assert sizes[:-1] == [64 * 1024] * (len(sizes) - 1) and sum(sizes) == result.size


def test_a_used_request_id_is_refused_and_nothing_is_overwritten(irods, session, landing, run_dir):
    first = push_run(session, landing, run_dir, request_id="req-00000001")
    before = {path: irods.read(path) for path in irods.payloads() + [first.data_path]}
    with pytest.raises(PushError, match="request id req-00000001 is already used"):
        push_run(session, landing, run_dir, request_id="req-00000001")
    assert {path: irods.read(path) for path in before} == before
    assert irods.payloads() == [first.payload_path]


def test_a_generated_request_id_that_is_taken_is_replaced(session, landing, run_dir, monkeypatch):
    session.collections.create(landing + "/20260101T000000Z-taken000", recurse=False)
    ids = iter(["20260101T000000Z-planned0", "20260101T000000Z-taken000", "20260101T000000Z-fresh000"])
    monkeypatch.setattr(push_module, "new_request_id", lambda: next(ids))
    result = push_run(session, landing, run_dir)
    assert result.request_id == "20260101T000000Z-fresh000"


def test_a_failure_mid_upload_removes_the_request_and_leaves_no_payload(irods, session, landing, run_dir):
    before = irods.tree()
    faulty = Faulty(session)
    faulty.fail("write", exception.CAT_NO_ACCESS_PERMISSION("quota"), when=lambda p: p.endswith(".tar"))
    with pytest.raises(PushError) as raised:
        push_run(faulty, landing, run_dir, request_id="req-00000002")
    message = str(raised.value)
    assert "upload of %s/req-00000002/req-00000002.tar failed: CAT_NO_ACCESS_PERMISSION" % landing in message
    assert "the partial request was removed" in message
    assert raised.value.request_id == "req-00000002" and raised.value.cleaned_up
    assert irods.tree() == before and irods.payloads() == []


def test_an_interrupted_push_removes_the_partial_request(irods, session, landing, run_dir):
    before = irods.tree()
    faulty = Faulty(session)
    faulty.fail("write", KeyboardInterrupt(), after_bytes=1)
    with pytest.raises(KeyboardInterrupt):
        push_run(faulty, landing, run_dir)
    assert irods.tree() == before


def test_transient_errors_are_retried_with_backoff_and_the_archive_restreamed(irods, session, landing, run_dir):
    faulty = Faulty(session)
    faulty.fail("write", exception.NetworkException("connection reset"),
                when=lambda p: p.endswith(".tar"), times=2)
    slept = []
    result = push_run(faulty, landing, run_dir, backoff=2.0, sleep=slept.append)
    assert slept == [2.0, 4.0]
    assert hashlib.sha256(irods.read(result.data_path)).hexdigest() == result.sha256
    assert irods.payloads() == [result.payload_path]


def test_transient_errors_that_persist_fail_cleanly(irods, session, landing, run_dir):
    before = irods.tree()
    faulty = Faulty(session)
    faulty.fail("open", exception.SYS_HEADER_READ_LEN_ERR(), times=10)
    with pytest.raises(PushError, match="failed 3 times; last error: SYS_HEADER_READ_LEN_ERR"):
        push_run(faulty, landing, run_dir)
    assert irods.tree() == before


def test_a_payload_whose_close_reached_the_server_is_not_written_twice(irods, session, landing, run_dir):
    faulty = Faulty(session)
    faulty.fail("closed", exception.NetworkException("reply lost"), when=lambda p: p.endswith(PAYLOAD_SUFFIX))
    result = push_run(faulty, landing, run_dir)
    assert irods.calls("open").count(("open", result.payload_path)) == 1
    assert irods.payloads() == [result.payload_path]


def test_a_failed_payload_upload_leaves_no_payload(irods, session, landing, run_dir):
    before = irods.tree()
    faulty = Faulty(session)
    faulty.fail("open", exception.CAT_NO_ACCESS_PERMISSION(), when=lambda p: p.endswith(PAYLOAD_SUFFIX))
    with pytest.raises(PushError, match="upload of the payload .* failed"):
        push_run(faulty, landing, run_dir)
    assert irods.tree() == before


def test_when_cleanup_fails_too_the_error_says_what_to_remove(irods, session, landing, run_dir):
    faulty = Faulty(session)
    faulty.fail("open", exception.CAT_NO_ACCESS_PERMISSION())
    faulty.fail("remove", exception.NetworkException("gone"))
    with pytest.raises(PushError, match="removing the partial request %s/req-00000003 failed too"
                       % landing) as raised:
        push_run(faulty, landing, run_dir, request_id="req-00000003")
    assert not raised.value.cleaned_up
    assert irods.payloads() == []


def test_a_source_file_changing_during_upload_fails_cleanly(irods, session, landing, run_dir):
    before = irods.tree()
    faulty = Faulty(session)

    def grow_the_file(path):
        with open(run_dir / "plate" / "B2.tif", "ab") as handle:
            handle.write(b"late")
        return False

    faulty.fail("write", None, when=grow_the_file)
    with pytest.raises(PushError, match="B2.tif: file grew while being archived"):
        push_run(faulty, landing, run_dir, chunk_size=512)
    assert irods.tree() == before


def test_a_missing_landing_zone_is_named(session, run_dir):
    with pytest.raises(PushError, match="landing zone /tempZone/home/omero-svc/nowhere does not exist"):
        push_run(session, "/tempZone/home/omero-svc/nowhere", run_dir)


@pytest.mark.parametrize("field, value, complaint", [
    ("omero_group", "lab/evil", "/omero/group"),
    ("target", "Project:name:x", "/target/omero_dataset"),
    ("request_id", "short", "/request_id"),
])
def test_bad_input_is_refused_before_anything_is_sent(irods, session, landing, run_dir, field, value, complaint):
    before = irods.tree()
    options = {"omero_user": "alice", "omero_group": "lab", field: value}
    with pytest.raises(PushError, match="would be rejected: invalid payload: %s" % complaint):
        push(session, landing, run_dir, "ingest", sleep=lambda s: None, **options)
    assert irods.server.pep_points == [] and irods.tree() == before


def test_a_symlink_in_the_source_is_refused_before_anything_is_sent(irods, session, landing, run_dir):
    (run_dir / "link").symlink_to(run_dir / "notes.txt")
    with pytest.raises(PushError, match="link: is a symbolic link"):
        push_run(session, landing, run_dir)
    assert irods.server.pep_points == []


def test_load_writes_only_a_payload_naming_the_snapshot(irods, session, landing):
    result = request_load(session, landing, "/tempZone/home/alice/omero/save/2026-01-01/snap",
                          "alice", "lab", target="Dataset:name:back", request_id="load-0000001")
    assert irods.tree()[-2:] == [result.collection, result.payload_path]
    document = json.loads(irods.read(result.payload_path))
    assert document["operation"] == "load"
    assert document["source"] == {"path": "/tempZone/home/alice/omero/save/2026-01-01/snap"}
    assert "data" not in document and "manifest" not in document


def test_plan_push_checks_everything_without_a_session(run_dir):
    plan = plan_push(run_dir, "save", "alice", "lab", omero_objects=["Dataset:3"], request_id="req-00000007")
    assert plan.name == "req-00000007.tar" and plan.payload.target_name == "run1"
    assert [m.path for m in plan.members] == ["run1/notes.txt", "run1/plate/A1.tif", "run1/plate/B2.tif"]
    assert plan.payload.data.size == plan.predicted_size
    with pytest.raises(PushError, match="operation 'load' cannot carry data"):
        plan_push(run_dir, "load", "alice", "lab")


@pytest.mark.parametrize("folder", ["it's run", "a++++b", "run\"1", "-run"])
def test_the_archive_is_named_after_the_request_id_whatever_the_folder_is_called(
        irods, session, landing, tmp_path, folder):
    """A folder name with a quote or `++++` made an archive name the policy could not use."""
    run = tmp_path / folder
    run.mkdir()
    (run / "a.tif").write_bytes(b"A")
    result = push_run(session, landing, run, request_id="req-00000040")
    assert result.data_path == landing + "/req-00000040/req-00000040.tar"
    payload = parse_payload(irods.read(result.payload_path), 1 << 20)
    assert payload.data.name == "req-00000040.tar"
    assert payload.target.name in (None, folder)  # the folder's name only where the policy takes it


@pytest.mark.parametrize("name", ["it's.tar", "a++++b.tar", "../x.tar", ".hidden.tar", "x" * 130])
def test_an_explicit_archive_name_must_be_a_plain_name(session, landing, run_dir, name):
    with pytest.raises(PushError, match="archive name .*letters, digits"):
        push_run(session, landing, run_dir, name=name)


MARK_KEY = b"k" * 64


def test_with_the_zones_key_the_payload_is_marked_just_before_it_is_committed(irods, session, landing, run_dir):
    from omero_irods import integrity

    result = push_run(session, landing, run_dir, request_id="req-00000m01", mark_key=MARK_KEY)
    mark_path = result.collection + "/req-00000m01.omero-irods.mark"
    integrity.check_mark(MARK_KEY, irods.read(result.payload_path), irods.read(mark_path))
    calls = irods.calls("open", "committed")
    assert calls.index(("committed", mark_path)) < calls.index(("open", result.payload_path))
    with pytest.raises(Exception, match="does not match"):  # the key binds: another key's check fails
        integrity.check_mark(b"x" * 64, irods.read(result.payload_path), irods.read(mark_path))


def test_without_a_key_no_mark_is_written(irods, session, landing, run_dir):
    result = push_run(session, landing, run_dir, request_id="req-00000m02")
    assert not irods.zone.exists(result.collection + "/req-00000m02.omero-irods.mark")
    assert irods.zone.exists(result.payload_path)


def test_a_load_request_is_marked_too(irods, session, landing):
    from omero_irods import integrity

    result = request_load(session, landing, "/tempZone/home/alice/omero/snap", "alice", "lab",
                          request_id="req-00000m03", mark_key=MARK_KEY, sleep=lambda seconds: None)
    integrity.check_mark(MARK_KEY, irods.read(result.payload_path),
                         irods.read(result.collection + "/req-00000m03.omero-irods.mark"))
