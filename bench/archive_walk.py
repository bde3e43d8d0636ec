"""archive_walk: the policy's member check of a tar with many members, against `tar -tf`.

Subject: `omero_irods.archive.list_members` with the default limits of the policy config
(config.DEFAULTS), through a reader that counts its calls the way the server's reader over
msiDataObjRead/msiDataObjLseek turns each into a microservice round trip. It parses every
header, seeks over data beyond what it has read, and checks every name, type, size and
duplicate. Baseline: GNU `tar -tf` listing the same file (process start included). The tar is
written by the push client's own TarStream (pax format, files only), as the policy receives it.
Target: 100k members in <= 2 s, with read/seek calls O(archive bytes / 1 MiB), none per member.
"""

import io
import os
import subprocess

from bench import common

FULL = {"members": 100000, "rounds": 5}
QUICK = {"members": 20000, "rounds": 3}

ARCHIVE_NAME = "many-members.tar"
MAX_MEMBER_BYTES = 4096


def default_limits():
    """The ArchiveLimits a zone gets when its config sets no `limits`."""
    from omero_irods.archive import ArchiveLimits
    from omero_irods.config import DEFAULTS

    limits = DEFAULTS["limits"]
    return ArchiveLimits(max_members=limits["members"], max_member_bytes=limits["member_bytes"],
                         max_expanded_bytes=limits["expanded_bytes"], max_path_length=limits["path_length"],
                         max_name_length=limits["name_length"])


def write_archive(path, member_count):
    """A tar of `member_count` small files (0..MAX_MEMBER_BYTES bytes, 100 per folder)."""
    from omero_irods.client.tarstream import Member, TarStream

    content = bytes(range(256)) * (MAX_MEMBER_BYTES // 256)
    sizes = common.spread_sizes(member_count * MAX_MEMBER_BYTES // 2, member_count, "archive_walk")

    def opener(size):
        return lambda: io.BytesIO(content[:size])

    members = [Member("plate/well%04d/field%06d.tif" % (index // 100, index), min(size, MAX_MEMBER_BYTES),
                      0, opener(min(size, MAX_MEMBER_BYTES)))
               for index, size in enumerate(sizes)]
    with open(path, "wb") as handle:
        for chunk in TarStream(members).chunks():
            handle.write(chunk)


class CountingReader(io.RawIOBase):
    """A raw reader over a local file that counts read, seek and tell calls: on the server
    each is one msiDataObjRead / msiDataObjLseek round trip."""

    def __init__(self, path):
        super().__init__()
        self._file = open(path, "rb", buffering=0)
        self.calls = {"read": 0, "seek": 0, "tell": 0}

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        self.calls["read"] += 1
        return self._file.readinto(buffer)

    def seek(self, offset, whence=io.SEEK_SET):
        self.calls["seek"] += 1
        return self._file.seek(offset, whence)

    def tell(self):
        self.calls["tell"] += 1
        return self._file.tell()

    def close(self):
        self._file.close()
        super().close()


def walk_with_policy(path, limits):
    return walk_and_count(path, limits)[0]


def walk_and_count(path, limits):
    """(members, {'read', 'seek', 'tell': calls}) of list_members through a CountingReader."""
    from omero_irods.archive import list_members

    with CountingReader(path) as reader:
        return list_members(reader, limits, what=os.path.basename(path)), dict(reader.calls)


def list_with_gnu_tar(path):
    subprocess.run(["tar", "-tf", path], stdout=subprocess.DEVNULL, check=True)


def run(workdir, members, rounds):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    path = os.path.join(workdir, ARCHIVE_NAME)
    write_archive(path, members)
    limits = default_limits()
    limits = limits._replace(max_members=max(limits.max_members, members))
    found = walk_with_policy(path, limits)  # also warms the page cache
    if len(found) != members:
        raise RuntimeError("archive_walk: list_members found %d of the %d members in %s"
                           % (len(found), members, path))
    samples = common.interleaved(rounds, {"list_members": lambda: walk_with_policy(path, limits),
                                          "tar -tf": lambda: list_with_gnu_tar(path)})
    calls = walk_and_count(path, limits)[1]
    seconds = common.median_wall(samples["list_members"])
    archive_bytes = os.path.getsize(path)
    calls_text = "%d read + %d seek + %d tell calls for %s" % (
        calls["read"], calls["seek"], calls["tell"], common.bytes_text(archive_bytes))
    measures = [common.time_ratio(
        "walk %d members" % members, "list_members", "tar -tf", samples["list_members"],
        samples["tar -tf"], "<= 2 s for 100k members; reads+seeks ~ archive MiB",
        context="%.2f s; %s per member; %s" % (seconds, common.seconds_text(seconds / members).lstrip("+"),
                                               calls_text),
        reader_calls=calls)]
    notes = [
        "list_members does more than tar -tf: it refuses every header libarchive might read "
        "differently (allow-list) and checks every path (no '..', no absolute path, no control "
        "characters, UTF-8), the member type, the size limits, duplicates and file/folder "
        "clashes; the baseline includes starting the tar process.",
        "reader calls: %s (each one msiDataObjRead / msiDataObjLseek on the server; tell is "
        "never used)." % calls_text,
    ]
    parameters = {"members": members, "rounds": rounds, "archive_bytes": archive_bytes}
    return common.result("archive_walk", parameters, measures, notes)
