"""A python-irodsclient-shaped session over the sandbox server, so real client code runs on it.

`SandboxSession(server, user)` offers the PRC subset omero_irods uses (the list at the top of
policy/omero_irods/adapters/prc.py) and sends the API requests python-irodsclient sends
(python-irodsclient `irods/manager/data_object_manager.py`, `collection_manager.py`,
`metadata_manager.py`, `irods/data_object.py`, `irods/parallel.py`, v3.x):

- `data_objects.open(path, mode)`: DATA_OBJ_OPEN (O_CREAT|O_TRUNC for 'w'), and returns
  `io.BufferedRandom` over a raw file whose write/read/seek/close are DATA_OBJ_WRITE / READ /
  LSEEK / CLOSE requests, exactly PRC's construction; so writes reach the server as CPython's
  buffering hands them over (buffer io.DEFAULT_BUFFER_SIZE; a larger write goes through
  whole), and the buffered object asks the raw one for its position at construction, which
  is one DATA_OBJ_LSEEK as on a real server. The close's OpenedDataObjInp holds only the
  descriptor: no path.
- `data_objects.put(local, path)`: up to 32 MiB (MAXIMUM_SINGLE_THREADED_TRANSFER_SIZE) an
  open('w') and one write per 8 MiB chunk (WRITE_BUFFER_SIZE = 1024 * io.DEFAULT_BUFFER_SIZE);
  above it, or through `parallel_put`, the parallel sequence of irods/parallel.py: the initial
  open('w'), GET_FILE_DESCRIPTOR_INFO for the replica token, N-1 more opens ('a', create=False,
  with the token), each thread seeking to its range and writing 4 MiB pieces (COPY_BUF_SIZE),
  the N-1 extra descriptors closed by REPLICA_CLOSE, then the initial descriptor by
  DATA_OBJ_CLOSE. Threads run one after the other here, so the PEP order is deterministic.
  Unlike PRC, the thread count is not capped by the CPU count (again for determinism).
- No DATA_OBJ_PUT request is ever sent: `pep_api_data_obj_put_*` never fires for PRC.
- `query(*columns)`: python-irodsclient's own `irods.query.Query` (filter, limit, order_by,
  all, one, first, iteration over continued batches), whose GEN_QUERY_AN request the session's
  pool answers as rsGenQuery does, with the sandbox's GenQuery engine over the catalog, as the
  session's user. Only with python-irodsclient installed: without it there is no `query`.

Errors: with python-irodsclient installed, an iRODS error is raised as the exception class PRC
raises for that code (`irods.exception.get_exception_by_code`), and a missing object as
`irods.exception.DataObjectDoesNotExist` / `CollectionDoesNotExist`; without it, as the
sandbox's `IrodsError` and this module's `DataObjectDoesNotExist` / `CollectionDoesNotExist`.
Every one of them carries `.code` (the DoesNotExist ones excepted, as in PRC).
"""

import contextlib
import io
import os
import posixpath

from omero_irods_sandbox import clients
from omero_irods_sandbox.error_codes import IrodsError
from omero_irods_sandbox.prep import genquery_engine
from omero_irods_sandbox.prep.msparam import MicroserviceFailure

#: python-irodsclient irods/manager/data_object_manager.py
MAXIMUM_SINGLE_THREADED_TRANSFER_SIZE = 32 * 1024 ** 2
WRITE_BUFFER_SIZE = 1024 * io.DEFAULT_BUFFER_SIZE
#: python-irodsclient irods/parallel.py
COPY_BUF_SIZE = 4 * 1024 ** 2
RECOMMENDED_NUM_THREADS_PER_TRANSFER = 3


class DoesNotExist(Exception):
    """A missing object, when python-irodsclient is not installed (PRC's class name)."""


class DataObjectDoesNotExist(DoesNotExist):
    pass


class CollectionDoesNotExist(DoesNotExist):
    pass


def _prc_exceptions():
    try:
        from irods import exception
    except ImportError:
        return None
    return exception


def client_error(error):
    """The exception a PRC client would see for an IrodsError."""
    prc = _prc_exceptions()
    if prc is None:
        return error
    message = error.message or str(error)
    try:
        return prc.get_exception_by_code(error.code, message)
    except KeyError:  # a code this PRC version has no class for
        converted = prc.UnknowniRODSError(message)
        converted.code = error.code
        return converted


def _does_not_exist(kind, path):
    prc = _prc_exceptions()
    if prc is not None:
        return getattr(prc, kind)(path)
    return {"DataObjectDoesNotExist": DataObjectDoesNotExist,
            "CollectionDoesNotExist": CollectionDoesNotExist}[kind](path)


class _Translating(object):
    """Run a server call, turning IrodsError into what PRC would raise."""

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except IrodsError as error:
            converted = client_error(error)
            if converted is error:
                raise
            raise converted from error


class _DataObjectRaw(io.RawIOBase, _Translating):
    """python-irodsclient irods/data_object.py iRODSDataObjectFileRaw, over the sandbox."""

    def __init__(self, server, user, descriptor, finalize_on_close=True):
        super().__init__()
        self.server, self.user, self.desc = server, user, descriptor
        self.finalize_on_close = finalize_on_close

    def replica_access_info(self):
        info = self._call(self.server.get_file_descriptor_info, self.user, self.desc)
        return info["replica_token"], info["data_object_info"]["resource_hierarchy"]

    def close(self):
        if self.closed:
            return
        try:
            if self.finalize_on_close:
                self._call(self.server.data_obj_close, self.user, self.desc)
            else:
                self._call(self.server.replica_close, self.user, self.desc)
        finally:
            super().close()

    def seek(self, offset, whence=0):
        return self._call(self.server.data_obj_lseek, self.user, self.desc, offset, whence)

    def readinto(self, buffer):
        data = self._call(self.server.data_obj_read, self.user, self.desc, len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def write(self, data):
        self._call(self.server.data_obj_write, self.user, self.desc, bytes(data))
        return len(data)

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return True


class SandboxDataObject(object):
    """The iRODSDataObject fields client code reads: name, path, size, checksum, owner, replicas."""

    def __init__(self, record):
        self.id = record.id
        self.name = record.name
        self.path = record.path
        self.size = record.size
        self.checksum = record.checksum or None
        self.owner_name = record.owner
        self.replicas = list(record.replicas)


class SandboxCollection(object):
    """The iRODSCollection fields client code reads: name, path, subcollections, data_objects."""

    def __init__(self, session, record):
        self._session = session
        self.id = record.id
        self.name = record.name
        self.path = record.path
        self.owner_name = record.owner

    @property
    def subcollections(self):
        collections, _ = self._session._list(self.path)
        return [self._session.collections.get(path) for path in collections]

    @property
    def data_objects(self):
        _, data_objects = self._session._list(self.path)
        return [self._session.data_objects.get(path) for path in data_objects]


class Meta(object):
    """python-irodsclient irods/meta.py iRODSMeta: name, value, units."""

    def __init__(self, name, value, units=None):
        self.name, self.value, self.units = name, value, units

    def __repr__(self):
        return "<iRODSMeta %s %s %s>" % (self.name, self.value, self.units)


class _DataObjectManager(_Translating):
    def __init__(self, session):
        self.sess = session

    @property
    def _server(self):
        return self.sess.server

    def open(self, path, mode, create=True, finalize_on_close=True, **options):
        """irods/manager/data_object_manager.py DataObjectManager.open."""
        create_flag = clients.O_CREAT if create else 0
        flags = {
            "r": clients.O_RDONLY, "r+": clients.O_RDWR,
            "w": clients.O_WRONLY | create_flag | clients.O_TRUNC,
            "w+": clients.O_RDWR | create_flag | clients.O_TRUNC,
            "a": clients.O_WRONLY | create_flag, "a+": clients.O_RDWR | create_flag,
        }[mode]
        resource = options.get("destRescName") or options.get("rescName")
        descriptor = self._call(self._server.data_obj_open, self.sess.username, path, flags,
                                resource, {k: v for k, v in options.items() if isinstance(v, (str, int))})
        raw = _DataObjectRaw(self._server, self.sess.username, descriptor, finalize_on_close)
        handle = io.BufferedRandom(raw)
        if "a" in mode:
            handle.seek(0, io.SEEK_END)
        return handle

    def put(self, local_path, irods_path, num_threads=0, **options):
        """DataObjectManager.put: a collection target gets the file's name appended; an
        existing object is overwritten unless forceFlag=False (force_put_by_default is True)."""
        force = options.pop("forceFlag", True)
        if self.sess.collections.exists(irods_path):
            irods_path = posixpath.join(irods_path, os.path.basename(local_path))
        elif not (force or isinstance(force, str)) and self.exists(irods_path):
            raise client_error(IrodsError("OVERWRITE_WITHOUT_FORCE_FLAG",
                                          "%s exists and forceFlag is False" % irods_path))
        size = os.path.getsize(local_path)
        if num_threads != 1 and size > MAXIMUM_SINGLE_THREADED_TRANSFER_SIZE:
            return self.parallel_put(local_path, irods_path, total_bytes=size,
                                     num_threads=num_threads, open_options=options)
        with open(local_path, "rb") as source, self.open(irods_path, "w", **options) as target:
            for chunk in iter(lambda: source.read(WRITE_BUFFER_SIZE), b""):
                target.write(chunk)
        return None

    def parallel_put(self, file_, data_or_path_, total_bytes=-1, num_threads=0,
                     target_resource_name="", open_options=None):
        """irods/parallel.py io_main + _io_multipart_threaded for a PUT, threads in sequence."""
        path = data_or_path_
        threads = num_threads if num_threads >= 1 else RECOMMENDED_NUM_THREADS_PER_TRANSFER
        total = total_bytes if total_bytes >= 0 else os.path.getsize(file_)
        options = dict(open_options or {})
        if target_resource_name:
            options["destRescName"] = target_resource_name
        options.update({"numThreads": str(threads), "dataSize": str(total)})
        initial = self.open(path, "w", finalize_on_close=True, **options)
        token, hierarchy = initial.raw.replica_access_info()
        ranges = _byte_ranges(total, threads)
        handles = [initial] + [
            self.open(path, "a", create=False, finalize_on_close=False,
                      numThreads=str(threads), dataSize=str(total), rescHier=hierarchy,
                      replicaToken=token)
            for _ in ranges[1:]]
        with open(file_, "rb") as source:
            for handle, (offset, length) in zip(handles, ranges):
                _copy_part(source, handle, offset, length)
                if handle is not initial:
                    handle.close()  # REPLICA_CLOSE; the initial one waits for the others
        initial.close()
        return True

    def get(self, path):
        record = self._server.zone.data_object(path)
        if record is None or not self._visible(path):
            raise _does_not_exist("DataObjectDoesNotExist", path)
        return SandboxDataObject(record)

    def exists(self, path):
        return self._server.zone.data_object(path) is not None and self._visible(path)

    def _visible(self, path):
        try:
            self._server.zone.stat(self.sess.username, path)
        except IrodsError:
            return False
        return True

    def unlink(self, path, force=False, **options):
        self._call(self._server.data_obj_unlink, self.sess.username, path, force=force)


def _byte_ranges(total, threads):
    """irods/parallel.py bytes_range_for_thread: equal parts, the last one takes the rest."""
    per_thread = total // threads
    starts = [index * per_thread for index in range(threads)]
    ends = starts[1:] + [total]
    return [(start, end - start) for start, end in zip(starts, ends) if end > start] or [(0, 0)]


def _copy_part(source, handle, offset, length):
    """irods/parallel.py _io_part + _copy_part: seek, then COPY_BUF_SIZE pieces."""
    handle.seek(offset)
    source.seek(offset)
    copied = 0
    while copied < length:
        piece = source.read(min(COPY_BUF_SIZE, length - copied))
        if not piece:
            break
        handle.write(piece)
        copied += len(piece)


class _CollectionManager(_Translating):
    def __init__(self, session):
        self.sess = session

    def create(self, path, recurse=True, **options):
        """COLL_CREATE_AN; without recurse an existing collection is an error (rsCollCreate.cpp)."""
        self._call(self.sess.server.coll_create, self.sess.username, path, recurse)
        return self.get(path)

    def get(self, path):
        path = path.rstrip("/") or "/"
        record = self.sess.server.zone.collection(path)
        if record is None or not self._visible(path):
            raise _does_not_exist("CollectionDoesNotExist", path)
        return SandboxCollection(self.sess, record)

    def exists(self, path):
        try:
            self.get(path)
        except Exception as error:  # PRC's or the sandbox's CollectionDoesNotExist
            if type(error).__name__ == "CollectionDoesNotExist":
                return False
            raise
        return True

    def _visible(self, path):
        try:
            self.sess.server.zone.stat(self.sess.username, path)
        except IrodsError:
            return False
        return True

    def remove(self, path, recurse=True, force=False, **options):
        self._call(self.sess.server.rm_coll, self.sess.username, path, recurse, force)


class _MetadataManager(_Translating):
    def __init__(self, session):
        self.sess = session

    def get(self, model_or_kind, path):
        """AVUs of a data object or collection as iRODSMeta-like objects (catalog order)."""
        kind = getattr(model_or_kind, "__name__", None) or str(model_or_kind)
        if kind not in ("DataObject", "Collection", "d", "C"):
            raise ValueError("metadata.get: %r is not DataObject or Collection" % (model_or_kind,))
        if not path:
            return []
        avus = self._call(self.sess.server.zone.avus, self.sess.username, path)
        return [Meta(avu.attribute, avu.value, avu.units or None) for avu in avus]

    def add(self, model_or_kind, path, meta):
        """metadata.add(DataObject|Collection, path, iRODSMeta(name, value, units))."""
        self._change("add", model_or_kind, path, meta)

    def set(self, model_or_kind, path, meta):
        self._change("set", model_or_kind, path, meta)

    def remove(self, model_or_kind, path, meta):
        self._change("rm", model_or_kind, path, meta)

    def _change(self, operation, model_or_kind, path, meta):
        kind = getattr(model_or_kind, "__name__", None) or str(model_or_kind)
        item_type = {"DataObject": "-d", "d": "-d", "Collection": "-C", "C": "-C"}.get(kind)
        if item_type is None:
            raise ValueError("metadata.%s: %r is not DataObject or Collection" % (operation, model_or_kind))
        self._call(self.sess.server.mod_avu_metadata, self.sess.username, operation, item_type, path,
                   meta.name, meta.value, meta.units or "")


# ---- GenQuery1 (session.query) -----------------------------------------------------------

#: The GenQuery1 columns the sandbox's engine evaluates: number (what PRC's Column.icat_id
#: sends; irods/irods lib/core/include/irods/rodsGenQuery.h) -> name (rodsGenQueryNames.h).
GENQUERY_COLUMN_NAMES = {
    201: "USER_ID", 202: "USER_NAME", 203: "USER_TYPE", 204: "USER_ZONE",
    401: "DATA_ID", 402: "DATA_COLL_ID", 403: "DATA_NAME", 404: "DATA_REPL_NUM",
    406: "DATA_TYPE_NAME", 407: "DATA_SIZE", 409: "DATA_RESC_NAME", 410: "DATA_PATH",
    411: "DATA_OWNER_NAME", 412: "DATA_OWNER_ZONE", 413: "DATA_REPL_STATUS",
    415: "DATA_CHECKSUM", 419: "DATA_CREATE_TIME", 420: "DATA_MODIFY_TIME", 422: "DATA_RESC_HIER",
    500: "COLL_ID", 501: "COLL_NAME", 502: "COLL_PARENT_NAME", 503: "COLL_OWNER_NAME",
    504: "COLL_OWNER_ZONE", 506: "COLL_INHERITANCE", 508: "COLL_CREATE_TIME",
    509: "COLL_MODIFY_TIME",
    600: "META_DATA_ATTR_NAME", 601: "META_DATA_ATTR_VALUE", 602: "META_DATA_ATTR_UNITS",
    610: "META_COLL_ATTR_NAME", 611: "META_COLL_ATTR_VALUE", 612: "META_COLL_ATTR_UNITS",
    701: "DATA_ACCESS_NAME", 703: "DATA_ACCESS_USER_ID",
    711: "COLL_ACCESS_NAME", 713: "COLL_ACCESS_USER_ID",
    901: "USER_GROUP_NAME",
}
#: irods/irods lib/core/include/irods/rodsGenQuery.h: a select's option is an aggregate in its
#: low four bits (general_query.cpp reads `value & 0xf`) or an ordering bit.
SELECT_FUNCTIONS = {2: "min", 3: "max", 4: "sum", 5: "avg", 6: "count"}
ORDER_BY, ORDER_BY_DESC = 0x400, 0x800
GEN_QUERY_AN = 702  # irods/irods lib/api/include/irods/apiNumber.h
#: What the sandbox says it is (PRC's Query drops model columns newer than this).
SERVER_VERSION = (4, 3, 4)


class _GenQueryStatements(object):
    """chlGenQuery's open statements for one session (irods/irods
    plugins/database/src/general_query.cpp): a new query runs and answers its first maxRows
    rows with continueInx = statement + 1; a continuation answers the next rows; a page that
    comes up short frees the statement and answers continueInx 0, one that comes up exactly
    full keeps it, so the next call finds no rows and answers CAT_NO_ROWS_FOUND; maxRows <= 0
    with a continueInx frees the statement; AUTO_CLOSE frees it at once and answers -1.
    """

    def __init__(self, session):
        self.session = session
        self.open = {}
        self.opened = 0

    def answer(self, request):
        """(rows, column numbers, continueInx, totalRowCount) for a decoded GenQueryRequest."""
        if request.continueInx > 0:
            number = request.continueInx - 1
            if number not in self.open:
                raise IrodsError("CAT_NO_ROWS_FOUND", "no open GenQuery statement %d" % number)
            if request.maxRows <= 0:
                del self.open[number]
                return [], [], 0, 0
            rows, columns = self.open[number]
            if not rows:
                del self.open[number]
                raise IrodsError("CAT_NO_ROWS_FOUND", "GenQuery statement %d has no more rows" % number)
            total = 0
        else:
            rows, columns = self._run(request)
            rows = rows[max(request.partialStartIndex, 0):]
            if not rows:
                raise IrodsError("CAT_NO_ROWS_FOUND", "no rows match the query")
            total = len(rows) + max(request.partialStartIndex, 0) \
                if request.options & genquery_engine.RETURN_TOTAL_ROW_COUNT else 0
            number, self.opened = self.opened, self.opened + 1
        page, rest = rows[:max(request.maxRows, 0)], rows[max(request.maxRows, 0):]
        if request.options & genquery_engine.AUTO_CLOSE:
            self.open.pop(number, None)
            return page, columns, -1, total
        if len(page) < request.maxRows:
            self.open.pop(number, None)
            return page, columns, 0, total
        self.open[number] = (rest, columns)
        return page, columns, number + 1, total

    def _run(self, request):
        selects = request.InxIvalPair_PI
        columns = list(selects.inx)
        parsed = genquery_engine.ParsedQuery(
            [(_select_function(option), _column_name(number))
             for number, option in zip(columns, selects.ivalue)],
            [(_column_name(number), text)
             for number, text in zip(request.InxValPair_PI.inx, request.InxValPair_PI.svalue)])
        zone = self.session.server.zone
        return genquery_engine.execute(zone, self.session.username, parsed, request.options), columns


def _column_name(number):
    try:
        return GENQUERY_COLUMN_NAMES[number]
    except KeyError:
        raise IrodsError("CAT_UNKNOWN_TABLE", "GenQuery column number %d is not emulated by the "
                         "sandbox (it knows %s)" % (number, ", ".join(
                             "%d %s" % item for item in sorted(GENQUERY_COLUMN_NAMES.items())))) from None


def _select_function(option):
    if option & 0xF in SELECT_FUNCTIONS:
        return SELECT_FUNCTIONS[option & 0xF]
    if option & ORDER_BY_DESC:
        return "order_desc"
    return "order" if option & ORDER_BY else None


class _QueryConnection(object):
    """The connection PRC's Query.execute borrows: `send` a GEN_QUERY_AN request, `recv` the
    answer as the server's packed GenQueryOut, or the exception PRC's Connection.recv raises
    for the error code (python-irodsclient irods/connection.py, irods/query.py)."""

    def __init__(self, statements):
        self.statements = statements
        self.request = None

    def send(self, message):
        if message.int_info != GEN_QUERY_AN:
            raise NotImplementedError("the sandbox's PRC connection only answers GEN_QUERY_AN "
                                      "(API %s requested)" % message.int_info)
        from irods.message import ET, GenQueryRequest

        self.request = GenQueryRequest()
        self.request.unpack(ET().fromstring(message.msg.pack()))  # what the server decodes

    def recv(self):
        from irods.message import GenQueryResponse, GenQueryResponseColumn, iRODSMessage

        try:
            rows, columns, continue_index, total = self.statements.answer(self.request)
        except MicroserviceFailure as failure:  # the engine's verdict on a malformed query
            raise client_error(IrodsError(failure.code, failure.message)) from failure
        except IrodsError as error:
            raise client_error(error) from error
        results = []
        for index, number in enumerate(columns):
            values = [row[index] for row in rows]
            results.append(GenQueryResponseColumn(attriInx=number, value=values,
                                                  reslen=max([len(v) for v in values] + [0]) + 1))
        answer = GenQueryResponse(rowCnt=len(rows), attriCnt=len(columns), continueInx=continue_index,
                                  totalRowCount=total, SqlResult_PI=results)
        return iRODSMessage(b"RODS_API_REPLY", msg=answer.pack())


class _QueryPool(object):
    """`session.pool.get_connection()`, for PRC's Query only."""

    def __init__(self, session):
        self.statements = _GenQueryStatements(session)

    @contextlib.contextmanager
    def get_connection(self):
        yield _QueryConnection(self.statements)


def _prc_query_class():
    try:
        from irods.query import Query
    except ImportError:
        return None
    return Query


class SandboxSession(object):
    """The iRODSSession subset omero_irods uses, acting as `user` on `server`."""

    server_version = SERVER_VERSION

    def __init__(self, server, user):
        server.zone.user(user)  # unknown user: IrodsError(CAT_INVALID_USER) names it
        self.server = server
        self.username = user
        self.zone = server.zone.root.strip("/")
        self.data_objects = _DataObjectManager(self)
        self.collections = _CollectionManager(self)
        self.metadata = _MetadataManager(self)
        query_class = _prc_query_class()
        if query_class is not None:
            self.pool = _QueryPool(self)
            self.query = lambda *columns, **options: query_class(self, *columns, **options)

    def _list(self, path):
        try:
            return self.server.zone.list_collection(self.username, path)
        except IrodsError as error:
            raise client_error(error) from error

    def cleanup(self):
        """Nothing to release: no connections in the sandbox."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cleanup()
