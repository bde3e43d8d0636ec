"""Resumable archive uploads: which prefix of a push's archive iRODS already holds, verified.

A push's tar is deterministic: the same files (same names, sizes, times and content) give
the same bytes (client/tarstream.py). So an interrupted upload can continue at an offset
instead of byte 0, provided the bytes iRODS holds before that offset are the bytes the new
stream would send. Two checks establish that, and each covers what the other cannot:

- a local **journal**: after each chunk iRODS acknowledged, the archive offset and the
  sha256 of the archive up to it (the stream hashes the archive anyway, so this costs no
  extra pass). When the push resumes, the regenerated stream must reach the same digest at
  the resume offset: a source file that changed anywhere in the prefix (even with the same
  size and time) is caught, without reading the prefix back from iRODS.
- a **read of the held tail**: the last TAIL_CHECK_BYTES before the resume offset are read
  back from iRODS and compared with the regenerated stream. This catches what the journal
  cannot see: a write the client journaled but the server never stored (a write buffered
  when the connection dropped), or a data object replaced meanwhile.

Re-reading the whole prefix would cost as much as sending it again; hashing it server-side
is not possible for a partial replica through the client API. Whatever the checks refuse
is sent again from byte 0, never appended to. The policy's own checks (archive size and
sha256, every member's sha256) still stand behind both.

Journal file: `<directory>/<request_id>.journal`, private (0600); a JSON header line (the
request, the archive's data object path and the fingerprint of what is pushed: member
paths, sizes, times, chunk size), then one `offset sha256` line per acknowledged chunk.
"""

import hashlib
import json
import os

#: Bytes before the resume offset read back from iRODS and compared (see above).
TAIL_CHECK_BYTES = 1 << 20
JOURNAL_SUFFIX = ".journal"


class ResumeError(ValueError):
    """A push cannot be resumed as asked; the message says why and what to do."""


def default_journal_dir():
    """$OMERO_IRODS_PUSH_JOURNALS, else $XDG_STATE_HOME/omero-irods/pushes, else
    ~/.local/state/omero-irods/pushes."""
    explicit = os.environ.get("OMERO_IRODS_PUSH_JOURNALS")
    if explicit:
        return explicit
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "omero-irods", "pushes")


def fingerprint(members, chunk_size):
    """What must be the same for a resumed stream to repeat the first one's bytes."""
    digest = hashlib.sha256(b"chunk_size %d\n" % chunk_size)
    for member in members:
        digest.update(json.dumps([member.path, member.size, member.mtime]).encode("utf-8") + b"\n")
    return digest.hexdigest()


class UploadJournal(object):
    """The acknowledged prefixes of one archive upload: {offset: sha256 of archive[:offset]}.

    In memory only when `directory` is None (retries within one push); else also in a file
    that a later process reads (`resume=True`).
    """

    def __init__(self, request_id, data_path, fingerprint_, directory=None):
        self.request_id, self.data_path, self.fingerprint = request_id, data_path, fingerprint_
        self.acknowledged = {}
        self.path = os.path.join(directory, request_id + JOURNAL_SUFFIX) if directory else None

    def _header(self):
        return {"request_id": self.request_id, "data_path": self.data_path,
                "fingerprint": self.fingerprint}

    def start(self):
        """A fresh journal (a new push): its file created, private."""
        if self.path is None:
            return self
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(self._header(), sort_keys=True) + "\n")
        return self

    def load(self):
        """Read the journal a previous process left for this request; ResumeError when it
        is missing or belongs to other files or options."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            raise ResumeError("no journal of request %s in %s: it was not pushed from this "
                              "account (or finished); push again without --resume"
                              % (self.request_id, os.path.dirname(self.path)))
        try:
            header = json.loads(lines[0])
        except (IndexError, ValueError):
            raise ResumeError("%s: not a push journal; remove it and push again" % self.path)
        if header.get("data_path") != self.data_path:
            raise ResumeError("request %s streamed %s, not %s: give the same --name as the first "
                              "push" % (self.request_id, header.get("data_path"), self.data_path))
        if header.get("fingerprint") != self.fingerprint:
            raise ResumeError("request %s was pushed with other files (or they changed since: "
                              "names, sizes, times): push again without --resume" % self.request_id)
        for line in lines[1:]:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 64:
                self.acknowledged[int(parts[0])] = parts[1]  # a torn last line is skipped
        return self

    def record(self, offset, prefix_sha256):
        self.acknowledged[offset] = prefix_sha256
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("%d %s\n" % (offset, prefix_sha256))

    def resume_point(self, held_bytes):
        """The largest acknowledged offset iRODS may still hold all of (0: from the start)."""
        return max([offset for offset in self.acknowledged if offset <= (held_bytes or 0)] or [0])

    def forget_after(self, offset):
        """Drop what lies beyond `offset` (those bytes are sent again)."""
        self.acknowledged = {k: v for k, v in self.acknowledged.items() if k <= offset}

    def remove(self):
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:  # never there (or its folder is unusable): nothing to remove
                pass
