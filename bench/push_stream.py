"""push_stream: the push client's streaming tar with its sha256 manifest, against GNU tar.

Subject: `omero_irods.client.tarstream.TarStream` over a generated tree, every chunk handed to
a sink that discards it (what the upload would send), hashing each member and the whole
archive in the same pass. Baseline: `tar -cf - DIR | sha256sum` over the same tree, one pass
and one hash. Both read the tree from the page cache (it was just written), so this measures
CPU work, not the disk.

Memory is measured in a child Python (so nothing else this process did counts): its peak RSS
growth over one pass (VmHWM, see common.peak_rss_bytes) and the tracemalloc peak, each as a
fraction of the archive size; then the tracemalloc peak of an archive `scale_check` times
larger (the same files listed again under other names) over the first one -- about 1 when
memory does not grow with the data.
"""

import json
import os
import subprocess
import sys
import tracemalloc

from bench import common

FULL = {"files": 200, "total_bytes": 256 << 20, "rounds": 3, "scale_check": 3}
QUICK = {"files": 100, "total_bytes": 64 << 20, "rounds": 2, "scale_check": 2}

TREE_NAME = "run1"


def _stream(members):
    """One full pass of the push client's stream into a sink; returns the TarStream."""
    from omero_irods.client.tarstream import TarStream

    stream = TarStream(members)
    for _chunk in stream.chunks():
        pass
    return stream


def _members(tree, copies=1):
    """The tree's members, listed `copies` times under copy0/, copy1/, ... when copies > 1."""
    from omero_irods.client.tarstream import Member, members_from_paths

    members = members_from_paths(tree)
    if copies == 1:
        return members
    return [Member("copy%d/%s" % (copy, member.path), member.size, member.mtime, member.open)
            for copy in range(copies) for member in members]


def gnu_tar_sha256(tree):
    """The baseline pipeline; returns sha256sum's hex digest (and fails loudly if either fails)."""
    tar = subprocess.Popen(["tar", "-cf", "-", "-C", os.path.dirname(tree), os.path.basename(tree)],
                           stdout=subprocess.PIPE)
    try:
        digest = subprocess.run(["sha256sum"], stdin=tar.stdout, capture_output=True, check=False)
    finally:
        tar.stdout.close()
        tar_status = tar.wait()
    if tar_status != 0 or digest.returncode != 0:
        raise RuntimeError("push_stream baseline failed: tar exited %d, sha256sum %d: %s"
                           % (tar_status, digest.returncode, digest.stderr.decode(errors="replace")))
    return digest.stdout.split()[0].decode()


def measure_memory(tree, scale_check):
    """In this (fresh) process: peak RSS growth and tracemalloc peaks of streaming `tree`."""
    members = _members(tree)
    rss_before = common.peak_rss_bytes()
    stream = _stream(members)
    rss_growth = common.peak_rss_bytes() - rss_before
    tracemalloc.start()
    try:
        _stream(members)
        peak_once = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        larger = _stream(_members(tree, scale_check))
        peak_larger = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"archive_bytes": stream.size, "rss_growth_bytes": rss_growth,
            "tracemalloc_peak_bytes": peak_once, "larger_archive_bytes": larger.size,
            "larger_tracemalloc_peak_bytes": peak_larger, "chunk_size": stream.chunk_size}


def _memory_in_child(tree, scale_check, pycache):
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = common.child_environment(pycache)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [repository, environment.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "bench.push_stream", tree, str(scale_check)],
                          capture_output=True, text=True, check=False, env=environment)
    if done.returncode != 0:
        raise RuntimeError("push_stream: the memory measurement child failed:\n%s" % done.stderr)
    return json.loads(done.stdout)


def _memory_note(memory, scale_check):
    growth = memory["larger_tracemalloc_peak_bytes"] / float(max(memory["tracemalloc_peak_bytes"], 1))
    verdict = ("bounded: the peak stays put" if growth < 1.5
               else "NOT bounded: the peak grew %.1fx" % growth)
    return ("memory is %s when the archive grows %dx; the stream's chunk size is %s (one "
            "DATA_OBJ_WRITE per chunk)" % (verdict, scale_check, common.bytes_text(memory["chunk_size"])))


def run(workdir, files, total_bytes, rounds, scale_check):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    tree = os.path.join(workdir, TREE_NAME)
    common.write_tree(tree, files, total_bytes)
    members = _members(tree)
    stream = _stream(members)  # also warms the page cache
    if len(stream.manifest) != files or stream.size != stream.predicted_size:
        raise RuntimeError("push_stream: the stream of %d files gave %d manifest entries and %s of "
                           "%d predicted bytes" % (files, len(stream.manifest), stream.size, stream.predicted_size))
    gnu_tar_sha256(tree)
    samples = common.interleaved(rounds, {"tarstream": lambda: _stream(members),
                                          "gnu tar": lambda: gnu_tar_sha256(tree)})
    memory = _memory_in_child(tree, scale_check, os.path.join(workdir, "pycache"))
    subject_seconds = common.median_wall(samples["tarstream"])
    throughput = stream.size / subject_seconds / (1 << 20)
    measures = [
        common.time_ratio("stream %d files, %s" % (files, common.bytes_text(total_bytes)),
                          "TarStream + manifest", "tar | sha256sum", samples["tarstream"],
                          samples["gnu tar"], "<= ~1",
                          throughput_ratio=common.median_wall(samples["gnu tar"]) / subject_seconds,
                          context="%.0f MiB/s" % throughput),
        common.size_ratio("peak RSS growth / archive size", "stream pass", "archive bytes",
                          memory["rss_growth_bytes"], memory["archive_bytes"], "<< 1",
                          context="+" + common.bytes_text(memory["rss_growth_bytes"])),
        common.size_ratio("tracemalloc peak / archive size", "stream pass", "archive bytes",
                          memory["tracemalloc_peak_bytes"], memory["archive_bytes"], "<< 1",
                          context=common.bytes_text(memory["tracemalloc_peak_bytes"])),
        common.size_ratio("tracemalloc peak, %dx archive / 1x" % scale_check,
                          "%dx archive" % scale_check, "1x archive",
                          memory["larger_tracemalloc_peak_bytes"], memory["tracemalloc_peak_bytes"], "~1",
                          context="%s vs %s" % (common.bytes_text(memory["larger_tracemalloc_peak_bytes"]),
                                                common.bytes_text(memory["tracemalloc_peak_bytes"]))),
    ]
    notes = [
        "the subject hashes every byte twice (per member for the manifest, and the archive) "
        "with Python's hashlib (OpenSSL); the baseline hashes once, in a second process, with "
        "coreutils' own sha256, so the ratio compares whole pipelines, not hash functions.",
        _memory_note(memory, scale_check),
    ]
    parameters = {"files": files, "total_bytes": total_bytes, "rounds": rounds,
                  "scale_check": scale_check, "archive_bytes": stream.size, "memory": memory}
    return common.result("push_stream", parameters, measures, notes)


if __name__ == "__main__":
    # The memory child: python -m bench.push_stream TREE SCALE_CHECK -> one JSON line.
    print(json.dumps(measure_memory(sys.argv[1], int(sys.argv[2]))))
