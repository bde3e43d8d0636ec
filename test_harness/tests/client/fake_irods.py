"""Test doubles for the push client: a python-irodsclient-shaped session and a fault injector.

`FakeSession` implements exactly the PRC subset listed in omero_irods/adapters/prc.py over an
in-memory store, recording every open/write/close so tests can check what the server saw and
in which order. Like iRODS, a data object's catalog size is set when it is closed (the replica
is finalised at close: irods/irods server/api/src/rsDataObjClose.cpp), and a non-recursive
collection create fails with CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME when the name is taken
(irods/irods server/api/src/rsCollCreate.cpp).

`Faulty` wraps any such session (this fake or the sandbox's SandboxSession) and makes chosen
calls fail, the way a dropped connection or a refusing server would.
"""

import io
import posixpath

CODES = {
    "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME": -809000,
    "CAT_UNKNOWN_COLLECTION": -814000,
    "CAT_NO_ROWS_FOUND": -808000,
    "CAT_NO_ACCESS_PERMISSION": -818000,
    "SYS_HEADER_READ_LEN_ERR": -4000,
}


class FakeIrodsError(Exception):
    """Carries `.code` like python-irodsclient's irods.exception classes."""

    def __init__(self, name, message=""):
        super().__init__(message)
        self.name = name
        self.code = CODES[name]


class NetworkException(Exception):
    """Same class name as python-irodsclient's irods.exception.NetworkException."""


class Meta(object):
    def __init__(self, name, value, units=""):
        self.name, self.value, self.units = name, value, units


class FakeSession(object):
    def __init__(self, user="omero-svc", zone="tempZone"):
        self.username, self.zone = user, zone
        self.collections_set = {"/" + zone, "/%s/home" % zone, "/%s/home/%s" % (zone, user)}
        self.objects = {}  # path -> bytes (closed objects)
        self.sizes = {}  # path -> catalog size (set at close)
        self.avus = {}  # path -> [Meta]
        self.events = []  # ("open"|"write"|"close", path[, bytes])
        self.cleaned_up = False
        self.collections = _Collections(self)
        self.data_objects = _DataObjects(self)
        self.metadata = _Metadata(self)

    def cleanup(self):
        self.cleaned_up = True

    def tree(self):
        """Every collection and data object path, sorted (for "nothing left behind" checks)."""
        return sorted(self.collections_set | set(self.objects))


class _Collections(object):
    def __init__(self, session):
        self.s = session

    def create(self, path, recurse=True):
        parent = posixpath.dirname(path)
        if path in self.s.collections_set:
            if recurse:
                return self.get(path)
            raise FakeIrodsError("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", path)
        if parent not in self.s.collections_set:
            if not recurse:
                raise FakeIrodsError("CAT_UNKNOWN_COLLECTION", parent)
            self.create(parent, recurse=True)
        self.s.collections_set.add(path)
        return self.get(path)

    def exists(self, path):
        return path in self.s.collections_set

    def get(self, path):
        if path not in self.s.collections_set:
            raise FakeIrodsError("CAT_UNKNOWN_COLLECTION", path)
        children = [c for c in self.s.collections_set if posixpath.dirname(c) == path and c != path]
        return _Collection(path, [_Collection(c, []) for c in sorted(children)])

    def remove(self, path, recurse=True, force=False):
        if path not in self.s.collections_set:
            raise FakeIrodsError("CAT_UNKNOWN_COLLECTION", path)
        for item in list(self.s.collections_set):
            if item == path or item.startswith(path + "/"):
                self.s.collections_set.discard(item)
        for item in list(self.s.objects):
            if item.startswith(path + "/"):
                del self.s.objects[item]
                self.s.sizes.pop(item, None)


class _Collection(object):
    def __init__(self, path, subcollections):
        self.path, self.name, self.subcollections = path, posixpath.basename(path), subcollections


class _DataObjects(object):
    def __init__(self, session):
        self.s = session

    def open(self, path, mode):
        if posixpath.dirname(path) not in self.s.collections_set:
            raise FakeIrodsError("CAT_UNKNOWN_COLLECTION", path)
        if mode == "r":
            if path not in self.s.objects:
                raise FakeIrodsError("CAT_NO_ROWS_FOUND", path)
            return io.BytesIO(self.s.objects[path])
        assert mode == "w", mode
        self.s.events.append(("open", path))
        self.s.objects.setdefault(path, b"")
        self.s.sizes.setdefault(path, 0)
        return _Writer(self.s, path)

    def get(self, path):
        if path not in self.s.objects:
            raise FakeIrodsError("CAT_NO_ROWS_FOUND", path)
        return _Object(path, self.s.sizes[path])

    def exists(self, path):
        return path in self.s.objects


class _Object(object):
    def __init__(self, path, size):
        self.path, self.name, self.size = path, posixpath.basename(path), size


class _Writer(object):
    def __init__(self, session, path):
        self.s, self.path, self.buffer, self.closed = session, path, bytearray(), False

    def write(self, data):
        self.s.events.append(("write", self.path, len(data)))
        self.buffer += data
        return len(data)

    def close(self):
        if not self.closed:
            self.closed = True
            self.s.objects[self.path] = bytes(self.buffer)
            self.s.sizes[self.path] = len(self.buffer)
            self.s.events.append(("close", self.path))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Metadata(object):
    def __init__(self, session):
        self.s = session

    def get(self, model, path):
        return list(self.s.avus.get(path, []))


# ---------------------------------------------------------------- fault injection


class Faulty(object):
    """A session whose chosen calls fail. Rules: (operation, path predicate, error, times).

    operation: "create_collection", "open", "write", "close", "remove", or "closed" (the
    close reaches the server, then the reply is lost); a "write" rule can also let
    `after_bytes` bytes through first (a connection dropping mid-upload).
    """

    def __init__(self, session):
        self._session = session
        self.rules = []
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
        return _FaultyWriter(self.f, path, handle) if mode == "w" else handle

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _FaultyWriter(object):
    def __init__(self, faulty, path, inner):
        self.f, self.path, self.inner, self.written = faulty, path, inner, 0

    def write(self, data):
        self.f._maybe_fail("write", self.path, self.written + len(data))
        self.written += len(data)
        return self.inner.write(data)

    def close(self):
        self.f._maybe_fail("close", self.path)
        self.inner.close()
        self.f._maybe_fail("closed", self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
