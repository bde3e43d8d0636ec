"""The streamed tar: a valid pax archive, hashed in the same pass, in bounded memory."""

import hashlib
import io
import os
import socket
import tarfile
import tempfile
import tracemalloc

import pytest

from omero_irods.client.tarstream import (
    Member, SourceError, TarStream, default_archive_name, members_from_paths)

MiB = 1024 * 1024


def archive_bytes(stream):
    return b"".join(stream.chunks())


def test_archive_is_a_pax_tar_of_the_files_under_their_folder_name(run_dir):
    stream = TarStream(members_from_paths(run_dir), chunk_size=4096)
    data = archive_bytes(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.format == tarfile.PAX_FORMAT
        contents = {m.name: tar.extractfile(m).read() for m in tar}
        assert all(m.isfile() for m in tar.getmembers())
    assert contents == {
        "run1/notes.txt": b"exposure 10 ms\n",
        "run1/plate/A1.tif": b"A1" * 1000,
        "run1/plate/B2.tif": b"",
    }


def test_manifest_archive_hash_and_size_come_from_the_same_pass(run_dir):
    stream = TarStream(members_from_paths(run_dir), chunk_size=4096)
    predicted = stream.predicted_size
    data = archive_bytes(stream)
    assert stream.size == len(data) == predicted
    assert stream.sha256 == hashlib.sha256(data).hexdigest()
    assert [(e.path, e.size, e.sha256) for e in stream.manifest] == [
        ("run1/notes.txt", 15, hashlib.sha256(b"exposure 10 ms\n").hexdigest()),
        ("run1/plate/A1.tif", 2000, hashlib.sha256(b"A1" * 1000).hexdigest()),
        ("run1/plate/B2.tif", 0, hashlib.sha256(b"").hexdigest()),
    ]


def test_archive_is_deterministic_and_member_order_sorted(run_dir):
    first = archive_bytes(TarStream(members_from_paths(run_dir)))
    os.utime(run_dir / "plate", (1, 1))  # directory times are not part of the archive
    second = archive_bytes(TarStream(members_from_paths(run_dir)))
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert names == sorted(names)


def test_long_and_non_ascii_names_round_trip_through_pax_headers(tmp_path):
    deep = tmp_path / "exp" / ("d" * 120) / "séance_α.tif"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"x")
    data = archive_bytes(TarStream(members_from_paths(tmp_path / "exp")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["exp/%s/séance_α.tif" % ("d" * 120)]


def test_several_paths_are_stored_relative_to_their_common_parent(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.tif").write_bytes(b"1")
    (tmp_path / "b" / "x.tif").write_bytes(b"2")
    members = members_from_paths([tmp_path / "b" / "x.tif", tmp_path / "a" / "x.tif"])
    assert [m.path for m in members] == ["a/x.tif", "b/x.tif"]
    assert default_archive_name([tmp_path / "a" / "x.tif", tmp_path / "b"]) == tmp_path.name + ".tar"
    assert default_archive_name(tmp_path / "a" / "x.tif") == "x.tar"


def test_chunks_have_the_requested_size_except_the_last(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(os.urandom(300_000))
    sizes = [len(c) for c in TarStream(members_from_paths(tmp_path / "d"), chunk_size=64 * 1024).chunks()]
    assert set(sizes[:-1]) == {64 * 1024} and 0 < sizes[-1] <= 64 * 1024


def test_streaming_large_files_keeps_memory_bounded_and_creates_no_temp_file(tmp_path, monkeypatch):
    source = tmp_path / "big"
    source.mkdir()
    for index in range(3):  # 144 MiB of sparse files: nothing real on disk
        with open(source / ("stack%d.tif" % index), "wb") as handle:
            handle.truncate(48 * MiB)
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)

    stream = TarStream(members_from_paths(source), chunk_size=1 * MiB)
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in stream.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == stream.size > 144 * MiB
    assert peak < 6 * MiB, "peak %.1f MiB while streaming 144 MiB" % (peak / MiB)
    assert list(scratch.iterdir()) == []


def test_symlink_is_refused_by_default_and_named(run_dir):
    os.symlink(run_dir / "notes.txt", run_dir / "link.txt")
    with pytest.raises(SourceError, match=r"link\.txt: is a symbolic link"):
        members_from_paths(run_dir)


def test_symlink_followed_on_request_stores_the_target_content(run_dir):
    os.symlink(run_dir / "notes.txt", run_dir / "link.txt")
    stream = TarStream(members_from_paths(run_dir, follow_symlinks=True))
    data = archive_bytes(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmember("run1/link.txt")
        assert member.isfile() and tar.extractfile(member).read() == b"exposure 10 ms\n"


def test_symlink_loop_is_refused_even_when_following(run_dir):
    os.symlink(run_dir, run_dir / "plate" / "up")
    with pytest.raises(SourceError, match="loop"):
        members_from_paths(run_dir, follow_symlinks=True)


def test_fifo_and_socket_are_refused(run_dir, tmp_path):
    os.mkfifo(run_dir / "pipe")
    with pytest.raises(SourceError, match="pipe: a FIFO cannot be archived"):
        members_from_paths(run_dir)
    os.remove(run_dir / "pipe")
    sock_path = os.path.join(tempfile.mkdtemp(dir=tmp_path), "s")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(sock_path)
        with pytest.raises(SourceError, match="a socket cannot be archived"):
            members_from_paths(os.path.dirname(sock_path))
    finally:
        server.close()


def test_a_folder_without_files_and_a_missing_path_are_clear_errors(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(SourceError, match="holds no regular files"):
        members_from_paths(tmp_path / "empty")
    with pytest.raises(SourceError, match="nope: no such file"):
        members_from_paths(tmp_path / "nope")


def test_a_path_given_twice_is_refused(run_dir):
    with pytest.raises(SourceError, match="given twice"):
        members_from_paths([run_dir, run_dir / "notes.txt"])


def test_names_iRODS_cannot_store_are_refused_before_anything_is_read(run_dir):
    (run_dir / "bad\nname.tif").write_bytes(b"x")
    with pytest.raises(SourceError, match="control character"):
        members_from_paths(run_dir)


def test_a_file_that_grows_or_shrinks_while_archived_is_an_error(run_dir):
    members = members_from_paths(run_dir)
    with open(run_dir / "plate" / "A1.tif", "ab") as handle:
        handle.write(b"more")
    with pytest.raises(SourceError, match="A1.tif: file grew while being archived"):
        archive_bytes(TarStream(members))
    members = members_from_paths(run_dir)
    (run_dir / "plate" / "A1.tif").write_bytes(b"A")
    with pytest.raises(SourceError, match=r"A1.tif: file shrank while being archived \(1 of 2004"):
        archive_bytes(TarStream(members))


def test_members_from_any_reader_stream_like_files(tmp_path):
    """OMERO original files arrive as readers, not paths (adapters/omero_gateway.py)."""
    member = Member("img/a.fake", 5, 0, lambda: io.BytesIO(b"hello"))
    stream = TarStream([member])
    data = archive_bytes(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("img/a.fake").read() == b"hello"
    with pytest.raises(SourceError, match="two members with the same archive path"):
        TarStream([member, member])
    with pytest.raises(SourceError, match="'.' or '..'"):
        Member("../escape", 1, 0, lambda: io.BytesIO(b"x"))


def test_a_consumer_that_stops_early_stops_the_reading_thread_and_closes_the_file(tmp_path):
    """The stream reads on a second thread (two SHA-256 passes on two cores); an upload that
    fails mid-way must not leave it running or holding a file open."""
    import threading

    closed = []

    class Reader(io.BytesIO):
        def close(self):
            closed.append(True)
            super().close()

    members = [Member("big.bin", 3 * MiB, 0, lambda: Reader(b"x" * (3 * MiB)))]
    before = threading.active_count()
    chunks = TarStream(members, chunk_size=512 * 1024).chunks()
    first = next(chunks)
    assert len(first) == 512 * 1024
    chunks.close()
    assert threading.active_count() == before and closed == [True]


def test_the_stream_holds_at_most_two_chunks_while_the_consumer_holds_none(tmp_path):
    """Double buffering: however fast the reader, only the consumer's chunk and the one being
    filled exist; a third is started when the consumer asks for the next one."""
    import threading

    from omero_irods.client import tarstream

    asked, allocated = [], []
    original = tarstream._Producer._allocate

    def counting(producer, size):
        asked.append(size)
        buffer = original(producer, size)
        allocated.append(size)
        return buffer

    members = [Member("big.bin", 4 * MiB, 0, lambda: io.BytesIO(b"y" * (4 * MiB)))]
    stream = TarStream(members, chunk_size=512 * 1024)
    tarstream._Producer._allocate = counting
    try:
        chunks = stream.chunks()
        next(chunks)
        for _ in range(500):  # until the producer, two chunks filled, asks for a third
            if len(asked) >= 3:
                break
            threading.Event().wait(0.01)
        assert len(asked) == 3 and len(allocated) == 2  # it waits for the consumer
        rest = sum(len(chunk) for chunk in chunks)
    finally:
        tarstream._Producer._allocate = original
    assert 512 * 1024 + rest == stream.size


def _hinting_members(sizes, hints):
    """Members that record their prefetch hints; reading one records it too."""
    def member(index, size):
        def open_member():
            hints.append(("read", index))
            return io.BytesIO(bytes(size))
        return Member("run1/f%03d" % index, size, 0, open_member,
                      prefetch=lambda count: hints.append(("hint", index, count)))
    return [member(index, size) for index, size in enumerate(sizes)]


def test_files_ahead_of_the_reader_are_hinted_to_the_os_in_order(monkeypatch):
    # Cold page cache: without read-ahead across files every file's first read waits for
    # the disk while nothing else reads (the push was 1.3x tar | openssl; 0.9x with hints).
    from omero_irods.client import tarstream

    monkeypatch.setattr(tarstream, "PREFETCH_BYTES", 10 * 1024)
    hints = []
    members = _hinting_members([4096, 4096, 4096, 0, 50 * 1024, 4096, 4096], hints)
    archive_bytes(TarStream(members, chunk_size=4096))
    assert [h for h in hints if h[0] == "hint"] == [
        ("hint", 0, 4096), ("hint", 1, 4096), ("hint", 2, 4096),  # 12 KiB ahead of the first read
        ("hint", 4, 10 * 1024),  # a large file: its first PREFETCH_BYTES; an empty one: nothing
        ("hint", 5, 4096), ("hint", 6, 4096)]
    for hint in (h for h in hints if h[0] == "hint"):
        # every hint comes before that file's read, and file 4 only once file 0 is read
        assert hints.index(hint) < hints.index(("read", hint[1]))
    assert hints.index(("hint", 4, 10 * 1024)) > hints.index(("read", 0))


def test_local_files_are_hinted_with_posix_fadvise_and_a_missing_one_fails_when_read(run_dir, monkeypatch):
    from omero_irods.client import tarstream

    if not hasattr(os, "posix_fadvise"):
        pytest.skip("this platform has no posix_fadvise: local files are not hinted")
    advised = []
    real_fadvise = os.posix_fadvise
    monkeypatch.setattr(tarstream.os, "posix_fadvise",
                        lambda fd, offset, count, advice: advised.append((os.readlink("/proc/self/fd/%d" % fd),
                                                                          offset, count, advice))
                        or real_fadvise(fd, offset, count, advice))
    members = members_from_paths(run_dir)
    archive_bytes(TarStream(members))
    assert [(os.path.basename(path), offset, count, advice) for path, offset, count, advice in advised] == [
        ("notes.txt", 0, 15, os.POSIX_FADV_WILLNEED), ("A1.tif", 0, 2000, os.POSIX_FADV_WILLNEED)]

    (run_dir / "notes.txt").unlink()  # gone between listing and reading: the hint stays silent
    with pytest.raises(SourceError, match="notes.txt: cannot open"):
        archive_bytes(TarStream(members))
