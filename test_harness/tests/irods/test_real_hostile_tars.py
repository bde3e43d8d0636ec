"""Hostile tars extracted by the real msiTarFileExtract (libarchive, irods/irods
server/core/src/structfile.cpp and the tar structured-file plugin: each member name prefixed
with the cache folder, ARCHIVE_EXTRACT_TIME only, none of libarchive's SECURE_* flags).

Whatever the policy decides, nothing may be written outside the extraction collection's vault
folder: these tests look at the DISK (new files in the zone's etc/irods, the irods user's home,
the zone folder, the vault outside the user's collections), not only at the catalog."""

import os

import pytest

from realzone import requests
from realzone.install import SERVICE_ACCOUNT
from realzone.tier import files_on_disk


def disk_snapshot(tier):
    zone = tier.zone
    watched = [zone.etc, os.path.join(zone.workdir, "home"), zone.vault]
    files = set()
    for root in watched:
        files |= files_on_disk(root)
    files |= {os.path.join(zone.workdir, name) for name in os.listdir(zone.workdir)}
    return files


def push_raw(tier, tmp_path, tar_bytes, manifest_members, name="run.tar"):
    request_id = requests.new_request_id()
    collection, data_path, payload_path = requests.landing_paths(request_id, name)
    with tier.zone.session(SERVICE_ACCOUNT) as session:
        session.collections.create(collection)
        session.data_objects.put(requests.write_local(tmp_path, name, tar_bytes), data_path)
        session.data_objects.put(requests.write_local(tmp_path, "payload.json", requests.payload_for(
            request_id, tar_bytes, manifest_members, name=name)), payload_path)
    return request_id


def escape_target(tier, request_id):
    """An absolute path the irods OS user can write (its rules folder, as in the review's case)."""
    return os.path.join(tier.zone.etc, "escaped-%s.py" % request_id)


def allowed_new_file(tier, path):
    """Inside the vault folder of a user's collection (placed data) or of the landing zone."""
    vault_home = os.path.join(tier.zone.vault, "home") + "/"
    return path.startswith(vault_home)


def check_nothing_escaped(tier, before, request_id):
    after = disk_snapshot(tier)
    escaped = sorted(p for p in after - before if not allowed_new_file(tier, p))
    assert escaped == [], "files written outside the vault's collections: %s" % escaped
    assert not os.path.exists(escape_target(tier, request_id))


def climb():
    return "../" * 40


def test_dotdot_member_is_rejected_and_nothing_escapes(tier, tmp_path):
    request_id = requests.new_request_id()
    data = b"# not a rule file\n"
    hostile = climb() + escape_target(tier, request_id).lstrip("/")
    tar_bytes = requests.build_tar({hostile: data})
    before = disk_snapshot(tier)
    pushed = push_raw(tier, tmp_path, tar_bytes, {"run/a.tif": data})
    status = tier.wait_final(pushed)
    assert status["state"] == "rejected", status
    check_nothing_escaped(tier, before, pushed)


def test_symlink_member_is_rejected_and_nothing_escapes(tier, tmp_path):
    import tarfile

    def as_symlink(info):
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        info.size = 0

    tar_bytes = requests.build_tar({"run/link.tif": b""}, tweak=as_symlink)
    before = disk_snapshot(tier)
    pushed = push_raw(tier, tmp_path, tar_bytes, {"run/link.tif": b""})
    status = tier.wait_final(pushed)
    assert status["state"] == "rejected", status
    check_nothing_escaped(tier, before, pushed)


def test_pax_name_that_libarchive_reads_differently_never_escapes(tier, tmp_path):
    """tarfile applies pax records in order (the later `path` wins); libarchive lets
    GNU.sparse.name override `path` (libarchive archive_read_support_format_tar.c)."""
    request_id_hint = requests.new_request_id()
    data = b"# written by a hostile tar\n"
    hostile = climb() + escape_target(tier, request_id_hint).lstrip("/")

    def libarchive_name_differs(info):
        info.pax_headers = {"GNU.sparse.name": hostile, "path": info.name}

    tar_bytes = requests.build_tar({"run/a.tif": data}, tweak=libarchive_name_differs)
    before = disk_snapshot(tier)
    pushed = push_raw(tier, tmp_path, tar_bytes, {"run/a.tif": data})
    status = tier.wait_final(pushed)
    escaped = os.path.exists(escape_target(tier, request_id_hint))
    if escaped:
        os.remove(escape_target(tier, request_id_hint))
    assert not escaped, "libarchive wrote %s" % escape_target(tier, request_id_hint)
    check_nothing_escaped(tier, before, pushed)
    assert status["state"] == "rejected", status
