"""Fault injection for the push client: make chosen session calls fail.

`Faulty` wraps a python-irodsclient-shaped session (here the sandbox's SandboxSession) and
raises a chosen exception on chosen calls, the way a dropped connection or a refusing server
would; it also records the size of every write, so tests can check how data went out.
"""


class Faulty(object):
    """A session whose chosen calls fail. Rules: (operation, path predicate, error, times).

    operation: "create_collection", "open", "write", "close", "remove", or "closed" (the
    close reaches the server, then the reply is lost); a "write" rule can also let
    `after_bytes` bytes through first (a connection dropping mid-upload).
    """

    def __init__(self, session):
        self._session = session
        self.rules = []
        self.writes = []  # (path, bytes) of every write call
        self.collections = _FaultyCollections(self, session.collections)
        self.data_objects = _FaultyDataObjects(self, session.data_objects)
        self.metadata = session.metadata

    def __getattr__(self, name):
        return getattr(self._session, name)

    def fail(self, operation, error, when=lambda path: True, times=1, after_bytes=0):
        self.rules.append({"operation": operation, "error": error, "when": when, "times": times,
                           "after_bytes": after_bytes})

    def _maybe_fail(self, operation, path, written=None):
        for rule in self.rules:
            if rule["operation"] != operation or rule["times"] == 0 or not rule["when"](path):
                continue
            if written is not None and written < rule["after_bytes"]:
                continue
            rule["times"] -= 1
            raise rule["error"]


class _FaultyCollections(object):
    def __init__(self, faulty, inner):
        self.f, self.inner = faulty, inner

    def create(self, path, recurse=True):
        self.f._maybe_fail("create_collection", path)
        return self.inner.create(path, recurse=recurse)

    def remove(self, path, recurse=True, force=False):
        self.f._maybe_fail("remove", path)
        return self.inner.remove(path, recurse=recurse, force=force)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _FaultyDataObjects(object):
    def __init__(self, faulty, inner):
        self.f, self.inner = faulty, inner

    def open(self, path, mode):
        self.f._maybe_fail("open", path)
        handle = self.inner.open(path, mode)
        return _FaultyWriter(self.f, path, handle) if mode in ("w", "a") else handle

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _FaultyWriter(object):
    def __init__(self, faulty, path, inner):
        self.f, self.path, self.inner, self.written = faulty, path, inner, 0

    def write(self, data):
        self.f._maybe_fail("write", self.path, self.written + len(data))
        self.written += len(data)
        self.f.writes.append((self.path, len(data)))
        return self.inner.write(data)

    def seek(self, offset, whence=0):
        self.written = offset
        return self.inner.seek(offset, whence)

    def flush(self):
        return self.inner.flush()

    def close(self):
        self.f._maybe_fail("close", self.path)
        self.inner.close()
        self.f._maybe_fail("closed", self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
