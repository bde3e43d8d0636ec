"""The emulated `omero import`: what the sandbox runs instead of OMERO's importer.

    python -m omero_irods_sandbox.omero_importer [--sandbox-log FILE] [--sandbox-mode MODE]
        import [omero import options] PATH...
    python -m omero_irods_sandbox.omero_importer [--sandbox-log FILE] [--sandbox-mode MODE]
        transfer [login options] unpack --folder [--ln_s_import] FOLDER

It connects to nothing. It parses the `omero import` options the project uses, checks that
every PATH exists (an in-place import must see the file at the same path), scans a directory
PATH for files `--depth` directories down (omero-py src/omero/plugins/import.py: "Number of
directories to scan down for files", default 4; emulated as: a file k directories below PATH
is found when k < depth), records the call as one JSON line in the sandbox log, and answers
on stdout/stderr with the exit code the real importer gives, one image per file found. Image and Fileset ids continue from the largest ids already in the log, so
several calls in one scenario never reuse an id.

Before anything else it logs in as `omero import` does, against the sandbox's emulated OMERO
server (`--sandbox-omero FILE`, else $OMERO_IRODS_SANDBOX_OMERO; omero_server.py), and fails the
way omero-py fails (see `login`). Without an emulated server no login is checked (the real
iRODS tier's runs, which bring no OMERO).

MODE (`--sandbox-mode`, else the env var OMERO_IRODS_SANDBOX_IMPORT_MODE, else `succeed`):
`succeed`, `fail`, or `fail_times:N` (the first N calls recorded in the log fail).
The log (`--sandbox-log`, else OMERO_IRODS_SANDBOX_IMPORT_LOG) is required.

Sources of the emulated behaviour:
- options: ome/omero-py `src/omero/plugins/import.py` (ImportControl._configure, the login
  options of `src/omero/cli.py` add_login_arguments); ome/omero-documentation
  `omero/users/cli/import-target.rst` (the -T forms), `omero/sysadmins/in-place-import.rst`
  (--transfer=ln_s).
- answers: ome/openmicroscopy `components/blitz/src/ome/formats/importer/cli/
  LoggingImportMonitor.java` (`--output yaml`: "---", "- Fileset: N", "  Image: [a,b]" on
  stdout per fileset, "Imported objects:" on stderr; `--output ids` (the default):
  "Image:a,b"; the "==> Summary" line on stderr) and `CommandLineImporter.java` (start():
  exit 0 on success, 2 when an import failed; no importable file: "No imports found" and
  usage() exits 1). omero-py's `omero import` exits with the Java process' code.
- `transfer unpack` (omero-cli-transfer): ome/omero-cli-transfer `src/omero_cli_transfer.py`
  (TransferControl._configure: login options on `transfer`, before the sub-command; unpack's
  FILEPATH, --ln_s_import, --merge, --figure, --folder, --output, --skip, --metadata;
  __unpack: with --folder, FOLDER/transfer.xml is read; _create_image_map: each Image's
  XMLAnnotation CLITransferServerPath names its file, or `<folder>/mock_folder` for a
  multi-file image, imported as `path.rstrip("mock_folder")`; _import_files: one
  `omero import FOLDER/./PATH [--transfer=ln_s]` per distinct path, whose Java importer prints
  its `Image:a,b` line on the same stdout) and `src/generate_omero_objects.py`
  (populate_omero: the Projects, Datasets, Screens and Plates of transfer.xml are created and
  linked; recorded here as `restored`). Here each distinct path is one fileset with one image
  per Image element that names it.
"""

import argparse
import json
import os
import re
import sys

LOG_ENV = "OMERO_IRODS_SANDBOX_IMPORT_LOG"
SERVER_ENV = "OMERO_IRODS_SANDBOX_OMERO"
MODE_ENV = "OMERO_IRODS_SANDBOX_IMPORT_MODE"

#: Exit codes of ome.formats.importer.cli.CommandLineImporter (see module docstring).
EXIT_OK, EXIT_USAGE, EXIT_IMPORT_FAILED = 0, 1, 2

_TRANSFERS = ("upload", "upload_rm", "ln", "ln_s", "ln_rm", "cp", "cp_rm")
# import-target.rst: "<action or Class>[:<discriminator>]:<pattern>"; Dataset and Screen take
# the discriminators name and id (default id), optionally qualified by + - @ %.
_TARGET = re.compile(r"^(?P<kind>Dataset|Screen|regex):(?:(?P<qual>[+\-@%]?)(?P<disc>name|id):)?(?P<pattern>.+)$")


class ImporterUsageError(Exception):
    """The call itself is wrong (bad sandbox options or log); not an import failure."""


def parse_mode(text):
    """'succeed' | 'fail' | 'fail_times:N' -> ('succeed', 0) | ('fail', 0) | ('fail_times', N)."""
    if text in ("succeed", "fail"):
        return text, 0
    match = re.match(r"^fail_times:(\d+)$", text or "")
    if match:
        return "fail_times", int(match.group(1))
    raise ImporterUsageError("import mode %r is not succeed, fail or fail_times:N" % (text,))


def mode_text(scenario_value):
    """The MODE string for a scenario's `omero.import` value (see scenario.schema.json)."""
    if isinstance(scenario_value, dict):
        return "fail_times:%d" % scenario_value["fail_times"]
    return scenario_value


def command_prefix(log_path, mode, python=None, omero_server=None):
    """The argv that runs this importer in place of `omero` (the caller appends `import ...`)."""
    prefix = [python or sys.executable, "-m", "omero_irods_sandbox.omero_importer",
              "--sandbox-log", str(log_path), "--sandbox-mode", mode]
    return prefix + (["--sandbox-omero", str(omero_server)] if omero_server else [])


class LoginFailed(Exception):
    """omero-py's CLI died while logging in: `ctx.die(code, message)`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def login(args, server_file, err):
    """The session `omero import ARGS` (or `omero transfer ARGS`) ends up in, as omero-py's
    SessionsControl.login finds or makes it (src/omero/plugins/sessions.py), against the
    emulated server: {'user', 'group', 'uuid', 'action'}; LoginFailed with omero-py's code and
    message otherwise. In order:
    - `-k KEY`: the key's live session, else die 523 "Bad session key. Cannot join KEY on
      HOST:PORT." (a session whose user may not work in its group cannot be attached either);
      `-g` is ignored ("Ignoring group since session key set");
    - a session stored in $OMERO_SESSIONDIR for this server and user (SessionsStore.available)
      whose port and group do not conflict (check_and_attach, check_group=True) and that is live;
    - a password from `-w` or $OMERO_PASSWORD: with `--sudo ADMIN` the admin logs in and creates
      the user's session (SessionsStore.create: createSessionWithTimeouts, as omero_server.py
      checks it), else the user logs in; a refused password is printed and, with no terminal to
      ask again, ends like no password: die 564 "stdin is not a terminal: cannot request
      password" (_require_tty: the detached importer's stdin is /dev/null); a missing user dies
      525 "User account error: MESSAGE.", a SecurityViolation 557 "SecurityViolation: MESSAGE".
    The process exits with the code modulo 256, as sys.exit does."""
    from omero_irods_sandbox.omero_py.omero.util.sessions import SessionsStore
    from omero_irods_sandbox.omero_server import OmeroRefusal, OmeroServer

    server = OmeroServer(server_file)
    host, port = server.address
    store = SessionsStore(os.environ.get("OMERO_SESSIONDIR") or os.path.join(os.path.expanduser("~"), "omero",
                                                                               "sessions"))
    current = store.get_current()
    wanted_host = args.server or current[0]
    if not wanted_host:
        raise LoginFailed(564, "stdin is not a terminal: cannot request server")
    if wanted_host != host or (args.port is not None and str(args.port) != str(port)):
        raise LoginFailed(554, "Ice.ConnectionRefusedException: %s:%s isn't running"
                          % (wanted_host, args.port or port))
    if args.key:
        if args.group:
            err.write("Ignoring group since session key set\n")
        session = _attach(server, args.key)
        if session is None:
            raise LoginFailed(523, "Bad session key. Cannot join %s on %s%s." % (
                args.key, wanted_host, ":%s" % args.port if args.port else ""))
        return dict(session, action="Joined")
    name = args.user or current[1]
    if not name:
        raise LoginFailed(564, "stdin is not a terminal: cannot request username")
    for uuid in store.available(wanted_host, name):
        props = store.get(wanted_host, name, uuid)
        if props.get("omero.port", "4064") != str(args.port or port) or (
                args.group and props.get("omero.group") and props["omero.group"] != args.group):
            err.write("Skipped session %s due to property conflicts\n" % uuid)
            continue
        session = _attach(server, uuid)
        if session is not None:
            return dict(session, action="Reconnected to")
        store.remove(wanted_host, name, uuid)
    password = args.password or os.environ.get("OMERO_PASSWORD")
    if not password:
        raise LoginFailed(564, "stdin is not a terminal: cannot request password")
    try:
        if args.sudo:
            admin = server.login(args.sudo, password)
            try:
                uuid = server.create_session_for(admin, name, args.group, 0, 600 * 1000)
            finally:
                server.kill(admin)  # store.create: client.closeSession() of the admin's login
        else:
            uuid = server.login(name, password)
        session = server.join(uuid)
        server.check_member(session)
    except OmeroRefusal as refusal:
        if refusal.kind == "PermissionDeniedException":
            err.write(refusal.message + "\n")
            raise LoginFailed(564, "stdin is not a terminal: cannot request password")
        if refusal.kind == "RemovedSessionException":
            raise LoginFailed(525, "User account error: %s." % refusal.message)
        if refusal.kind == "SecurityViolation":
            raise LoginFailed(557, "SecurityViolation: %s" % refusal.message)
        raise LoginFailed(556, "InternalException: Failed to connect: %s" % refusal.message)
    return dict(session, action="Created")


def _attach(server, uuid):
    """The live session `uuid` whose user may work in its group, else None (omero-py's attach
    catches whatever joining or the first call raised and clears the stored session)."""
    from omero_irods_sandbox.omero_server import OmeroRefusal

    try:
        session = server.join(uuid)
        server.check_member(session)
    except OmeroRefusal:
        return None
    return {"user": session["user"], "group": session["group"], "uuid": uuid}


def _logged_in(args, server_file, record, err):
    """None when the login worked (recorded), else the exit code (the message on stderr)."""
    if not server_file:
        return None
    try:
        session = login(args, server_file, err)
    except LoginFailed as failed:
        err.write(failed.message + "\n")
        record["login"] = {"refused": failed.message}
        return failed.code % 256
    record["login"] = {"user": session["user"], "group": session["group"], "session": session["uuid"]}
    err.write("%s session for %s@%s. Current group: %s\n" % (session["action"], session["user"],
                                                              args.server or "", session["group"]))
    return None


def _import_parser():
    parser = argparse.ArgumentParser(prog="omero import", add_help=True)
    _add_login_arguments(parser)
    # naming / target / output: omero-py src/omero/plugins/import.py
    parser.add_argument("-n", "--name")
    parser.add_argument("-x", "--description")
    parser.add_argument("-d", metavar="DATASET_ID")
    parser.add_argument("-r", metavar="SCREEN_ID")
    parser.add_argument("-T", "--target")
    parser.add_argument("--output", choices=("ids", "legacy", "yaml"))
    parser.add_argument("-f", action="store_true")
    parser.add_argument("-c", action="store_true")
    parser.add_argument("--transfer", choices=_TRANSFERS)
    parser.add_argument("--exclude")
    parser.add_argument("--checksum-algorithm")
    parser.add_argument("--skip", action="append",
                        choices=("all", "checksum", "minmax", "thumbnails", "upgrade"))
    parser.add_argument("--depth", type=int, default=4)
    for flag in ("--no-stats-info", "--no-thumbnails", "--no-upgrade-check"):
        parser.add_argument(flag, action="store_true")
    parser.add_argument("--parallel-upload")
    parser.add_argument("--parallel-fileset")
    parser.add_argument("--file", dest="stdout_file")
    parser.add_argument("--errs", dest="stderr_file")
    parser.add_argument("path", nargs="*")
    return parser


def _check_target(parser, args):
    for option, value in (("-d", args.d), ("-r", args.r)):
        if value is not None and not re.match(r"^(Dataset:|Screen:)?\d+$", value):
            parser.error("%s %s: expected an id (50 or Dataset:50)" % (option, value))
    if args.target is not None:
        match = _TARGET.match(args.target)
        if not match or (match.group("kind") != "regex" and match.group("disc") in (None, "id")
                         and not match.group("pattern").isdigit()):
            parser.error("-T %s: expected Dataset|Screen[:name|:id]:PATTERN (import-target.rst)"
                         % args.target)


def _read_log(log_path):
    if not os.path.exists(log_path):
        return []
    with open(log_path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _should_fail(mode, previous_calls):
    kind, times = mode
    if kind == "fail":
        return True
    return kind == "fail_times" and len(previous_calls) < times


def _next_id(previous_calls, key):
    return 1 + max([0] + [n for call in previous_calls for n in call.get(key, [])])


def _summary(files, filesets, images, errors):
    def count(number, noun):
        return "%d %s%s" % (number, noun, "" if number == 1 else "s")
    return ("\n==> Summary\n%s uploaded, %s created, %s imported, %s in 00:00:00.000\n"
            % (count(files, "file"), count(filesets, "fileset"), count(images, "image"),
               count(errors, "error")))


def _answer(args, image_ids, fileset_ids, out, err):
    """stdout/stderr of a successful import: one fileset and one image per path."""
    output = args.output or "ids"
    if output == "yaml":
        err.write("Imported objects:\n")
    for image_id, fileset_id in zip(image_ids, fileset_ids):
        if output == "yaml":
            out.write("---\n- Fileset: %d\n  Image: [%d]\n" % (fileset_id, image_id))
        elif output == "legacy":
            err.write("Imported pixels:\n")
            out.write("%d\n" % image_id)
            err.write("Other imported objects:\nFileset:%d\nImage:%d\n" % (fileset_id, image_id))
        else:
            out.write("Image:%d\n" % image_id)
    err.write(_summary(len(image_ids), len(fileset_ids), len(image_ids), 0))


def _transfer_parser():
    # ome/omero-cli-transfer src/omero_cli_transfer.py TransferControl._configure
    parser = argparse.ArgumentParser(prog="omero transfer", add_help=True)
    _add_login_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    unpack = sub.add_parser("unpack")
    unpack.add_argument("filepath", type=str)
    for flag in ("--ln_s_import", "--merge", "--figure", "--folder"):
        unpack.add_argument(flag, action="store_true")
    unpack.add_argument("--output", type=str)
    unpack.add_argument("--skip", choices=["all", "checksum", "thumbnails", "minmax", "upgrade"])
    unpack.add_argument("--metadata", nargs="+", choices=[
        "all", "none", "img_id", "plate_id", "timestamp", "software", "version", "md5", "hostname", "db_id",
        "orig_user", "orig_group"])
    for name in ("pack", "prepare"):
        sub.add_parser(name).add_argument("rest", nargs="*")
    return parser


def _add_login_arguments(parser):
    # omero-py src/omero/cli.py Parser.add_login_arguments
    parser.add_argument("-C", "--create", action="store_true")
    for short, long_name in (("-s", "--server"), ("-p", "--port"), ("-g", "--group"),
                             ("-u", "--user"), ("-w", "--password"), ("-k", "--key")):
        parser.add_argument(short, long_name)
    parser.add_argument("--sudo", metavar="ADMINUSER")
    parser.add_argument("-q", "--quiet", action="store_true")


def parse_packet(xml_text):
    """(image map {server path: [source image ids]}, restored {kind: [names]}) of a transfer.xml,
    read as omero-cli-transfer's _create_image_map reads it (see the module docstring)."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(xml_text)
    local = lambda element: element.tag.rpartition("}")[2]  # noqa: E731
    paths = {}
    for annotation in root.iter():
        if local(annotation) == "XMLAnnotation":
            for element in annotation.iter():
                if local(element) == "CLITransferServerPath":
                    for child in element:
                        if local(child) == "Path":
                            paths[annotation.get("ID")] = (child.text or "").strip()
    image_map, restored = {}, {}
    for element in root:
        kind = local(element)
        if kind in ("Project", "Dataset", "Screen", "Plate"):
            restored.setdefault(kind, []).append(element.get("Name", ""))
        if kind != "Image":
            continue
        refs = [ref.get("ID") for ref in element if local(ref) == "AnnotationRef"]
        server_path = next((paths[ref] for ref in refs if ref in paths), None)
        if server_path is None:
            raise ValueError("Image %s has no CLITransferServerPath" % element.get("ID"))
        if server_path.endswith("mock_folder"):
            server_path = server_path.rstrip("mock_folder")
        image_map.setdefault(server_path, []).append(element.get("ID"))
    return image_map, restored


def run_unpack(argv, log_path, mode, out, err, server_file=None):
    """Emulate `omero transfer ARGV...` for its `unpack` sub-command; returns the exit code."""
    parser = _transfer_parser()
    args = parser.parse_args(argv)  # SystemExit(2) with argparse's message, like omero's CLI
    if args.command != "unpack":
        parser.error("the sandbox emulates `transfer unpack` only")
    previous = _read_log(log_path)
    record = {"argv": ["transfer"] + list(argv), "exit": None, "images": [], "filesets": [], "missing": []}
    folder = args.filepath
    packet = os.path.join(folder, "transfer.xml")
    refused = _logged_in(args, server_file, record, err)
    if refused is not None:
        exit_code = refused
    elif not args.folder:
        err.write("the sandbox emulates `transfer unpack --folder` only (a zip or tar is unpacked to a copy)\n")
        exit_code = EXIT_USAGE
    elif not os.path.isfile(packet):
        err.write("FileNotFoundError: [Errno 2] No such file or directory: '%s'\n" % packet)
        exit_code = EXIT_USAGE
    elif _should_fail(mode, previous):
        err.write("Import failed: emulated OMERO importer failure (sandbox mode %s)\n"
                  % ":".join(str(p) for p in mode if p))
        exit_code = EXIT_IMPORT_FAILED
    else:
        with open(packet, encoding="utf-8") as handle:
            image_map, restored = parse_packet(handle.read())
        # _import_files: os.path.join(cwd, folder, '.', path); an absolute path replaces the rest
        targets = {path: os.path.join(os.getcwd(), folder, ".", path) for path in sorted(set(image_map))}
        record["missing"] = [target for target in targets.values() if not os.path.exists(target)]
        record["files"] = sorted(targets.values())
        record["ln_s"] = bool(args.ln_s_import)
        record["restored"] = restored
        image_id, fileset_id = _next_id(previous, "images"), _next_id(previous, "filesets")
        for path, target in sorted(targets.items()):
            if target in record["missing"]:
                err.write("File not found: %s\nNo imports found\n" % target)
                continue
            ids = list(range(image_id, image_id + len(image_map[path])))
            image_id += len(ids)
            record["images"] += ids
            record["filesets"].append(fileset_id)
            fileset_id += 1
            out.write("Image:%s\n" % ",".join(str(i) for i in ids))
            err.write(_summary(1, 1, len(ids), 0))
        exit_code = EXIT_OK if not record["missing"] else EXIT_USAGE
    record["exit"] = exit_code
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return exit_code


def run_import(argv, log_path, mode, out, err, server_file=None):
    """Emulate `omero import ARGV...`; returns the exit code. argv excludes 'import'."""
    parser = _import_parser()
    args = parser.parse_args(argv)  # SystemExit(2) with argparse's message, like omero's CLI
    _check_target(parser, args)
    previous = _read_log(log_path)
    record = {"argv": ["import"] + list(argv), "exit": None, "images": [], "filesets": [],
              "missing": [p for p in args.path if not os.path.exists(p)]}
    refused = None if args.f else _logged_in(args, server_file, record, err)  # -f: no login (import.py)
    if refused is not None:
        exit_code = refused
    elif args.f:
        exit_code = EXIT_OK
        out.write("".join(p + "\n" for p in args.path))
    elif not args.path or record["missing"]:
        for path in record["missing"]:
            err.write("File not found: %s\n" % path)
        err.write("No imports found\n")
        exit_code = EXIT_USAGE
    elif not _files_found(args.path, args.depth):
        err.write("No imports found\n")
        exit_code = EXIT_USAGE
    elif _should_fail(mode, previous):
        err.write("Import failed: emulated OMERO importer failure (sandbox mode %s)\n"
                  % ":".join(str(p) for p in mode if p))
        err.write(_summary(0, 0, 0, 1))
        exit_code = EXIT_IMPORT_FAILED
    else:
        files = _files_found(args.path, args.depth)
        first_image, first_fileset = _next_id(previous, "images"), _next_id(previous, "filesets")
        record["files"] = files
        record["images"] = list(range(first_image, first_image + len(files)))
        record["filesets"] = list(range(first_fileset, first_fileset + len(files)))
        _answer(args, record["images"], record["filesets"], out, err)
        exit_code = EXIT_OK
    record["exit"] = exit_code
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    return exit_code


def _files_found(paths, depth):
    """Every file a path names: itself, or for a directory the files less than `depth`
    directories below it, in name order."""
    found = []
    for path in paths:
        if not os.path.isdir(path):
            found.append(path)
            continue
        for folder, subfolders, names in os.walk(path):
            level = os.path.relpath(folder, path).count(os.sep) + (folder != path)
            if level >= depth:
                subfolders[:] = []
                continue
            subfolders.sort()
            found.extend(os.path.join(folder, name) for name in sorted(names))
    return found


def read_imports(log_path):
    """Every recorded call, in order: [{'argv', 'exit', 'images', 'filesets', 'missing'}]."""
    return _read_log(log_path)


def main(argv=None, out=None, err=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = out or sys.stdout, err or sys.stderr
    sandbox = argparse.ArgumentParser(prog="omero_irods_sandbox.omero_importer", add_help=False,
                                      allow_abbrev=False)
    sandbox.add_argument("--sandbox-log", default=os.environ.get(LOG_ENV))
    sandbox.add_argument("--sandbox-mode", default=os.environ.get(MODE_ENV, "succeed"))
    sandbox.add_argument("--sandbox-omero", default=os.environ.get(SERVER_ENV))
    options, rest = sandbox.parse_known_args(argv)
    try:
        if not options.sandbox_log:
            raise ImporterUsageError("no import log: pass --sandbox-log FILE or set %s" % LOG_ENV)
        mode = parse_mode(options.sandbox_mode)
        if not rest or rest[0] not in ("import", "transfer"):
            raise ImporterUsageError("expected the sub-command 'import' or 'transfer', got %r" % (rest[:1],))
    except ImporterUsageError as error:
        err.write("omero_irods_sandbox.omero_importer: %s\n" % error)
        return EXIT_USAGE
    run = run_import if rest[0] == "import" else run_unpack
    return run(rest[1:], options.sandbox_log, mode, out, err, options.sandbox_omero)


if __name__ == "__main__":
    sys.exit(main())
