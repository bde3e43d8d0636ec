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

import re
from collections import namedtuple

from omero_irods.errors import Transient

#: argv, extra environment and timeout for one import run.
ImportCommand = namedtuple("ImportCommand", "argv env timeout_seconds")

#: `filesets`: one dict per fileset, class name -> tuple of ids ('Fileset' included);
#: `image_ids`/`plate_ids`: all of them, in order; `ignored`: stdout lines that were not results.
ImportResult = namedtuple("ImportResult", "filesets image_ids plate_ids ignored")

_YAML_FILESET = re.compile(r"^- Fileset: (\d+)\s*$")
_YAML_OBJECTS = re.compile(r"^  ([A-Za-z]+): \[([\d, ]*)\]\s*$")
_IDS_LINE = re.compile(r"^(Image|Plate):([\d,]*)\s*$")
_STDERR_TAIL_LINES = 5


def build_import_command(settings, omero_user, omero_group, paths, target=None, output="yaml"):
    """The importer run for `paths` (absolute vault paths) on behalf of the mapped OMERO user.

    `settings` is config.ImportSettings; `target` an `omero import -T` value such as
    'Dataset:name:run1' (already validated by the payload schema) or None.
    """
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
    argv += list(settings.extra_args)
    argv += list(paths)
    return ImportCommand(argv, dict(settings.env), settings.timeout_seconds)


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


def import_failure(exit_code, stderr):
    """A Transient error for a failed import run, quoting the end of its stderr.

    An importer failure may be the OMERO server being down as well as a file it cannot read,
    and its exit code does not tell which: retry, and let the retry policy end in `failed`.
    """
    tail = [line for line in stderr.splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
    detail = (": " + " | ".join(tail)) if tail else ""
    return Transient("omero import exited with status %s%s" % (exit_code, detail))
