"""The integrity mark: proof that the OMERO side wrote a payload, which a co-writer of the
landing zone cannot make.

An overwrite in iRODS keeps the object's owner, so "owned by the service account" does not
prove who wrote a payload's bytes. When a zone's config names a key file
(`integrity_key_file`), the push client and the OMERO scripts' Save, which hold the same key,
write next to each payload a mark: `<landing>/<rid>/<rid>.omero-irods.mark`, one line

    omero-irods-mark-v1 hmac-sha256 <64 hex digits>

the HMAC-SHA256 (RFC 2104, Python's `hmac`) of `omero-irods-mark-v1\\n` followed by the
payload's exact bytes. The payload names the request id, the OMERO user and group, the
target, the archive's size and sha256 and every file's size and sha256 (the manifest), and the
policy checks the tar and every placed file against them: so the mark binds the whole request
without any canonical re-serialisation (the bytes the server reads are the bytes that were
signed). The policy checks it before it parses anything: a payload without a valid mark is
`rejected (not_permitted)`. A replay of another request's signed payload is refused by its
request id (bound to its landing path, and never processed twice).

The key is a file of at least 32 bytes (e.g. `openssl rand -hex 32`), readable by its owner
only (root or the account that reads it); it is never logged nor put in an argv.
"""

import hashlib
import hmac
import os
import stat

from omero_irods import names
from omero_irods.errors import ConfigError, Rejected

MARK_VERSION = b"omero-irods-mark-v1"
SCHEME = b"hmac-sha256"
#: More than the one line a mark is: a longer object is not a mark.
MAX_MARK_BYTES = 256
MIN_KEY_BYTES = 32
MAX_KEY_BYTES = 4096


class KeyFileError(ConfigError):
    """The key file is missing, unsafe or too short: nothing is signed or checked with it."""


def mark_name(request_id):
    return request_id + names.MARK_SUFFIX


def make_mark(key, payload_bytes):
    """The mark's bytes for a payload's exact bytes."""
    return b"%s %s %s\n" % (MARK_VERSION, SCHEME, _digest(key, payload_bytes).encode("ascii"))


def check_mark(key, payload_bytes, mark_bytes):
    """Rejected (not_permitted) unless `mark_bytes` is the mark of `payload_bytes` under `key`.
    mark_bytes None: there is no mark."""
    if mark_bytes is None:
        raise Rejected("not_permitted", "the payload has no integrity mark (%s), and this zone requires one: it "
                       "was not pushed by an OMERO side holding the zone's key" % names.MARK_SUFFIX)
    parts = bytes(mark_bytes[:MAX_MARK_BYTES + 1]).split()
    if len(mark_bytes) > MAX_MARK_BYTES or len(parts) != 3 or parts[0] != MARK_VERSION or parts[1] != SCHEME:
        raise Rejected("not_permitted", "the payload's integrity mark is not a %s %s mark"
                       % (MARK_VERSION.decode(), SCHEME.decode()))
    expected = _digest(key, payload_bytes).encode("ascii")
    if not hmac.compare_digest(parts[2], expected):
        raise Rejected("not_permitted", "the payload's integrity mark does not match its content: the payload, "
                       "or its mark, was written by someone without the zone's key")


def read_key(path, what="the integrity key file"):
    """The key's bytes. KeyFileError naming the file and the fix (never its content) when it
    is missing, not a regular file, open to group or others, owned by another account than
    root or this one, or shorter than MIN_KEY_BYTES."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise KeyFileError(path, None, "%s cannot be read: %s" % (what, error.strerror or error))
    try:
        status = os.fstat(handle)
        _check_private(path, status, what)
        key = os.read(handle, MAX_KEY_BYTES + 1)
    finally:
        os.close(handle)
    key = key.strip()
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise KeyFileError(path, None, "%s must hold %d to %d bytes (e.g. `openssl rand -hex 32`), not %d"
                           % (what, MIN_KEY_BYTES, MAX_KEY_BYTES, len(key)))
    return key


def _check_private(path, status, what):
    if not stat.S_ISREG(status.st_mode):
        raise KeyFileError(path, None, "%s is not a regular file" % what)
    if status.st_mode & 0o077:
        raise KeyFileError(path, None, "%s has mode %04o: group and others must have no access (chmod 600 %s)"
                           % (what, stat.S_IMODE(status.st_mode), path))
    if status.st_uid not in (0, os.geteuid()):
        raise KeyFileError(path, None, "%s belongs to uid %d: it must belong to root or to the account that "
                           "reads it (uid %d)" % (what, status.st_uid, os.geteuid()))


def _digest(key, payload_bytes):
    return hmac.new(key, MARK_VERSION + b"\n" + bytes(payload_bytes), hashlib.sha256).hexdigest()
