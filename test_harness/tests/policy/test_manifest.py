"""Manifest checks against tar members and placed iRODS objects."""

import base64
import hashlib
from collections import namedtuple

import pytest

from omero_irods.errors import Rejected
from omero_irods.manifest import (
    ManifestEntry,
    PlacedObject,
    compare_with_members,
    compare_with_objects,
    hex_to_irods_checksum,
    irods_checksum_to_hex,
    unsafe_path_problem,
)

Member = namedtuple("Member", "path size type")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def irods_sha2(data):
    # irods/irods lib/hasher/src/SHA256Strategy.cpp: 'sha2:' + base64(raw digest)
    return "sha2:" + base64.b64encode(hashlib.sha256(data).digest()).decode()


MANIFEST = (ManifestEntry("run/a.tif", 1, sha(b"a")), ManifestEntry("run/b.tif", 2, sha(b"bb")))


def test_checksum_conversions_match_what_irods_stores():
    assert hex_to_irods_checksum(sha(b"")) == "sha2:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert hex_to_irods_checksum(sha(b"a")) == irods_sha2(b"a")
    assert irods_checksum_to_hex(irods_sha2(b"a")) == sha(b"a")
    assert MANIFEST[0].irods_checksum == irods_sha2(b"a")


@pytest.mark.parametrize("checksum", [None, "", "0cc175b9c0f1b6a831c399e269772661", "sha2:***", "sha2:AAAA"])
def test_non_sha256_checksums_are_not_misread(checksum):
    assert irods_checksum_to_hex(checksum) is None


def test_hex_to_irods_refuses_non_digests():
    with pytest.raises(ValueError):
        hex_to_irods_checksum("ABC")


def test_members_matching_the_manifest_pass_and_directories_are_ignored():
    members = [Member("run", 0, "dir"), Member("run/a.tif", 1, "file"), Member("run/b.tif", 2, "file")]
    report = compare_with_members(MANIFEST, members)
    assert report.ok
    report.raise_if_bad("archive run.tar")


def test_missing_extra_and_resized_members_are_reported():
    members = [Member("run/a.tif", 9, "file"), Member("run/c.tif", 3, "file")]
    report = compare_with_members(MANIFEST, members)
    assert report.missing == ("run/b.tif",)
    assert report.extra == ("run/c.tif",)
    assert [(m.path, m.field, m.expected, m.actual) for m in report.mismatched] == [("run/a.tif", "size", 1, 9)]
    with pytest.raises(Rejected) as caught:
        report.raise_if_bad("archive run.tar")
    assert caught.value.reason == "manifest_mismatch"
    for text in ("archive run.tar", "run/b.tif", "run/c.tif", "run/a.tif (manifest 1, found 9)"):
        assert text in caught.value.message


def test_placed_objects_with_a_wrong_checksum_are_a_checksum_mismatch():
    placed = [PlacedObject("run/a.tif", 1, irods_sha2(b"a")), PlacedObject("run/b.tif", 2, irods_sha2(b"xx"))]
    report = compare_with_objects(MANIFEST, placed)
    assert [m.path for m in report.mismatched] == ["run/b.tif"]
    with pytest.raises(Rejected) as caught:
        report.raise_if_bad("collection /z/home/alice/omero/run")
    assert caught.value.reason == "checksum_mismatch"


def test_placed_objects_without_sha2_checksum_are_unverified_not_passed():
    placed = [PlacedObject("run/a.tif", 1, None), PlacedObject("run/b.tif", 2, "9d3d9048db16a7eee539e93e3618cbe7")]
    report = compare_with_objects(MANIFEST, placed)
    assert report.unverified == ("run/a.tif", "run/b.tif")
    assert not report.ok
    assert "without a sha2 checksum" in report.describe()


def test_long_reports_are_bounded():
    manifest = [ManifestEntry("f%04d" % i, 1, sha(b"a")) for i in range(1000)]
    report = compare_with_members(manifest, [])
    assert len(report.missing) == 1000
    assert len(report.describe()) < 200


@pytest.mark.parametrize(
    "path, problem",
    [
        ("", "is empty"),
        ("/abs", "is absolute"),
        ("a//b", "empty path component"),
        ("a/", "empty path component"),
        ("a/../b", "'..'"),
        ("./a", "'.'"),
        ("a\nb", "control character"),
        ("x" * 11, "limit is 10"),
    ],
)
def test_unsafe_paths_are_explained(path, problem):
    assert problem in unsafe_path_problem(path, max_length=10)


def test_ordinary_paths_are_safe():
    assert unsafe_path_problem("run 1/a..b/ünïcode.tif") is None


def test_a_non_sha256_checksum_is_refused_with_the_zone_setting_to_change():
    # irods/irods server/api/src/rsFileChksum.cpp: an MD5 zone answers a bare MD5 hex digest
    import pytest

    from omero_irods.errors import Rejected
    from omero_irods.manifest import hex_to_irods_checksum, require_sha256_checksum

    require_sha256_checksum(hex_to_irods_checksum("0" * 64), "run1.tar")
    with pytest.raises(Rejected) as caught:
        require_sha256_checksum("5d41402abc4b2a76b9719d911017c592", "run1.tar")
    assert caught.value.reason == "checksum_scheme"
    assert "MD5" in caught.value.message and "default_hash_scheme" in caught.value.message
