"""A test double of exactly the BlitzGateway calls omero_irods makes (adapters/omero_gateway.py):
getEventContext, c.getProperty, getQueryService().projection, getObject("Fileset", id) with
listFiles() -> original files (getPath, getName, getSize, getMtime, asFileObj),
getObject("FileAnnotation", id).getFile() -> an original file, SERVICE_OPTS, close(hard=False).
Anything else raises AttributeError, so a new call shows up in the tests.
"""

from omero.rtypes import rlong, unwrap

from omero_irods.adapters.omero_gateway import FILESET_QUERIES

_TYPE_OF_QUERY = {query: kind for kind, query in FILESET_QUERIES.items()}


class EventContext(object):
    def __init__(self, user, group):
        self.userName, self.groupName = user, group


class FakeOriginalFile(object):
    """An OriginalFile in the ManagedRepository; records every read and close."""

    def __init__(self, path, name, data, mtime_ms=1767225600000):
        self._path, self._name, self.data, self._mtime = path, name, data, mtime_ms
        self.reads, self.opened, self.closed = [], 0, 0

    def getPath(self):
        return self._path

    def getName(self):
        return self._name

    def getSize(self):
        return len(self.data)

    def getMtime(self):
        return self._mtime

    def asFileObj(self, buf=2621440):
        self.opened += 1
        return _RawFileStoreReader(self, buf)


class _RawFileStoreReader(object):
    """omero-py gateway _OriginalFileAsFileObj: read(n) through RawFileStore.read(pos, n)."""

    def __init__(self, original, buf):
        self.original, self.buf, self.pos = original, buf, 0

    def read(self, n=-1):
        end = len(self.original.data) if n < 0 else min(self.pos + n, len(self.original.data))
        self.original.reads.append(end - self.pos)
        data = self.original.data[self.pos:end]
        self.pos = end
        return data

    def close(self):
        self.original.closed += 1


class FakeFileset(object):
    def __init__(self, files):
        self._files = files

    def listFiles(self):
        return list(self._files)


class FakeFileAnnotation(object):
    def __init__(self, original):
        self._original = original

    def getFile(self):
        return self._original


class _Client(object):
    def __init__(self, host):
        self.host = host

    def getProperty(self, name):
        return self.host if name == "omero.host" else ""


class _QueryService(object):
    def __init__(self, gateway):
        self.gateway = gateway

    def projection(self, query, params, context):
        kind = _TYPE_OF_QUERY[query]  # a query omero_gateway does not define fails here
        assert context is self.gateway.SERVICE_OPTS
        object_id = unwrap(params.map["id"])
        self.gateway.queries.append((kind, object_id))
        rows = self.gateway.images.get((kind, object_id), [])
        return [[rlong(image), None if fileset is None else rlong(fileset)] for image, fileset in rows]


class FakeGateway(object):
    """images: {("Dataset", 3): [(image id, fileset id or None), ...]}; filesets: {id: [files]};
    annotations: {FileAnnotation id: its original file}."""

    def __init__(self, user="alice", group="lab", host="omero.example.org", images=None,
                 filesets=None, annotations=None):
        self.context = EventContext(user, group)
        self.c = _Client(host)
        self.images = images or {}
        self.filesets = filesets or {}
        self.annotations = annotations or {}
        self.SERVICE_OPTS = object()
        self.queries = []
        self.closed = False

    def getEventContext(self):
        return self.context

    def getQueryService(self):
        return _QueryService(self)

    def getObject(self, kind, object_id):
        if kind == "FileAnnotation":
            original = self.annotations.get(object_id)
            return None if original is None else FakeFileAnnotation(original)
        assert kind == "Fileset", kind
        files = self.filesets.get(object_id)
        return None if files is None else FakeFileset(files)

    def close(self, hard=True):
        self.closed = True


class FakeScriptClient(object):
    """The omero.client an OMERO.script gets from omero.scripts.client(...)."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.outputs = {}
        self.session_closed = False

    def getInputs(self, unwrap=False):
        assert unwrap
        return dict(self.inputs)

    def setOutput(self, key, value):
        self.outputs[key] = value.getValue()

    def closeSession(self):
        self.session_closed = True
