"""The only code that talks to omero-py's BlitzGateway (the OMERO edge).

BlitzGateway calls used (a test double of exactly these is enough; omero-py
src/omero/gateway/__init__.py):
    conn.getEventContext()            -> .userName, .groupName (who runs the script / command)
    conn.c.getProperty("omero.host")  -> the server's host (informational, for the payload)
    conn.getQueryService().projection(hql, params, conn.SERVICE_OPTS)   fileset ids
    conn.getObject("Fileset", id)     -> .listFiles() -> OriginalFileWrapper:
                                         getPath(), getName(), getSize(), getMtime(), asFileObj(buf)
    conn.getObject("FileAnnotation", id) -> .getFile() -> OriginalFileWrapper (attachments
                                         that omero-cli-transfer's transfer.xml names)

Original files are read through a RawFileStore in chunks (`asFileObj(buf).read(n)`), so a
snapshot is streamed from OMERO's ManagedRepository into iRODS without staging. A read OMERO
refuses becomes a tarstream.SourceError naming the file and OMERO's message (never the Java
stack trace an omero.ServerError carries). Queries run in the session's current group, like
the OMERO.web views the user picked the objects from.
"""

import posixpath
import re

from omero_irods.client.tarstream import Member, SourceError

#: OMERO object types a snapshot can be made of, and where they appear in the payload.
OBJECT_TYPES = ("Project", "Dataset", "Image", "Screen", "Plate", "Fileset")

#: Fileset ids of the images below one object, by HQL over the OMERO model (Image.fileset,
#: DatasetImageLink, ProjectDatasetLink, WellSample, ScreenPlateLink). An image imported
#: before OMERO 5 has no fileset: the left join reports it (fileset id None).
_IMAGES_AND_FILESETS = "select i.id, fs.id from Image i left outer join i.fileset fs where "
_DATASET_IMAGES = "select l.child.id from DatasetImageLink l where l.parent.id"
_PLATE_IMAGES = "select ws.image.id from WellSample ws where ws.well.plate.id"
FILESET_QUERIES = {
    "Image": _IMAGES_AND_FILESETS + "i.id = :id",
    "Dataset": _IMAGES_AND_FILESETS + "i.id in (%s = :id)" % _DATASET_IMAGES,
    "Project": _IMAGES_AND_FILESETS + "i.id in (%s in (select p.child.id from "
               "ProjectDatasetLink p where p.parent.id = :id))" % _DATASET_IMAGES,
    "Plate": _IMAGES_AND_FILESETS + "i.id in (%s = :id)" % _PLATE_IMAGES,
    "Screen": _IMAGES_AND_FILESETS + "i.id in (%s in (select s.child.id from "
              "ScreenPlateLink s where s.parent.id = :id))" % _PLATE_IMAGES,
}

#: Chunk size for reading original files: one RawFileStore.read per tar chunk, well under
#: Ice.MessageSizeMax (omero-py sets 65536 KiB in omero/clients.py).
READ_BUFFER = 8 * 1024 * 1024

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # payload.v1 /omero/server


class OmeroError(Exception):
    """Something the OMERO user asked for cannot be done; the message says what and why."""


def session_identity(conn):
    """(user name, group name) of the session: taken from OMERO, never from user input."""
    context = conn.getEventContext()
    return context.userName, context.groupName


def server_host(conn):
    """The OMERO server's host name when it is a plain DNS name or IPv4 address, else None."""
    host = conn.c.getProperty("omero.host") if getattr(conn, "c", None) is not None else ""
    return host if host and _HOST.match(host) else None


def object_refs(data_type, ids):
    """["Dataset:3", ...] from a script's Data_Type and IDs, checked."""
    if data_type not in OBJECT_TYPES:
        raise OmeroError("cannot save a %r: choose one of %s" % (data_type, ", ".join(OBJECT_TYPES)))
    cleaned = sorted({int(i) for i in ids or ()})
    if not cleaned or cleaned[0] < 1:
        raise OmeroError("choose at least one %s (IDs are positive numbers)" % data_type)
    return ["%s:%d" % (data_type, i) for i in cleaned]


def parse_ref(ref):
    """'Dataset:3' -> ('Dataset', 3); OmeroError naming the text otherwise."""
    kind, _, number = ref.partition(":")
    if kind not in OBJECT_TYPES or not number.isdigit() or int(number) < 1:
        raise OmeroError("%r is not an object like Dataset:3 (types: %s)" % (ref, ", ".join(OBJECT_TYPES)))
    return kind, int(number)


def fileset_ids(conn, refs):
    """(sorted fileset ids, [image ids without a fileset]) below the given objects."""
    found, without = set(), set()
    for ref in refs:
        kind, number = parse_ref(ref)
        if kind == "Fileset":
            found.add(number)
            continue
        rows = _projection(conn, FILESET_QUERIES[kind], number)
        if not rows:
            raise OmeroError("%s holds no images you can read in your current group (or does "
                             "not exist); switch group in OMERO if it belongs to another" % ref)
        for image_id, fileset_id in rows:
            if fileset_id is None:
                without.add(image_id)
            else:
                found.add(fileset_id)
    return sorted(found), sorted(without)


def _projection(conn, query, object_id):
    from omero.rtypes import unwrap
    from omero.sys import ParametersI

    params = ParametersI()
    params.addId(object_id)
    rows = conn.getQueryService().projection(query, params, conn.SERVICE_OPTS)
    return [tuple(unwrap(cell) for cell in row) for row in rows]


def fileset_members(conn, fileset_ids_, buffer_size=READ_BUFFER):
    """tarstream.Members for every original file of the filesets, at their ManagedRepository
    relative path (`path` + `name`), the layout omero-cli-transfer packets use."""
    members = []
    for fileset_id in fileset_ids_:
        fileset = conn.getObject("Fileset", fileset_id)
        if fileset is None:
            raise OmeroError("Fileset:%d not found or not readable in your current group" % fileset_id)
        for original in fileset.listFiles():
            members.append(_member(original, buffer_size))
    return members


def _member(original, buffer_size, path=None):
    if path is None:
        path = posixpath.normpath(posixpath.join(original.getPath() or "", original.getName())).lstrip("/")
    mtime_ms = original.getMtime() or 0
    return Member(path, int(original.getSize()), int(mtime_ms) // 1000,
                  lambda: _OmeroReader(original, buffer_size, path))


class _OmeroReader(object):
    """An original file's reader (`read(n)`, `close()`) whose OMERO errors become SourceError."""

    def __init__(self, original, buffer_size, path):
        self._path = path
        self._reader = self._call(lambda: original.asFileObj(buffer_size))

    def read(self, size=-1):
        return self._call(lambda: self._reader.read(size))

    def close(self):
        try:
            self._reader.close()
        except Exception:  # the bytes were read (or their error raised already): nothing lost
            pass

    def _call(self, action):
        try:
            return action()
        except SourceError:
            raise
        except Exception as error:
            raise SourceError("%s: OMERO could not read this file: %s"
                              % (self._path, omero_message(error))) from error


def omero_message(error):
    """'SecurityViolation: Download is restricted': an error's class and OMERO's own message.
    str() of an omero.ServerError (Ice) prints every field, the Java serverStackTrace too."""
    name = type(error).__name__
    message = getattr(error, "message", None)
    if isinstance(message, str) and message.strip():
        return "%s: %s" % (name, message.strip())
    if type(error).__module__.split(".")[0] in ("omero", "Ice", "IcePy"):
        return name
    text = str(error)
    return "%s: %s" % (name, text) if text else name


#: omero-cli-transfer's `--metadata all` (omero_cli_transfer.py _process_metadata), less "md5",
#: which it fills with the placeholder "TBC".
TRANSFER_METADATA = ["img_id", "plate_id", "timestamp", "software", "version", "hostname",
                     "orig_user", "orig_group"]


def transfer_packet(conn, refs, hostname, buffer_size=READ_BUFFER):
    """(transfer.xml bytes, [Member of each file attached], None) from omero-cli-transfer for
    the objects `refs` (Projects, Datasets, Images, Screens, Plates: one packet holds them all,
    with their hierarchy), or (None, [], why not).

    omero-cli-transfer (1.x) `generate_xml.populate_xml(datatype, id, filepath, conn,
    hostname, barchive, simple, figure, metadata)` builds the OME of ONE object (a Screen with
    its Plates, Wells and their Images; a Project with its Datasets and Images; ...) and
    returns (ome, path_id_dict); it writes `filepath` only when `barchive` is false. `pack`
    then writes `ome_types.to_xml(ome)` as transfer.xml and downloads each "Annotation:<id>"
    of path_id_dict (a FileAnnotation) to its path, `file_annotations/<id>/<name>`
    (omero_cli_transfer.py _copy_files; generate_xml.py create_filepath_annotations). We pass
    barchive=True solely to keep it from writing a file (it also skips figures, which we do
    not ask for). Every further object is added to the same OME by the populate function
    populate_xml itself dispatches to (populate_project, populate_dataset, populate_image,
    populate_screen, populate_plate: each skips what the OME holds already), and
    path_id_dict is what populate_xml computes, `list_file_ids(ome)`. We serialise the OME
    ourselves, in memory, and stream the attached files at their paths, so the snapshot holds
    every file its transfer.xml names.
    """
    if isinstance(refs, str):
        refs = [refs]
    refs = sorted(refs, key=lambda ref: _CONTAINERS_FIRST.index(parse_ref(ref)[0]))
    try:
        import generate_xml
        from ome_types import to_xml
    except ImportError:
        return None, [], "omero-cli-transfer is not installed"
    hostname = hostname or ""
    first_kind, first_id = parse_ref(refs[0])
    values = {"datatype": first_kind, "id": first_id, "filepath": "transfer.xml", "conn": conn,
              "hostname": hostname, "barchive": True, "simple": False, "figure": False,
              "metadata": list(TRANSFER_METADATA)}
    populate_xml = _supported(generate_xml, "populate_xml", values)
    more = [parse_ref(ref) for ref in refs[1:]]
    populates = {kind: _supported(generate_xml, "populate_" + kind.lower(), _populate_values(conn, hostname))
                 for kind in {kind for kind, _ in more}}
    if populate_xml is None or None in populates.values() or (more and not hasattr(generate_xml, "list_file_ids")):
        return None, [], "this omero-cli-transfer version's populate_xml is not supported"
    ome, paths = populate_xml()
    for kind, number in more:
        if _packed(ome, kind, number):
            continue  # below an object packed before (a Dataset of a saved Project, ...)
        obj = conn.getObject(kind, number)
        if obj is None:
            return None, [], "%s:%d is not readable in your current group" % (kind, number)
        populates[kind](obj=obj, ome=ome)
    if more:
        paths = generate_xml.list_file_ids(ome)
    attachments, why_not = _attachments(conn, paths or {}, buffer_size)
    if why_not:
        return None, [], why_not
    return to_xml(ome).encode("utf-8"), attachments, None


#: Containers are packed before what they hold: a Dataset packed first would be added again
#: by its Project (see _packed).
_CONTAINERS_FIRST = ("Screen", "Project", "Plate", "Dataset", "Image", "Fileset")


def _packed(ome, kind, number):
    """Whether the OME holds the object already. Its populate function would add it again:
    omero-cli-transfer 1.3 compares "Dataset:" + an id that already reads "Dataset:N"
    (generate_xml.populate_dataset), so a Dataset would be restored twice."""
    listed = getattr(ome, kind.lower() + "s", None) or []
    return "%s:%d" % (kind, number) in {str(getattr(element, "id", "")) for element in listed}


def _populate_values(conn, hostname):
    return {"conn": conn, "hostname": hostname, "metadata": list(TRANSFER_METADATA), "simple": False}


def _supported(module, name, values):
    """`module.name` bound to the `values` it takes by name (obj and ome left to the caller for
    the populate_* functions), or None when it is missing or needs a value we do not know."""
    import functools
    import inspect

    function = getattr(module, name, None)
    if function is None:
        return None
    accepted = inspect.signature(function).parameters
    later = () if name == "populate_xml" else ("obj", "ome")
    unknown = [n for n, p in accepted.items() if n not in values and n not in later and p.default is p.empty]
    if unknown or (name == "populate_xml" and "barchive" not in accepted):
        return None
    return functools.partial(function, **{k: v for k, v in values.items() if k in accepted})


def _attachments(conn, paths, buffer_size):
    """([Member], None) for the FileAnnotations in omero-cli-transfer's path_id_dict, or
    ([], why not). Its Image entries are the filesets' files, streamed already."""
    members = []
    for key, path in sorted(paths.items()):
        kind, _, number = str(key).partition(":")
        if kind != "Annotation":
            continue
        annotation = conn.getObject("FileAnnotation", int(number))
        original = annotation.getFile() if annotation is not None else None
        if original is None:
            return [], "its attachment FileAnnotation:%s is not readable in your current group" % number
        try:
            members.append(_member(original, buffer_size, path=path))
        except SourceError as error:
            return [], "its attachment FileAnnotation:%s cannot be stored: %s" % (number, error)
    return members, None
