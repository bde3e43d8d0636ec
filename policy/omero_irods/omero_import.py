"""The in-place import command, and what the importer answers.

The argv is built from the admin's config only -- never through a shell, never from a payload
beyond the mapped names, the validated `-T` target and the vault paths -- using the options of
omero-py's `src/omero/plugins/import.py`: login arguments `-s -p -u -g --sudo`, `-T/--target`,
`--transfer=TYPE` (in-place import: ome/omero-documentation sysadmins/in-place-import.rst),
and `--output {ids,legacy,yaml}`.

The Java importer prints results on stdout (ome/omero-blitz
src/main/java/ome/formats/importer/cli/LoggingImportMonitor.java):
- `--output yaml`, one document per fileset:   ---
                                               - Fileset: 5
                                                 Image: [7,8]
- `--output ids` (the default), one line per fileset: `Image:7,8` (or `Plate:3`).
Both are read here without a YAML library.
"""

import functools
import json
import posixpath
import re
from collections import namedtuple

from omero_irods.errors import Rejected, Transient

#: argv, extra environment and timeout for one import run; `output` the --output format its
#: stdout is read with; `login` an ImporterLogin when the runner opens the OMERO session first.
ImportCommand = namedtuple("ImportCommand", "argv env timeout_seconds output login", defaults=("yaml", None))
#: The session the runner opens before the import (adapters.importer_login): the light admin's
#: credentials file, the Python that runs omero_irods.adapters.omero_session_helper, the server,
#: and the user, group and lifetimes of the session it creates (see session_lifetimes).
ImporterLogin = namedtuple("ImporterLogin", "credentials_file python server port user group ttl_seconds "
                                            "idle_seconds", defaults=(None,))
#: What one run did: `timed_out` runs were stopped (their stdout says what they created so far).
ImportRun = namedtuple("ImportRun", "exit_code stdout stderr timed_out")

#: A command line is limited to ARG_MAX bytes (typically 2 MiB on Linux, argv and environment
#: together: execve(2)); half of it leaves room for the environment. More files are refused
#: with a clear error instead of failing with E2BIG on every retry.
MAX_ARGV_BYTES = 1 << 20
#: `omero import` scans a directory this many levels down unless told otherwise (omero-py
#: src/omero/plugins/import.py: `--depth`, default 4).
DEFAULT_SCAN_DEPTH = 4

#: `filesets`: one dict per fileset, class name -> tuple of ids ('Fileset' included);
#: `image_ids`/`plate_ids`: all of them, in order; `ignored`: stdout lines that were not results.
ImportResult = namedtuple("ImportResult", "filesets image_ids plate_ids ignored")

_YAML_FILESET = re.compile(r"^- Fileset: (\d+)\s*$")
_YAML_OBJECTS = re.compile(r"^  ([A-Za-z]+): \[([\d, ]*)\]\s*$")
_IDS_LINE = re.compile(r"^(Image|Plate):([\d,]*)\s*$")
_STDERR_TAIL_LINES = 5


def build_import_command(settings, omero_user, omero_group, paths, target=None, output="yaml", depth=None):
    """The importer run for `paths` (absolute vault paths) on behalf of the mapped OMERO user.

    `settings` is config.ImportSettings; `target` an `omero import -T` value such as
    'Dataset:name:run1' (checked again here: it comes from an AVU) or None; `depth` the
    `--depth` a directory among `paths` needs.
    """
    check_import_target(target)
    _check_paths(paths)
    argv = list(settings.command) + _login_arguments(settings, omero_user, omero_group)
    argv.append("--transfer=%s" % settings.transfer)
    if target:
        argv += ["-T", target]
    argv.append("--output=%s" % output)
    if depth:
        argv.append("--depth=%d" % depth)
    argv += list(settings.extra_args)
    argv += list(paths)
    return _command(settings, argv, len(paths), output, omero_user, omero_group)


def build_unpack_command(settings, omero_user, omero_group, folder):
    """`omero transfer [login] unpack --folder --ln_s_import FOLDER`: omero-cli-transfer
    restores the packet in FOLDER (its transfer.xml and the files it names, in place) for the
    mapped user (ome/omero-cli-transfer src/omero_cli_transfer.py: the login arguments belong
    to `transfer`, before the sub-command; `--folder` takes a folder instead of a zip or tar,
    `--ln_s_import` imports each file with --transfer=ln_s). Each file's import prints its
    `--output ids` line (`Image:7,8`), the default of the `omero import` it invokes."""
    _check_paths([folder])
    argv = list(settings.transfer_command) + _login_arguments(settings, omero_user, omero_group)
    argv += ["unpack", "--folder", "--ln_s_import", folder]
    return _command(settings, argv, 1, "ids", omero_user, omero_group)


def _check_paths(paths):
    if not paths:
        raise ValueError("an import needs at least one file")
    relative = [path for path in paths if not path.startswith("/")]
    if relative:
        # Absolute paths cannot be mistaken for options by the importer's argument parser.
        raise ValueError("import paths must be absolute: %r" % relative[:3])


def _login_arguments(settings, omero_user, omero_group):
    """`-s -p [--sudo ADMIN] -u USER -g GROUP`, every value checked first (see check_argv_name).
    With a login the runner opens the session beforehand, stored in the importer's private
    OMERO_SESSIONDIR, where omero-py's login finds it for this user, server and port."""
    check_argv_name(omero_user, "OMERO user", "/omero/user")
    check_argv_name(omero_group, "OMERO group", "/omero/group")
    argv = []
    if settings.server:
        argv += ["-s", settings.server]
    if settings.port:
        argv += ["-p", str(settings.port)]
    if settings.sudo and not settings.login:
        check_argv_name(settings.sudo, "sudo admin", None)
        argv += ["--sudo", settings.sudo]
    return argv + ["-u", omero_user, "-g", omero_group]


def _command(settings, argv, count, output, omero_user, omero_group):
    size = sum(len(arg.encode("utf-8")) + 1 for arg in argv)
    if size > MAX_ARGV_BYTES:
        raise Rejected("limit", "importing these %d files needs a %d-byte command line; at most %d fit: "
                                "import a smaller collection" % (count, size, MAX_ARGV_BYTES))
    login = None
    if settings.login:
        ttl_seconds, idle_seconds = session_lifetimes(settings)
        login = ImporterLogin(settings.login["credentials_file"], settings.login["python"], settings.server,
                              settings.port, omero_user, omero_group, ttl_seconds, idle_seconds)
    return ImportCommand(argv, dict(settings.env), settings.timeout_seconds, output, login)


#: With the admin's limit (omero_import.max_seconds) the session lives this much longer than
#: the import may run (the check that stops the import comes up to check_seconds late).
SESSION_GRACE_SECONDS = 300
#: Both clients that use the session ping it every 300 s while they run: omero-py's CLI
#: (src/omero/plugins/sessions.py SessionsControl.handle: client.enableKeepAlive(300)) and the
#: Java importer (ome/omero-blitz src/main/java/ome/formats/OMEROMetadataStoreClient.java:
#: DEFAULT_KEEP_ALIVE = 300). Twice that tolerates one late ping; a session nobody pings any
#: more (the importer ended or was killed) ends by itself this long after its last ping.
SESSION_IDLE_SECONDS = 600


def session_lifetimes(settings):
    """(time to live, time to idle) in seconds of the session opened for one import.

    OMERO ends a session when either is over; 0 disables one (ome/omero-blitz
    src/main/slice/omero/api/ISession.ice createSessionWithTimeouts: "Setting the value to 0
    will prevent destruction unless the session remains idle"; a Sudo admin's values are
    taken as given: ome/omero-server SessionBean.createSessionWithTimeouts, groupsLed null).
    An import has no time limit by default, so neither has its session: it lives while the
    importer keeps it alive, and the check rule kills it as soon as it sees the importer end
    (pipeline.check_import). omero-py's own `--sudo` login opens its sessions with no time to
    live either (src/omero/util/sessions.py SessionsStore.create: createSessionWithTimeouts(
    principal, 0, timeToIdle)). With the admin's limit, the time to live bounds it too."""
    limit = settings.max_seconds
    return (limit + SESSION_GRACE_SECONDS if limit else 0), SESSION_IDLE_SECONDS


#: An OMERO user or group name as it may reach the importer's argv: OMERO keeps names up to
#: 255 characters (ome/omero-model: Experimenter.omeName, ExperimenterGroup.name); here no
#: control characters or '/', and neither a leading '-' (it would be read as an option: an
#: unmapped group "--sudo" became `-g --sudo`) nor leading or trailing white space.
ARGV_NAME = re.compile(r"^(?![-\s])[^\x00-\x1f\x7f/]{1,255}(?<!\s)\Z")


def check_argv_name(value, what, pointer):
    """Rejected (never retried) unless `value` is a name that can only be read as a value."""
    if not (isinstance(value, str) and ARGV_NAME.match(value)):
        raise Rejected("inconsistent", "the %s %s cannot be passed to the importer: an OMERO name has 1-255 "
                       "characters, no control characters or '/', and does not start with '-' or white "
                       "space" % (what, json.dumps(value)), pointer=pointer)


@functools.lru_cache(maxsize=1)
def _target_pattern():
    from omero_irods.payload import schema_validator

    schema = schema_validator("payload.v1.schema.json").schema
    return re.compile(schema["properties"]["target"]["properties"]["omero_dataset"]["pattern"])


def check_import_target(target):
    """Rejected unless `target` is None or the payload schema's `-T` form (Dataset:id:N or
    Dataset:name:X): the import rule reads it back from an AVU, not from a validated payload."""
    if target is not None and not (isinstance(target, str) and _target_pattern().search(target)):
        raise Rejected("inconsistent", "the OMERO target %s is not Dataset:id:N or Dataset:name:NAME"
                       % json.dumps(target), pointer="/target/omero_dataset")


def vault_directory(logical_root, objects):
    """(directory, depth) when the vault holds the tree below `logical_root` in ONE directory,
    laid out as the logical paths (each object's physical path is the directory plus its path
    relative to the root, as the default GRAFT_PATH vault scheme does: irods/irods
    server/core/src/physPath.cpp getFilePathName): the importer then gets that one directory
    instead of one argument per file. None when any object lies elsewhere (the RANDOM scheme,
    a replica on another resource)."""
    directories, deepest = set(), 1
    for obj in objects:
        relative = obj["path"][len(logical_root) + 1:]
        physical = obj["physical_path"]
        if not relative or not physical.endswith("/" + relative):
            return None
        directories.add(physical[: -len(relative) - 1])
        deepest = max(deepest, relative.count("/") + 1)
    if len(directories) != 1:
        return None
    directory = directories.pop()
    if not posixpath.isabs(directory):
        return None
    return directory, max(DEFAULT_SCAN_DEPTH, deepest + 1)


#: omero-cli-transfer's packet: transfer.xml at the snapshot's top and the files it attaches
#: under file_annotations/<id>/<name> (ome/omero-cli-transfer src/generate_xml.py
#: create_filepath_annotations, src/omero_cli_transfer.py _copy_files).
PACKET_XML = "transfer.xml"
PACKET_ANNOTATIONS = "file_annotations"
#: A transfer.xml larger than this is refused rather than read into the rule's memory.
MAX_PACKET_BYTES = 64 << 20
#: How the importer is run: `kind` "import" (`paths`, `depth`) or "unpack" (`paths` = [the
#: snapshot's vault folder], `packet` = the transfer.xml's iRODS path).
ImportPlan = namedtuple("ImportPlan", "kind paths depth packet")


def plan_import(operation, import_root, objects):
    """How to import the data objects below `import_root` ({'path', 'physical_path'} each).

    A load of a snapshot holding an omero-cli-transfer packet, laid out in ONE vault folder,
    is unpacked there (the packet restores the hierarchy, annotations and ROIs). Without the
    one folder the packet cannot be unpacked in place: its images are imported as files, and
    neither transfer.xml nor its attachments ever reach a plain import (OMERO would import
    them as images). An ingest laid out in one folder is imported as that folder.
    """
    packet = "%s/%s" % (import_root, PACKET_XML)
    has_packet = operation == "load" and any(obj["path"] == packet for obj in objects)
    layout = vault_directory(import_root, objects) if operation == "ingest" or has_packet else None
    if has_packet and layout:
        return ImportPlan("unpack", [layout[0]], None, packet)
    if has_packet:
        objects = [obj for obj in objects if not _is_packet_file(import_root, obj["path"])]
        if not objects:
            raise Rejected("not_found", "%s holds only an omero-cli-transfer packet, no images" % import_root)
    if layout:
        return ImportPlan("import", [layout[0]], layout[1], None)
    return ImportPlan("import", sorted(obj["physical_path"] for obj in objects), None, None)


def _is_packet_file(import_root, path):
    relative = path[len(import_root) + 1:]
    return relative == PACKET_XML or relative.startswith(PACKET_ANNOTATIONS + "/")


def command_for_plan(settings, plan, omero_user, omero_group, target=None):
    """The ImportCommand of an ImportPlan (the packet already checked: check_packet)."""
    if plan.kind == "unpack":
        return build_unpack_command(settings, omero_user, omero_group, plan.paths[0])
    return build_import_command(settings, omero_user, omero_group, plan.paths, target=target, depth=plan.depth)


def check_packet(xml_bytes, import_root, objects):
    """Rejected unless every path transfer.xml names (its CLITransferServerPath elements, which
    omero-cli-transfer's unpack joins to the folder and imports or attaches: src/
    generate_omero_objects.py get_server_path, create_original_file) is a file of this
    snapshot, or a folder of it for a multi-file image ('<folder>/mock_folder'). The file is
    the user's: without this check it could name any file the delay server's account can read
    (another user's vault file) and have it imported or attached for the user."""
    if xml_bytes is None or len(xml_bytes) > MAX_PACKET_BYTES:
        raise Rejected("limit", "%s/%s is larger than %d bytes" % (import_root, PACKET_XML, MAX_PACKET_BYTES))
    try:
        text = xml_bytes.decode("utf-8") if b"\x00" not in xml_bytes else None
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise Rejected("inconsistent", "%s/%s is not UTF-8 text, as omero-cli-transfer writes it"
                       % (import_root, PACKET_XML))
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise Rejected("inconsistent", "%s/%s declares a DOCTYPE or entities; omero-cli-transfer writes "
                       "neither" % (import_root, PACKET_XML))
    import xml.etree.ElementTree as ElementTree

    try:
        document = ElementTree.fromstring(xml_bytes)
    except ElementTree.ParseError as error:
        raise Rejected("inconsistent", "%s/%s is not well-formed XML: %s" % (import_root, PACKET_XML, error))
    files = {obj["path"][len(import_root) + 1:] for obj in objects}
    folders = {posixpath.dirname(name) for name in files}
    folders |= {prefix for folder in folders for prefix in _parents(folder)}
    for server_path in _server_paths(document):
        if not _packet_path_is_inside(server_path, files, folders):
            raise Rejected("unsafe_member", "%s/%s names %s, which is not a file or folder of the snapshot"
                           % (import_root, PACKET_XML, json.dumps(server_path)), pointer=None)


def _server_paths(document):
    for element in document.iter():
        if _local_name(element.tag) == "CLITransferServerPath":
            for child in element:
                if _local_name(child.tag) == "Path":
                    yield (child.text or "").strip()


def _local_name(tag):
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _parents(folder):
    while folder:
        yield folder
        folder = posixpath.dirname(folder)


def _packet_path_is_inside(path, files, folders):
    if path.endswith("mock_folder"):
        # omero-cli-transfer imports `path.rstrip("mock_folder")` (characters, not a suffix:
        # src/omero_cli_transfer.py _create_image_map), a folder of the snapshot or its top.
        folder = path.rstrip("mock_folder").rstrip("/")
        return folder == "" or (_is_clean_relative(folder) and folder in folders)
    return _is_clean_relative(path) and path in files


def _is_clean_relative(path):
    return (bool(path) and not path.startswith("/") and "\\" not in path
            and all(part not in ("", ".", "..") for part in path.split("/")))


def parse_import_output(stdout, output="yaml"):
    """ImportResult from the importer's stdout for `--output yaml` or `--output ids`."""
    if output == "yaml":
        return _parse_yaml(stdout)
    if output == "ids":
        return _parse_ids(stdout)
    raise ValueError("cannot read --output %s" % output)


def _parse_yaml(stdout):
    filesets, ignored = [], []
    for line in stdout.splitlines():
        if not line.strip() or line.strip() == "---":
            continue
        fileset = _YAML_FILESET.match(line)
        objects = _YAML_OBJECTS.match(line)
        if fileset:
            filesets.append({"Fileset": (int(fileset.group(1)),)})
        elif objects and filesets:
            ids = tuple(int(part) for part in objects.group(2).replace(" ", "").split(",") if part)
            filesets[-1][objects.group(1)] = filesets[-1].get(objects.group(1), ()) + ids
        else:
            ignored.append(line)
    return _result(filesets, ignored)


def _parse_ids(stdout):
    filesets, ignored = [], []
    for line in stdout.splitlines():
        match = _IDS_LINE.match(line)
        if match:
            filesets.append({match.group(1): tuple(int(part) for part in match.group(2).split(",") if part)})
        elif line.strip():
            ignored.append(line)
    return _result(filesets, ignored)


def _result(filesets, ignored):
    images = tuple(i for fileset in filesets for i in fileset.get("Image", ()))
    plates = tuple(i for fileset in filesets for i in fileset.get("Plate", ()))
    return ImportResult(tuple(filesets), images, plates, tuple(ignored))


def stderr_tail(stderr):
    """The last lines of the importer's stderr, for an error message."""
    tail = [line for line in stderr.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
    return (": " + " | ".join(tail)) if tail else ""


def import_failure(exit_code, stderr):
    """A Transient error for a failed import run, quoting the end of its stderr.

    An importer failure may be the OMERO server being down as well as a file it cannot read,
    and its exit code does not tell which: retry, and let the retry policy end in `failed`.
    """
    return Transient("omero import exited with status %s%s" % (exit_code, stderr_tail(stderr)))
