"""archive_walk: the policy's member check of a tar with many members, against `tar -tf`.

Subject: `omero_irods.archive.list_members` over a seekable file, with the default limits of
the policy config (config.DEFAULTS): it reads each header, seeks over the data, and checks
every name, type, size and duplicate. Baseline: GNU `tar -tf` listing the same file. The tar is
written by the push client's own TarStream (pax format, files only), as the policy receives it.
"""

import io
import os
import subprocess

from bench import common

FULL = {"members": 20000, "rounds": 5}
QUICK = {"members": 5000, "rounds": 3}

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


def walk_with_policy(path, limits):
    from omero_irods.archive import list_members

    with open(path, "rb") as handle:
        return list_members(handle, limits, what=os.path.basename(path))


def list_with_gnu_tar(path):
    subprocess.run(["tar", "-tf", path], stdout=subprocess.DEVNULL, check=True)


def run(workdir, members, rounds):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    path = os.path.join(workdir, ARCHIVE_NAME)
    write_archive(path, members)
    limits = default_limits()
    found = walk_with_policy(path, limits)  # also warms the page cache
    if len(found) != members:
        raise RuntimeError("archive_walk: list_members found %d of the %d members in %s"
                           % (len(found), members, path))
    samples = common.interleaved(rounds, {"list_members": lambda: walk_with_policy(path, limits),
                                          "tar -tf": lambda: list_with_gnu_tar(path)})
    per_member = common.median_wall(samples["list_members"]) / members
    measures = [common.time_ratio(
        "walk %d members" % members, "list_members", "tar -tf", samples["list_members"],
        samples["tar -tf"], "small", context="%s per member" % common.seconds_text(per_member).lstrip("+"))]
    notes = [
        "list_members does more than tar -tf: it checks every path (no '..', no absolute path, "
        "no control characters, UTF-8), the member type, the size limits, duplicates and "
        "file/folder clashes; the baseline includes starting the tar process.",
    ]
    parameters = {"members": members, "rounds": rounds, "archive_bytes": os.path.getsize(path)}
    return common.result("archive_walk", parameters, measures, notes)
