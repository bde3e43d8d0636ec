"""The only code that talks to python-irodsclient (PRC), on the OMERO / instrument host side.

The PRC subset omero_irods uses; the sandbox's `SandboxSession` mirrors exactly this list
(python-irodsclient irods/session.py, irods/manager/collection_manager.py,
irods/manager/data_object_manager.py, irods/query.py):

    iRODSSession(irods_env_file=PATH, irods_authentication_file=PATH)   open_session
    session.username, session.zone                                       who we are
    session.cleanup()                                                     close_session
    session.collections.create(path, recurse=False)   exclusive: an existing collection raises
                                                      CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME
                                                      (irods/irods server/api/src/rsCollCreate.cpp)
    session.collections.exists(path)
    session.collections.get(path)  -> .owner_name, .subcollections, .data_objects
    session.collections.remove(path, recurse=True, force=True)
    session.data_objects.open(path, "w")   file object: write(bytes), close(), context manager
    session.data_objects.open(path, "a")   the same without truncating, positioned at the end; seek(n)
    session.data_objects.exists(path)
    session.data_objects.open(path, "r")   file object: read(n), close(), context manager, seek(n)
    session.data_objects.get(path)  -> .size
    session.metadata.add(DataObject, path, iRODSMeta(name, value))   add_data_object_avu
    session.metadata.add(Collection, path, iRODSMeta(name, value))   add_collection_avu
    session.query(*columns)  GenQuery1 over irods.models columns (DataObject.id / .name /
                             .owner_name / .create_time / .size, Collection.name / .parent_name /
                             .create_time, Collection.owner_name, DataObjectMeta.name / .value,
                             CollectionMeta.name / .value): .filter(Criterion
                             or Column == value, irods.column.Like / In), iterated (every
                             batch, continued and closed by PRC: irods/query.py get_batches)

Errors are recognised by their iRODS error number (`.code`, as PRC's irods.exception classes
and the sandbox's IrodsError both carry it) and, for errors without a number, by class name
(PRC's NetworkException, DoesNotExist), so this module imports PRC only inside the functions
that need it: to open a session, and for the query columns (irods.models, irods.column).
"""

import os
import socket
from collections import namedtuple

# iRODS error numbers (irods/irods lib/core/include/irods/rodsErrorTable.h; the same numbers
# python-irodsclient's irods/exception.py carries). Compared after dropping the errno part.
CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME = -809000
CAT_NAME_EXISTS_AS_DATAOBJ = -834000
CAT_NO_ROWS_FOUND = -808000
CAT_UNKNOWN_COLLECTION = -814000
CAT_UNKNOWN_FILE = -817000
OBJ_PATH_DOES_NOT_EXIST = -358000
USER_FILE_DOES_NOT_EXIST = -310000

_EXISTS = {CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME, CAT_NAME_EXISTS_AS_DATAOBJ}
_NOT_FOUND = {CAT_NO_ROWS_FOUND, CAT_UNKNOWN_COLLECTION, CAT_UNKNOWN_FILE,
              OBJ_PATH_DOES_NOT_EXIST, USER_FILE_DOES_NOT_EXIST}
# Trouble on the wire or a resource briefly away: worth another attempt.
_TRANSIENT = {
    -4000,  # SYS_HEADER_READ_LEN_ERR: the connection dropped mid-message
    -5000,  # SYS_HEADER_WRITE_LEN_ERR
    -105000,  # SYS_RESC_IS_DOWN
    -115000,  # SYS_SOCK_READ_TIMEDOUT
    -116000,  # SYS_SOCK_READ_ERR
    -161000,  # SYS_SOCK_WRITE_ERR
    -162000,  # SYS_SOCK_CONNECT_ERR
    -305000,  # USER_SOCK_CONNECT_ERR
    -347000,  # USER_SOCK_CONNECT_TIMEDOUT
}
_TRANSIENT_CLASS_NAMES = {"NetworkException"}
# No connection could be made at all (rodsErrorTable.h; PRC irods/connection.py raises
# NetworkException("Could not connect to specified host and port: ...") from its connect).
_UNREACHABLE = {-162000, -305000, -347000}  # SYS_SOCK_CONNECT_ERR, USER_SOCK_CONNECT_ERR, _TIMEDOUT
_UNREACHABLE_TEXT = "Could not connect to specified host and port"
# The server refused who we are (rodsErrorTable.h; PRC irods/exception.py classes).
_AUTHENTICATION_REFUSED = {
    -826000,  # CAT_INVALID_AUTHENTICATION: wrong password
    -827000,  # CAT_INVALID_USER: no such user
    -832000,  # CAT_INVALID_CLIENT_USER
    -840000,  # CAT_PASSWORD_EXPIRED
    -850000,  # CAT_PASSWORD_ENCODING_ERROR
    -993000,  # PAM_AUTH_PASSWORD_FAILED
}
_NOT_FOUND_CLASS_NAMES = {"DoesNotExist", "DataObjectDoesNotExist", "CollectionDoesNotExist"}


# ---------------------------------------------------------------- sessions


def open_session(env_file, auth_file=None):
    """An iRODSSession configured from an irods_environment.json (and its auth file)."""
    from irods.session import iRODSSession

    options = {"irods_env_file": env_file}
    if auth_file:
        options["irods_authentication_file"] = auth_file
    return iRODSSession(**options)


def close_session(session):
    """Close the session's connections (PRC: `cleanup`); harmless on sessions without it."""
    cleanup = getattr(session, "cleanup", None)
    if cleanup is not None:
        cleanup()


# ---------------------------------------------------------------- operations


def create_collection_exclusive(session, path):
    """Create `path` (its parent must exist); False when something already has that name."""
    try:
        session.collections.create(path, recurse=False)
    except Exception as error:
        if is_already_exists(error):
            return False
        raise
    return True


def collection_exists(session, path):
    return session.collections.exists(path)


def is_own_empty_collection(session, path):
    """True when `path` is a collection the session's user owns and that holds nothing."""
    try:
        collection = session.collections.get(path)
    except Exception as error:
        if is_not_found(error):
            return False
        raise
    return (collection.owner_name == session.username and not collection.subcollections
            and not collection.data_objects)


def remove_collection(session, path):
    """Remove a collection and everything in it, bypassing the trash."""
    session.collections.remove(path, recurse=True, force=True)


def open_for_write(session, path, append=False):
    """A binary writer for a new data object (PRC `open(path, 'w')`: create, truncate), or
    with `append` for an existing one, keeping its bytes (PRC `open(path, 'a')`: no
    O_TRUNC, positioned at the end; `seek` moves it, DATA_OBJ_LSEEK)."""
    return session.data_objects.open(path, "a" if append else "w")


def data_object_exists(session, path):
    return session.data_objects.exists(path)


def read_range(session, path, offset, count):
    """`count` bytes of a data object from `offset` (fewer at its end)."""
    if count <= 0:
        return b""
    with session.data_objects.open(path, "r") as reader:
        reader.seek(offset)
        parts, remaining = [], count
        while remaining:
            part = reader.read(remaining)
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
    return b"".join(parts)


def data_object_size(session, path):
    return int(session.data_objects.get(path).size)


def read_data_object(session, path, max_bytes):
    """At most max_bytes + 1 bytes of a data object (callers detect "too large")."""
    with session.data_objects.open(path, "r") as reader:
        return reader.read(max_bytes + 1)


# ---------------------------------------------------------------- queries (GenQuery1)


#: A data object found by a query: catalog id, logical path, owner, creation time (datetime,
#: UTC), size in bytes (of its earliest replica).
FoundDataObject = namedtuple("FoundDataObject", "id path owner created size")
#: How many data object ids one `in (...)` condition carries: GenQuery1 builds its SQL in a
#: fixed buffer (irods/irods plugins/database/src/general_query.cpp, MAX_SQL_SIZE_GQ: 16000
#: characters, server/icat/include/irods/icatDefines.h); 200 ids stay far below it.
IDS_PER_QUERY = 200


def child_collections(session, parent=None, path=None):
    """[(path, created)] of the collections directly in `parent`, or of `path` itself."""
    from irods.models import Collection

    query = session.query(Collection.name, Collection.create_time)
    if path is not None:
        query = query.filter(Collection.name == path)
    else:
        query = query.filter(Collection.parent_name == parent)
    return sorted((row[Collection.name], row[Collection.create_time]) for row in query)


def find_data_objects(session, name_like, parent=None, collection=None, owner=None,
                      attribute=None, value=None):
    """[FoundDataObject] whose name matches the GenQuery `like` pattern `name_like`, optionally
    in a child collection of `parent`, in `collection`, owned by `owner`, carrying an AVU named
    `attribute` (with `value`); only what the session's user may read (GenQuery's rule)."""
    from irods.column import Like
    from irods.models import Collection, DataObject, DataObjectMeta

    query = session.query(DataObject.id, Collection.name, DataObject.name, DataObject.owner_name,
                          DataObject.create_time, DataObject.size).filter(
                              Like(DataObject.name, name_like))
    if parent is not None:
        query = query.filter(Collection.parent_name == parent)
    if collection is not None:
        query = query.filter(Collection.name == collection)
    if owner is not None:
        query = query.filter(DataObject.owner_name == owner)
    if attribute is not None:
        query = query.filter(DataObjectMeta.name == attribute)
    if value is not None:
        query = query.filter(DataObjectMeta.value == value)
    found = {}
    for row in query:  # one row per replica: keep the earliest creation
        path = "%s/%s" % (row[Collection.name].rstrip("/"), row[DataObject.name])
        entry = FoundDataObject(int(row[DataObject.id]), path, row[DataObject.owner_name],
                                row[DataObject.create_time], int(row[DataObject.size]))
        if entry.id not in found or entry.created < found[entry.id].created:
            found[entry.id] = entry
    return sorted(found.values(), key=lambda entry: entry.path)


def avus_by_data_object(session, ids, attribute_like):
    """{data object id: [(name, value)]} of the AVUs whose name matches the `like` pattern,
    for the given ids (a few queries: IDS_PER_QUERY ids each)."""
    from irods.column import In, Like
    from irods.models import DataObject, DataObjectMeta

    ids = sorted(set(ids))
    found = {number: [] for number in ids}
    for start in range(0, len(ids), IDS_PER_QUERY):
        query = session.query(DataObject.id, DataObjectMeta.name, DataObjectMeta.value).filter(
            In(DataObject.id, ids[start:start + IDS_PER_QUERY]),
            Like(DataObjectMeta.name, attribute_like))
        for row in query:
            found[int(row[DataObject.id])].append((row[DataObjectMeta.name], row[DataObjectMeta.value]))
    return found


#: A collection found by child_collection_avus: owner, creation time (datetime, UTC), and
#: its AVUs [(name, value)] among those asked for.
FoundCollection = namedtuple("FoundCollection", "path owner created avus")


def child_collection_avus(session, parent, attributes, path=None):
    """{path: FoundCollection} of the collections directly in `parent` (or just `path`) that
    carry any AVU named in `attributes`, with those AVUs: ONE query however many collections
    (PRC pages through the rows)."""
    from irods.column import In
    from irods.models import Collection, CollectionMeta

    query = session.query(Collection.name, Collection.owner_name, Collection.create_time,
                          CollectionMeta.name, CollectionMeta.value)
    query = query.filter(Collection.name == path) if path else query.filter(Collection.parent_name == parent)
    query = query.filter(In(CollectionMeta.name, list(attributes)))
    found = {}
    for row in query:
        name = row[Collection.name]
        entry = found.setdefault(name, FoundCollection(name, row[Collection.owner_name],
                                                       row[Collection.create_time], []))
        entry.avus.append((row[CollectionMeta.name], row[CollectionMeta.value]))
    return found


def add_collection_avu(session, path, name, value):
    """Add one AVU to a collection (imeta add -C)."""
    from irods.meta import iRODSMeta
    from irods.models import Collection

    session.metadata.add(Collection, path, iRODSMeta(name, value))


# ---------------------------------------------------------------- errors


def add_data_object_avu(session, path, name, value):
    """Add one AVU to a data object (imeta add -d)."""
    from irods.meta import iRODSMeta
    from irods.models import DataObject

    session.metadata.add(DataObject, path, iRODSMeta(name, value))


def error_code(error):
    """The iRODS error number of an exception without its errno part, or None."""
    code = getattr(error, "code", None)
    if not isinstance(code, int) or code >= 0:
        return None
    return code + (-code) % 1000 if code <= -1000 else code


def is_already_exists(error):
    return error_code(error) in _EXISTS


def is_not_found(error):
    if error_code(error) in _NOT_FOUND:
        return True
    return any(cls.__name__ in _NOT_FOUND_CLASS_NAMES for cls in type(error).__mro__)


def is_irods_error(error):
    """An error from iRODS or python-irodsclient (an iRODS error number, or a PRC class)."""
    if error_code(error) is not None:
        return True
    return any(cls.__module__.split(".")[0] == "irods" for cls in type(error).__mro__)


def is_transient(error):
    """Network trouble or a resource briefly down: the same call may succeed later."""
    if error_code(error) in _TRANSIENT:
        return True
    if any(cls.__name__ in _TRANSIENT_CLASS_NAMES for cls in type(error).__mro__):
        return True
    return isinstance(error, (ConnectionError, TimeoutError, socket.timeout))


def is_unreachable(error):
    """No connection to the server could be made (as opposed to one that dropped)."""
    if error_code(error) in _UNREACHABLE:
        return True
    if isinstance(error, (ConnectionRefusedError, socket.gaierror)):
        return True
    return (any(cls.__name__ == "NetworkException" for cls in type(error).__mro__)
            and _UNREACHABLE_TEXT in str(error))


def is_authentication_refused(error):
    return error_code(error) in _AUTHENTICATION_REFUSED


def describe(error):
    """`CAT_NO_ACCESS_PERMISSION (-818000): text` for iRODS errors; never a password."""
    code = getattr(error, "code", None)
    name = getattr(error, "name", None) or type(error).__name__
    text = str(error)
    if name in text:  # the sandbox's IrodsError already reads "NAME (code): message"
        return text
    head = "%s (%s)" % (name, code) if isinstance(code, int) else name
    return "%s: %s" % (head, text) if text else head


def default_env_file():
    """Where iCommands and PRC look: $IRODS_ENVIRONMENT_FILE, else ~/.irods/irods_environment.json."""
    return os.environ.get("IRODS_ENVIRONMENT_FILE") or os.path.expanduser(
        "~/.irods/irods_environment.json")


def default_auth_file(env):
    """The auth file PRC reads: the env's irods_authentication_file, $IRODS_AUTHENTICATION_FILE,
    else ~/.irods/.irodsA (python-irodsclient irods/session.py get_irods_password)."""
    return (env.get("irods_authentication_file") or os.environ.get("IRODS_AUTHENTICATION_FILE")
            or os.path.expanduser("~/.irods/.irodsA"))
