"""The per-file manifest of a request, and how it is checked.

The push side lists every regular file it sends as `{path, size, sha256}` (sha256 in lowercase
hex). The policy compares that list with (a) the tar's member list (path + size, read from the
headers before anything is extracted) and (b) the objects placed in iRODS (path, size, and the
catalog's checksum), and reports missing, extra and mismatched files.

iRODS stores a SHA-256 checksum as 'sha2:' + base64 of the 32-byte digest (irods/irods
lib/hasher/src/SHA256Strategy.cpp; prefix SHA256_CHKSUM_PREFIX in
lib/hasher/include/irods/checksum.h); an MD5 checksum is 32 plain hex digits.
"""

import base64
import binascii
import re
from collections import namedtuple

from omero_irods.errors import Rejected

IRODS_SHA256_PREFIX = "sha2:"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


class ManifestEntry(namedtuple("ManifestEntry", "path size sha256")):
    """One regular file: relative POSIX `path`, `size` in bytes, `sha256` in lowercase hex."""

    __slots__ = ()

    @classmethod
    def from_json(cls, entry):
        return cls(entry["path"], int(entry["size"]), entry["sha256"])

    def to_json(self):
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    @property
    def irods_checksum(self):
        """The checksum iRODS will report for this file: 'sha2:<base64>'."""
        return hex_to_irods_checksum(self.sha256)


#: A data object placed in iRODS: `path` relative to the placed collection, `size` in bytes,
#: `checksum` as the catalog holds it ('sha2:...', an MD5 hex string, or None if not computed).
PlacedObject = namedtuple("PlacedObject", "path size checksum")


def hex_to_irods_checksum(sha256_hex):
    """'e3b0c4...' -> 'sha2:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='."""
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError("not a lowercase sha256 hex digest: %r" % (sha256_hex,))
    return IRODS_SHA256_PREFIX + base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def irods_checksum_to_hex(checksum):
    """'sha2:<base64>' -> lowercase hex; None when the checksum is not a SHA-256 one
    (e.g. an MD5 zone), so callers can say so instead of reporting a false mismatch."""
    if not checksum or not checksum.startswith(IRODS_SHA256_PREFIX):
        return None
    try:
        digest = base64.b64decode(checksum[len(IRODS_SHA256_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


_MD5_HEX = re.compile(r"[0-9a-f]{32}\Z")


def require_sha256_checksum(checksum, what):
    """Raise Rejected('checksum_scheme') unless `checksum` (as the catalog gave it for `what`)
    is a SHA-256 one. The payload names SHA-256 digests; a zone whose server_config.json sets
    default_hash_scheme MD5 answers a forced checksum in MD5 (irods/irods server/api/src/
    rsFileChksum.cpp), whatever the object held before (rsDataObjChksum.cpp hands no original
    checksum to a forced one; seen on iRODS 5.0.2), which no retry changes: the admin must."""
    if irods_checksum_to_hex(checksum) is not None:
        return
    scheme = "an MD5" if _MD5_HEX.match(checksum or "") else "a non-SHA-256"
    raise Rejected(
        "checksum_scheme",
        "iRODS gave %s checksum for %s (%r); omero-irods verifies SHA-256: set "
        "default_hash_scheme to SHA256 in the zone's server_config.json and restart the server, "
        "then reprocess" % (scheme, what, checksum),
    )


def unsafe_path_problem(path, max_length=1024):
    """Why `path` is not a safe relative POSIX path, or None if it is.

    Safe: non-empty, no leading or trailing '/', no '//', no '.' or '..' component, no control
    characters, at most `max_length` characters. Shared by the manifest and the tar walk.
    """
    if not path:
        return "is empty"
    if len(path) > max_length:
        return "is %d characters long; the limit is %d" % (len(path), max_length)
    if _CONTROL_CHARACTER.search(path):
        return "contains a control character"
    if path.startswith("/"):
        return "is absolute"
    if path.endswith("/") or "//" in path:
        return "has an empty path component"
    if any(part in (".", "..") for part in path.split("/")):
        return "has a '.' or '..' component"
    return None


Mismatch = namedtuple("Mismatch", "path field expected actual")


class ManifestReport(namedtuple("ManifestReport", "missing extra mismatched unverified")):
    """Result of a comparison: sorted tuples of paths (`missing`: in the manifest only;
    `extra`: found but not in the manifest; `unverified`: found without a usable sha256)
    and of Mismatch (field 'size' or 'sha256')."""

    __slots__ = ()

    @property
    def ok(self):
        return not (self.missing or self.extra or self.mismatched or self.unverified)

    def describe(self, limit=5):
        """One line a person can act on; lists at most `limit` paths per kind."""
        parts = []
        for label, paths in (("missing", self.missing), ("not in the manifest", self.extra)):
            if paths:
                parts.append("%d %s: %s" % (len(paths), label, _some(paths, limit)))
        for field in ("size", "sha256"):
            wrong = [m for m in self.mismatched if m.field == field]
            if wrong:
                shown = ["%s (manifest %s, found %s)" % (m.path, m.expected, m.actual) for m in wrong[:limit]]
                parts.append("%d with another %s: %s" % (len(wrong), field, _some_text(shown, len(wrong))))
        if self.unverified:
            parts.append("%d without a sha2 checksum: %s" % (len(self.unverified), _some(self.unverified, limit)))
        return "; ".join(parts) if parts else "matches the manifest"

    def raise_if_bad(self, what):
        """Raise Rejected ('checksum_mismatch' when only checksums differ, else
        'manifest_mismatch') naming `what` (e.g. 'archive run1.tar')."""
        if self.ok:
            return
        only_checksums = not (self.missing or self.extra or self.unverified) and all(
            m.field == "sha256" for m in self.mismatched
        )
        reason = "checksum_mismatch" if only_checksums else "manifest_mismatch"
        raise Rejected(reason, "%s does not match its manifest: %s" % (what, self.describe()))


def _some(paths, limit):
    return _some_text(list(paths[:limit]), len(paths))


def _some_text(shown, total):
    return ", ".join(shown) + (", ..." if total > len(shown) else "")


def compare_with_members(manifest, members):
    """Compare manifest entries with a tar's members (objects with `path`, `size` and `type`;
    only type 'file' is compared, so directory members need no manifest entry)."""
    found = {member.path: member.size for member in members if member.type == "file"}
    return _compare(manifest, found, {})


def compare_with_objects(manifest, placed_objects):
    """Compare manifest entries with placed iRODS objects (PlacedObject), sizes and checksums."""
    found = {obj.path: obj.size for obj in placed_objects}
    checksums = {obj.path: obj.checksum for obj in placed_objects}
    return _compare(manifest, found, checksums)


def _compare(manifest, found_sizes, found_checksums):
    expected = {entry.path: entry for entry in manifest}
    missing = sorted(set(expected) - set(found_sizes))
    extra = sorted(set(found_sizes) - set(expected))
    mismatched, unverified = [], []
    for path in sorted(set(expected) & set(found_sizes)):
        entry = expected[path]
        if found_sizes[path] != entry.size:
            mismatched.append(Mismatch(path, "size", entry.size, found_sizes[path]))
        elif path in found_checksums:
            actual = irods_checksum_to_hex(found_checksums[path])
            if actual is None:
                unverified.append(path)
            elif actual != entry.sha256:
                mismatched.append(Mismatch(path, "sha256", entry.sha256, actual))
    return ManifestReport(tuple(missing), tuple(extra), tuple(mismatched), tuple(unverified))
