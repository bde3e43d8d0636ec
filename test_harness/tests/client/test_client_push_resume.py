"""Resumable push: an interrupted archive upload continues from what iRODS already holds.

Runs against the sandbox's SandboxSession, which sends python-irodsclient's requests
(open 'a' = DATA_OBJ_OPEN without O_TRUNC, then DATA_OBJ_LSEEK to the resume offset:
python-irodsclient irods/manager/data_object_manager.py open, irods/data_object.py). The
prefix is trusted only when the journal's digest and the held tail both match
(client/resume.py); the payload is still written last, after the whole archive.
"""

import hashlib
import io
import os
import tarfile

import pytest

from faults import Faulty
from omero_irods.client import resume
from omero_irods.client.push import PartialUploadKept, PushError, push
from omero_irods.payload import parse_payload

exception = pytest.importorskip("irods.exception")  # the errors PRC raises

CHUNK = 64 * 1024


@pytest.fixture
def big_run(tmp_path):
    """A run folder whose archive spans many chunks (about 1 MiB)."""
    run = tmp_path / "run9"
    (run / "plate").mkdir(parents=True)
    for index in range(4):
        (run / "plate" / ("f%d.tif" % index)).write_bytes(os.urandom(250_000 + index))
    return run


@pytest.fixture
def journals(tmp_path):
    return str(tmp_path / "journals")


def push_run(session, landing, run_dir, **options):
    options.setdefault("sleep", lambda seconds: None)
    options.setdefault("chunk_size", CHUNK)
    return push(session, landing, run_dir, "ingest", "alice", "lab", **options)


def tar_bytes_written(faulty):
    return sum(size for path, size in faulty.writes if path.endswith(".tar"))


def interrupted(irods, landing, run_dir, journals, request_id, error, after_bytes=400_000):
    """A push whose archive upload keeps failing after `after_bytes`: the partial is kept."""
    faulty = Faulty(irods.session)
    faulty.fail("write", error, when=lambda path: path.endswith(".tar"), times=100,
                after_bytes=after_bytes)
    with pytest.raises((PartialUploadKept, KeyboardInterrupt)) as raised:
        push_run(faulty, landing, run_dir, request_id=request_id, journal_dir=journals)
    return raised.value


def test_a_retry_after_a_dropped_connection_sends_only_what_iRODS_lacks(irods, session, landing, big_run):
    faulty = Faulty(session)
    faulty.fail("write", exception.NetworkException("connection reset"),
                when=lambda path: path.endswith(".tar"), after_bytes=600_000)
    result = push_run(faulty, landing, big_run)
    # the writes that went through before the drop, then only the rest: each byte once
    assert tar_bytes_written(faulty) == result.size, "the retry started again from byte 0"
    assert hashlib.sha256(irods.read(result.data_path)).hexdigest() == result.sha256
    assert irods.payloads() == [result.payload_path]


def test_a_failed_push_keeps_its_partial_archive_and_a_later_process_resumes_it(
        irods, session, landing, big_run, journals):
    error = interrupted(irods, landing, big_run, journals, "req-00000031",
                        exception.NetworkException("connection reset"))
    assert isinstance(error, PartialUploadKept) and not error.cleaned_up
    assert "--resume req-00000031" in str(error) and "no payload was written" in str(error)
    held = error.held_bytes
    assert 0 < held <= 400_000 and irods.payloads() == []  # nothing can fire
    assert os.path.exists(os.path.join(journals, "req-00000031.journal"))

    progress = []
    faulty = Faulty(session)  # counts what the resumed push sends
    result = push_run(faulty, landing, big_run, request_id="req-00000031", resume=True,
                      journal_dir=journals, progress=lambda done, total: progress.append(done))
    assert tar_bytes_written(faulty) == result.size - held
    assert progress[0] == held and progress[-1] == result.size
    archive = irods.read(result.data_path)
    assert hashlib.sha256(archive).hexdigest() == result.sha256
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.extractfile("run9/plate/f3.tif").read() == (big_run / "plate" / "f3.tif").read_bytes()
    payload = parse_payload(irods.read(result.payload_path), 1 << 20)
    assert [entry.sha256 for entry in payload.manifest] == [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted((big_run / "plate").iterdir())]
    assert irods.calls("committed")[-1] == ("committed", result.payload_path)  # payload last
    assert not os.path.exists(os.path.join(journals, "req-00000031.journal"))


def test_an_interrupted_push_with_a_journal_can_be_resumed(irods, session, landing, big_run, journals):
    interrupted(irods, landing, big_run, journals, "req-00000032", KeyboardInterrupt())
    assert irods.payloads() == []
    result = push_run(session, landing, big_run, request_id="req-00000032", resume=True,
                      journal_dir=journals)
    assert hashlib.sha256(irods.read(result.data_path)).hexdigest() == result.sha256


def test_a_file_changed_in_the_sent_prefix_is_sent_again_from_the_start(
        irods, session, landing, big_run, journals):
    interrupted(irods, landing, big_run, journals, "req-00000033",
                exception.NetworkException("connection reset"))
    first = big_run / "plate" / "f0.tif"
    stat = first.stat()
    first.write_bytes(os.urandom(stat.st_size))  # same size and time, other content
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    faulty = Faulty(session)
    result = push_run(faulty, landing, big_run, request_id="req-00000033", resume=True,
                      journal_dir=journals)
    assert tar_bytes_written(faulty) == result.size
    archive = irods.read(result.data_path)
    assert len(archive) == result.size and hashlib.sha256(archive).hexdigest() == result.sha256
    payload = parse_payload(irods.read(result.payload_path), 1 << 20)
    assert payload.manifest[0].sha256 == hashlib.sha256(first.read_bytes()).hexdigest()


def test_held_bytes_that_differ_from_the_stream_are_not_appended_to(
        irods, session, landing, big_run, journals):
    error = interrupted(irods, landing, big_run, journals, "req-00000034",
                        exception.NetworkException("connection reset"))
    data_path = "%s/req-00000034/req-00000034.tar" % landing
    with session.data_objects.open(data_path, "a") as handle:  # someone rewrote the held tail
        handle.seek(error.held_bytes - 10)
        handle.write(b"X" * 10)
    faulty = Faulty(session)
    result = push_run(faulty, landing, big_run, request_id="req-00000034", resume=True,
                      journal_dir=journals)
    assert tar_bytes_written(faulty) == result.size
    assert hashlib.sha256(irods.read(result.data_path)).hexdigest() == result.sha256


def test_resume_refuses_other_files_a_committed_request_and_a_missing_journal(
        irods, session, landing, big_run, journals, run_dir):
    interrupted(irods, landing, big_run, journals, "req-00000035",
                exception.NetworkException("connection reset"))
    with pytest.raises(PushError, match="req-00000035 was pushed with other files"):
        push_run(session, landing, run_dir, request_id="req-00000035", resume=True, journal_dir=journals)
    done = push_run(session, landing, run_dir, request_id="req-00000036", journal_dir=journals)
    with pytest.raises(PushError, match="req-00000036 is already committed"):
        push_run(session, landing, run_dir, request_id="req-00000036", resume=True, journal_dir=journals)
    with pytest.raises(PushError, match="no journal of request req-00000035"):
        push_run(session, landing, big_run, request_id="req-00000035", resume=True,
                 journal_dir=journals + "-elsewhere")
    with pytest.raises(PushError, match="does not exist .*push again without --resume"):
        push_run(session, landing, big_run, request_id="req-00000037", resume=True, journal_dir=journals)
    assert irods.payloads() == [done.payload_path]


def test_a_permanent_failure_removes_the_partial_request_even_with_a_journal(
        irods, session, landing, big_run, journals):
    before = irods.tree()
    faulty = Faulty(session)
    faulty.fail("write", exception.CAT_NO_ACCESS_PERMISSION("quota"),
                when=lambda path: path.endswith(".tar"), after_bytes=300_000)
    with pytest.raises(PushError, match="the partial request was removed") as raised:
        push_run(faulty, landing, big_run, request_id="req-00000038", journal_dir=journals)
    assert not isinstance(raised.value, PartialUploadKept)
    assert irods.tree() == before and os.listdir(journals) == []


def test_the_journal_is_private_and_records_acknowledged_prefixes(tmp_path):
    journal = resume.UploadJournal("req-00000039", "/z/landing/req-00000039/req-00000039.tar", "f" * 64,
                                   str(tmp_path / "j")).start()
    journal.record(65536, "a" * 64)
    journal.record(131072, "b" * 64)
    with open(journal.path, "a") as handle:
        handle.write("196608 cc")  # a line torn by a crash is ignored
    assert oct(os.stat(journal.path).st_mode & 0o777) == "0o600"
    loaded = resume.UploadJournal("req-00000039", journal.data_path, "f" * 64, str(tmp_path / "j")).load()
    assert loaded.acknowledged == {65536: "a" * 64, 131072: "b" * 64}
    assert loaded.resume_point(150000) == 131072 and loaded.resume_point(100000) == 65536
    assert loaded.resume_point(None) == 0


def test_an_unwritable_journal_folder_fails_before_sending_and_leaves_nothing(
        irods, session, landing, big_run, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal folder should be")
    before = irods.tree()
    with pytest.raises(PushError, match="cannot write the push journal"):
        push_run(session, landing, big_run, journal_dir=str(blocker / "journals"))
    assert irods.tree() == before
