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

#: argv, extra environment and timeout for one import run.
ImportCommand = namedtuple("ImportCommand", "argv env timeout_seconds")
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
    if not paths:
        raise ValueError("an import needs at least one file")
    relative = [path for path in paths if not path.startswith("/")]
    if relative:
        # Absolute paths cannot be mistaken for options by the importer's argument parser.
        raise ValueError("import paths must be absolute: %r" % relative[:3])
    argv = list(settings.command)
    if settings.server:
        argv += ["-s", settings.server]
    if settings.port:
        argv += ["-p", str(settings.port)]
    if settings.sudo:
        argv += ["--sudo", settings.sudo]
    argv += ["-u", omero_user, "-g", omero_group]
    argv.append("--transfer=%s" % settings.transfer)
    if target:
        argv += ["-T", target]
    argv.append("--output=%s" % output)
    if depth:
        argv.append("--depth=%d" % depth)
    argv += list(settings.extra_args)
    argv += list(paths)
    size = sum(len(arg.encode("utf-8")) + 1 for arg in argv)
    if size > MAX_ARGV_BYTES:
        raise Rejected("limit", "importing these %d files needs a %d-byte command line; at most %d fit: "
                                "import a smaller collection" % (len(paths), size, MAX_ARGV_BYTES))
    return ImportCommand(argv, dict(settings.env), settings.timeout_seconds)


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
