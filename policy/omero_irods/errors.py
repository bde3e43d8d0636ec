"""The three ways a request can go wrong, each with a message a person can act on.

- `Rejected`: the input can never succeed (bad payload, unmapped user, unsafe tar member...).
  Never retried; recorded as state `rejected` with `omero_irods::error`.
- `Transient`: something outside the request failed (catalog busy, importer down). Retried
  with backoff; recorded as `failed` once the retries run out.
- `ConfigError`: the admin's policy config or user map is wrong. Names the file and the JSON
  pointer so the admin can fix it; requests are left untouched for a later retry.
"""

#: Machine-readable reasons a request is rejected; a typo in a reason is a programming
#: error, so `Rejected` refuses reasons that are not listed here.
REJECT_REASONS = frozenset(
    [
        "too_large",  # payload or archive bigger than the configured limit
        "not_utf8",  # payload bytes are not UTF-8
        "not_json",  # payload is not JSON (or has duplicate keys)
        "schema",  # payload does not match payload.v1.schema.json (see `pointer`)
        "inconsistent",  # payload fields contradict each other (see `pointer`)
        "unmapped_user",  # OMERO user (or group) has no iRODS counterpart
        "outside_roots",  # destination would leave the admin-configured roots
        "collision",  # destination exists and on_collision is `fail`
        "not_a_tar",  # the data is not a (complete) tar archive
        "unsafe_member",  # a tar member could escape or is not a plain file/directory
        "limit",  # a member count / size / path length limit was exceeded
        "manifest_mismatch",  # files missing, extra, or of another size than the manifest says
        "checksum_mismatch",  # same files, but a sha256 differs
        "checksum_scheme",  # the zone checksums in MD5, not SHA-256 (server_config.json)
        "not_permitted",  # the mapped user may not read the requested source
        "not_found",  # a source or data object named in the payload does not exist
    ]
)


class OmeroIrodsError(Exception):
    """Base of every error this package raises on purpose; `message` is for people."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def summary(self, max_chars=1000):
        """The message cut to fit an AVU value (the catalog column holds 2700 bytes)."""
        text = self.message
        if len(text) <= max_chars:
            return text
        return text[: max_chars - 3] + "..."


class Rejected(OmeroIrodsError):
    """Input that can never succeed; `reason` is one of REJECT_REASONS.

    `pointer` is the JSON pointer (RFC 6901) of the offending payload field, when there is one.
    """

    def __init__(self, reason, message, pointer=None):
        if reason not in REJECT_REASONS:
            raise ValueError("unknown rejection reason %r" % (reason,))
        super().__init__(message)
        self.reason = reason
        self.pointer = pointer

    def summary(self, max_chars=1000):
        return "rejected (%s): %s" % (self.reason, super().summary(max_chars))


class Transient(OmeroIrodsError):
    """Trouble that may go away; the caller retries with the configured backoff."""


class ConfigError(OmeroIrodsError):
    """The admin's configuration is wrong: names the file and the JSON pointer."""

    def __init__(self, path, pointer, problem):
        where = "%s%s" % (path, (" at " + pointer) if pointer else "")
        super().__init__("%s: %s" % (where, problem))
        self.path = path
        self.pointer = pointer
        self.problem = problem
