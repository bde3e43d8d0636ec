"""push_stream: the push client's streaming tar with its sha256 manifest, against GNU tar.

Subject: `omero_irods.client.tarstream.TarStream` over a generated tree, every chunk handed
to a sink that discards it (what the upload would send), hashing each member (manifest) and
the whole archive in the same pass. Baselines, over the same tree, in the same rounds:

- `tar -cf - DIR | openssl dgst -sha256`: one pass, one hash, with the same OpenSSL SHA-256
  that Python's hashlib uses (coreutils' sha256sum has its own, slower code, which made an
  earlier comparison flatter the subject);
- the floor `tar -cf - DIR | cat > /dev/null`: reading the files and moving the bytes, no
  hash (with its output straight to /dev/null GNU tar skips reading the files at all).

Both sizes (1 GiB and 4 GiB) come from one generated tree: `part0/` (1 GiB) and the whole
tree (4 GiB, four such parts). The main rows read from the page cache (the tree was just
written), so they measure CPU work, not the disk; the "cold page cache" rows drop the tree's
pages before every run of subject and baseline alike, so both read the disk (an instrument
host pushes files it wrote long ago; a shared machine evicts them).

Memory: the peak RSS (VmHWM) of a whole child process that imports python-irodsclient and
runs the real `push()` -- planning, payload, the stream, the threads -- against a session
that discards what it is sent after copying each chunk into a message as python-irodsclient
does, for each size: what the push client needs on an instrument host, interpreter included.
"""

import json
import os
import subprocess
import sys

from bench import common

GiB = 1 << 30
FULL = {"part_bytes": GiB, "parts": 4, "files_per_part": 256, "rounds": 3}
QUICK = {"part_bytes": 64 << 20, "parts": 2, "files_per_part": 32, "rounds": 2}

TREE_NAME = "run1"


def _stream(members):
    """One full pass of the push client's stream into a sink; returns the TarStream."""
    from omero_irods.client.tarstream import TarStream

    stream = TarStream(members)
    for _chunk in stream.chunks():
        pass
    return stream


def _members(tree):
    from omero_irods.client.tarstream import members_from_paths

    return members_from_paths(tree)


def _pipeline(tree, consumer):
    """`tar -cf - -C PARENT NAME | consumer`; returns the consumer's stdout (fails loudly)."""
    tar = subprocess.Popen(["tar", "-cf", "-", "-C", os.path.dirname(tree), os.path.basename(tree)],
                           stdout=subprocess.PIPE)
    try:
        done = subprocess.run(consumer, stdin=tar.stdout, capture_output=True, check=False)
    finally:
        tar.stdout.close()
        tar_status = tar.wait()
    if tar_status != 0 or done.returncode != 0:
        raise RuntimeError("push_stream baseline failed: tar exited %d, %s %d: %s"
                           % (tar_status, consumer[0], done.returncode, done.stderr.decode(errors="replace")))
    return done.stdout


def gnu_tar_openssl(tree):
    """The baseline; returns openssl's hex digest."""
    return _pipeline(tree, ["openssl", "dgst", "-sha256", "-r"]).split()[0].decode()


def gnu_tar_cat(tree):
    """The floor: tar's bytes through a pipe into cat, which writes them to /dev/null."""
    _pipeline(tree, ["sh", "-c", "cat > /dev/null"])


# ---- memory: the whole push process ----------------------------------------------------

_MESSAGE_HEADER = b"\0" * 64


class DataObjectDoesNotExist(LookupError):
    """python-irodsclient's name for it (adapters/prc.py recognises missing objects by name)."""


class _DiscardingSession(object):
    """The python-irodsclient calls push() makes (adapters/prc.py), answered without a
    server: writes are counted and dropped, so only the client's own memory is measured."""

    username = "omero-svc"

    def __init__(self):
        self.sizes = {}
        session = self

        class Writer(object):
            def __init__(self, path):
                self.path = path

            def write(self, data):
                # python-irodsclient packs each write into one message, header + bytes: a
                # copy of the chunk (irods/message/__init__.py iRODSMessage.pack)
                packed = _MESSAGE_HEADER + data
                session.sizes[self.path] = session.sizes.get(self.path, 0) + len(packed) - len(_MESSAGE_HEADER)
                return len(data)

            def seek(self, offset, whence=0):
                return offset

            def flush(self):
                pass

            def close(self):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        class Stored(object):
            def __init__(self, size):
                self.size = size

        class DataObjects(object):
            def open(self, path, mode):
                session.sizes.setdefault(path, 0)
                return Writer(path)

            def get(self, path):
                if path not in session.sizes:
                    raise DataObjectDoesNotExist(path)
                return Stored(session.sizes[path])

            def exists(self, path):
                return path in session.sizes

        class Collections(object):
            def create(self, path, recurse=False):
                return None

            def exists(self, path):
                return True

        self.data_objects, self.collections = DataObjects(), Collections()


def push_peak_rss(tree):
    """In this (fresh) process: push `tree` with the real push() into a discarding session;
    {'peak_rss_bytes', 'archive_bytes'}."""
    from omero_irods.client.push import push

    try:  # what `omero-irods push` imports to talk to iRODS, so its memory counts too
        import irods.session  # noqa: F401
    except ImportError:
        pass
    result = push(_DiscardingSession(), "/tempZone/home/omero-svc/landing", tree, "ingest", "alice", "lab",
                  request_id="20260101T000000Z-0000rss0")
    return {"peak_rss_bytes": common.peak_rss_bytes(), "archive_bytes": result.size}


def _rss_in_child(tree, pycache):
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = common.child_environment(pycache)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [repository, environment.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "bench.push_stream", tree], capture_output=True,
                          text=True, check=False, env=environment)
    if done.returncode != 0:
        raise RuntimeError("push_stream: the memory measurement child failed:\n%s" % done.stderr)
    return json.loads(done.stdout)


# ---- the benchmark --------------------------------------------------------------------------

def write_parts(tree, part_bytes, parts, files_per_part):
    """`parts` sub-trees part0/, part1/, ... of `part_bytes` each (different content)."""
    for part in range(parts):
        common.write_tree(os.path.join(tree, "part%d" % part), files_per_part, part_bytes,
                          seed="omero-irods-bench-%d" % part)


def run(workdir, part_bytes, parts, files_per_part, rounds):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    tree = os.path.join(workdir, TREE_NAME)
    write_parts(tree, part_bytes, parts, files_per_part)
    os.sync()  # the tree's write-back must not run during the measurements
    sizes = [("%s" % common.bytes_text(part_bytes), os.path.join(tree, "part0")),
             ("%s" % common.bytes_text(part_bytes * parts), tree)]
    measures, parameters = [], {"part_bytes": part_bytes, "parts": parts,
                                "files_per_part": files_per_part, "rounds": rounds, "sizes": {}}
    for label, root in sizes:
        members = _members(root)
        stream = _stream(members)  # also warms the page cache
        samples = common.interleaved(rounds, {"push stream": lambda: _stream(members),
                                              "tar | openssl": lambda: gnu_tar_openssl(root),
                                              "tar | cat": lambda: gnu_tar_cat(root)})
        subject = common.median_wall(samples["push stream"])
        cold = common.interleaved(rounds, {"push stream": lambda: _stream(members),
                                           "tar | openssl": lambda: gnu_tar_openssl(root)},
                                  prepare=lambda: common.evict_from_page_cache(root))
        memory = _rss_in_child(root, os.path.join(workdir, "pycache"))
        measures += [
            common.time_ratio("push stream %s vs tar | openssl dgst -sha256" % label, "TarStream + manifest",
                              "tar | openssl dgst", samples["push stream"], samples["tar | openssl"], "<= 1.0",
                              context="%.0f MiB/s" % (stream.size / subject / (1 << 20))),
            common.time_ratio("push stream %s vs floor tar | cat" % label, "TarStream + manifest",
                              "tar | cat > /dev/null", samples["push stream"], samples["tar | cat"],
                              "(floor)", context="floor %.0f MiB/s" % (
                                  stream.size / common.median_wall(samples["tar | cat"]) / (1 << 20))),
            common.time_ratio("push stream %s vs tar | openssl, cold page cache" % label,
                              "TarStream + manifest", "tar | openssl dgst", cold["push stream"],
                              cold["tar | openssl"], "<= 1.0", context="%.0f MiB/s" % (
                                  stream.size / common.median_wall(cold["push stream"]) / (1 << 20))),
            common.size_ratio("push peak RSS, whole process, %s" % label, "push() process", "64 MiB",
                              memory["peak_rss_bytes"], 64 << 20, "<= 1 (64 MiB)",
                              context=common.bytes_text(memory["peak_rss_bytes"])),
        ]
        parameters["sizes"][label] = {"archive_bytes": stream.size, "files": len(members), "memory": memory}
    notes = [
        "the subject hashes every byte twice (SHA-256 per member for the manifest, and of the "
        "archive) on two threads; the baseline hashes once, in a second process, with the same "
        "OpenSSL. The floor is what moving the bytes costs without any hash.",
        "cold page cache: before every run of either, the tree's pages are dropped "
        "(posix_fadvise DONTNEED), so both read the disk; the push asks the OS to read ahead "
        "across files (tarstream PREFETCH_BYTES) as tar's reads run ahead of openssl.",
        "peak RSS: a child Python running push() into a session that discards the bytes "
        "(VmHWM of the whole process: interpreter, imports, chunks in flight).",
    ]
    return common.result("push_stream", parameters, measures, notes)


if __name__ == "__main__":
    # The memory child: python -m bench.push_stream TREE -> one JSON line.
    print(json.dumps(push_peak_rss(sys.argv[1])))
