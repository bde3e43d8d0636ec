"""`omero-irods push | list | status`: send files to iRODS and follow what the policy did.

They act as the iRODS service account of the irods_environment.json given with --irods-env
(default: $IRODS_ENVIRONMENT_FILE, else ~/.irods/irods_environment.json).

Exit status:
  0  done
  1  the transfer or an iRODS call failed (the message says what, and whether the request
     may still have been committed: then `omero-irods status ID` tells; or that the partial
     upload was kept and how to resume it)
  2  bad input: nothing was sent (the message names the file or option)
  3  the iRODS credentials or settings are unusable, or iRODS refused them, or the landing
     zone does not exist: nothing was sent
  4  iRODS could not be reached (host, port, network): nothing was sent; try again later
  130  interrupted (Ctrl-C): the message says whether the partial upload was kept for
     `--resume` or removed

There is no `--sandbox` option on purpose: a production command that can silently write to
an emulated zone invites mistakes. To run this push code against the emulated zone, use a
`push` step in a scenario: `omero-irods sandbox run SCENARIO.json`.
"""

import argparse
import json
import sys
import time

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CREDENTIALS, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


def add_arguments(parser, name):
    """Options of `omero-irods push`, `list` or `status` (chosen by `name`)."""
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.formatter_class = _RawEpilogFormatter
    if name == "push":
        _push_arguments(parser)
    elif name in ("status", "reprocess"):
        parser.add_argument("request_id", metavar="REQUEST_ID")
    elif name == "list":
        parser.add_argument("--omero-user", metavar="USER", help="only this OMERO user's requests")
    parser.add_argument("--irods-env", metavar="FILE",
                        help="irods_environment.json of the service account")
    parser.add_argument("--landing-zone", metavar="COLLECTION",
                        help="landing zone collection (default: $OMERO_IRODS_LANDING_ZONE, else "
                             "the environment file's omero_irods_landing_zone, else "
                             "/<zone>/home/<service account>/landing)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _push_arguments(parser):
    parser.add_argument("paths", nargs="+", metavar="DIR|FILE",
                        help="a run folder, or files (stored relative to their common folder)")
    parser.add_argument("--mark-key-file", metavar="FILE",
                        help="the zone's integrity key (mode 0600): the payload is signed with it "
                             "(default: $OMERO_IRODS_MARK_KEY_FILE, else the environment file's "
                             "omero_irods_mark_key_file, else unsigned)")
    parser.add_argument("--omero-user", required=True, metavar="USER",
                        help="OMERO user the data is imported for")
    parser.add_argument("--omero-group", required=True, metavar="GROUP",
                        help="OMERO group the data is imported into")
    parser.add_argument("--operation", choices=("ingest", "save"), default="ingest",
                        help="ingest (default): import into OMERO; save: archive only")
    parser.add_argument("--target", metavar="Dataset:name:X",
                        help="OMERO import target: Dataset:name:NAME or Dataset:id:ID")
    parser.add_argument("--name", metavar="NAME.tar",
                        help="archive name: letters, digits, '.', '_', '-' (default: REQUEST_ID.tar)")
    parser.add_argument("--collection-name", metavar="NAME",
                        help="name of the collection the policy places the files in "
                             "(default: the folder's name when the policy accepts it)")
    parser.add_argument("--request-id", metavar="ID",
                        help="request id (default: a fresh UTC timestamp + random suffix)")
    parser.add_argument("--follow-symlinks", action="store_true",
                        help="store what symbolic links point to (default: refuse them)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check everything and show what would be sent; send nothing")
    parser.add_argument("--resume", metavar="REQUEST_ID",
                        help="continue an interrupted push of the same files and options from "
                             "what iRODS already holds (its journal is in --journal-dir)")
    parser.add_argument("--journal-dir", metavar="DIR",
                        help="where pushes record what iRODS acknowledged, so an interrupted "
                             "one can be resumed (default: $OMERO_IRODS_PUSH_JOURNALS, else "
                             "$XDG_STATE_HOME/omero-irods/pushes, else "
                             "~/.local/state/omero-irods/pushes)")


def run(args):
    """Run `push`, `list` or `status`; returns the exit status."""
    from omero_irods.client import credentials

    command = {"push": _run_push, "list": _run_list, "status": _run_status, "reprocess": _run_reprocess}[args._command]
    try:
        return command(args)
    except credentials.CredentialsError as error:
        return _fail(error, EXIT_CREDENTIALS)


def _run_push(args):
    from omero_irods.client import credentials, push, resume

    if args.resume and args.request_id and args.resume != args.request_id:
        return _fail("--resume %s and --request-id %s differ: give one" % (args.resume, args.request_id),
                     EXIT_BAD_INPUT)
    request_id = args.resume or args.request_id
    try:
        plan = push.plan_push(args.paths, args.operation, args.omero_user, args.omero_group,
                              target=args.target, name=args.name,
                              target_name=args.collection_name,
                              follow_symlinks=args.follow_symlinks, request_id=request_id)
    except push.PushError as error:
        return _fail(error, EXIT_BAD_INPUT)
    env_path, env = credentials.load_environment(args.irods_env)
    landing = _landing_zone(args, env_path, env)
    if landing is None:
        return EXIT_BAD_INPUT
    credentials.checked_auth_file(env_path, env)  # before connecting, and in a dry run too
    mark_key = _mark_key(args, env_path, env)
    if mark_key is False:
        return EXIT_BAD_INPUT
    if args.dry_run:
        _show_plan(plan, landing, args.json)
        return EXIT_OK
    reporter = ProgressReporter(sys.stderr)
    with credentials.irods_session(env_path) as session:
        try:
            result = push.push(session, landing, plan.members, args.operation, args.omero_user,
                               args.omero_group, target=args.target, name=args.name,
                               target_name=plan.request.target_name, request_id=request_id,
                               progress=reporter, resume=bool(args.resume), plan=plan,
                               journal_dir=args.journal_dir or resume.default_journal_dir(),
                               mark_key=mark_key)
        except push.PushError as error:
            reporter.finish()
            return _fail(error, _push_exit_status(error))
        except KeyboardInterrupt:
            reporter.finish()
            return _fail("interrupted; nothing had reached iRODS, and the request was removed",
                         EXIT_INTERRUPTED)
    reporter.finish()
    if args.json:
        _print_json(result._asdict())
    else:
        print("request %s committed: %d files, %d bytes\n  archive: %s\n  payload: %s"
              % (result.request_id, result.members, result.size, result.data_path,
                 result.payload_path))
    return EXIT_OK


def _push_exit_status(error):
    from omero_irods.client import push

    if isinstance(error.__cause__, KeyboardInterrupt):
        return EXIT_INTERRUPTED  # the partial upload was kept for --resume
    if isinstance(error, push.IrodsUnreachable) or isinstance(error.__cause__, push.IrodsUnreachable):
        return EXIT_UNREACHABLE  # also when the partial upload was kept for --resume
    if isinstance(error, (push.AuthenticationRefused, push.LandingZoneMissing)):
        return EXIT_CREDENTIALS
    return EXIT_FAILED


def _run_list(args):
    from omero_irods.client import listing

    def show(session, landing):
        try:
            requests = listing.list_requests(session, landing, omero_user=args.omero_user)
        except Exception as error:
            return _fail_irods("listing %s" % landing, error)
        print(_json_text([r.to_json() for r in requests]) if args.json else format_table(requests))
        return EXIT_OK

    return _with_landing_session(args, show)


def _run_status(args):
    from omero_irods.client import listing

    def show(session, landing):
        try:
            status = listing.request_status(session, landing, args.request_id)
        except LookupError as error:
            return _fail(error.args[0], EXIT_BAD_INPUT)
        except Exception as error:
            return _fail_irods("reading request %s" % args.request_id, error)
        print(_json_text(status.to_json()) if args.json else format_status(status))
        return EXIT_OK

    return _with_landing_session(args, show)


def _run_reprocess(args):
    from omero_irods.client import listing

    def mark(session, landing):
        try:
            status, marked_now = listing.mark_for_reprocess(session, landing, args.request_id)
        except (LookupError, ValueError) as error:
            return _fail(error.args[0], EXIT_BAD_INPUT)
        except Exception as error:
            return _fail_irods("marking request %s" % args.request_id, error)
        print("request %s %s for reprocessing; the next attempt is queued within the "
              "policy's reprocess_poll_seconds (default 300 s)"
              % (status.request_id, "marked" if marked_now else "was already marked"))
        return EXIT_OK

    return _with_landing_session(args, mark)


def _with_landing_session(args, action):
    """Open the service account's session and run `action(session, landing)`; its exit code."""
    from omero_irods.client import credentials

    env_path, env = credentials.load_environment(args.irods_env)
    landing = _landing_zone(args, env_path, env)
    if landing is None:
        return EXIT_BAD_INPUT
    credentials.checked_auth_file(env_path, env)
    with credentials.irods_session(env_path) as session:
        return action(session, landing)


# ---------------------------------------------------------------- output


def format_table(requests):
    """The `list` table: one line per request, newest first."""
    if not requests:
        return "no requests"
    header = ("REQUEST", "OPERATION", "USER", "GROUP", "STATE", "IMAGES", "DESTINATION", "ERROR")
    rows = [header] + [
        (r.request_id, r.operation or "?", r.omero_user or "?", r.omero_group or "?", r.state,
         ",".join(r.images) or "-", r.destination or "-", _one_line(r.error or r.problem or ""))
        for r in requests]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
                     for row in rows).rstrip()


def format_status(status):
    """The `status` text: every field, then every omero_irods:: AVU."""
    lines = ["%-11s %s" % (label + ":", value) for label, value in (
        ("request", status.request_id), ("operation", status.operation or "?"),
        ("omero user", status.omero_user or "?"), ("omero group", status.omero_group or "?"),
        ("created", status.created or "?"), ("state", status.state),
        ("images", ", ".join(status.images) or "-"), ("destination", status.destination),
        ("collection", status.collection), ("payload", status.payload_path or "-"),
        ("owner", status.owner)) if value is not None]
    for text in (status.error, status.problem):
        if text:
            lines.append("%-11s %s" % ("error:", text))
    for short, values in status.avus.items():
        lines.append("  omero_irods::%s = %s" % (short, ", ".join(values)))
    return "\n".join(lines)


def _show_plan(plan, landing, as_json):
    destination = "%s/%s/" % (landing, plan.payload.request_id)
    if as_json:
        _print_json({"landing_collection": destination, "archive": plan.name,
                     "files": len(plan.members), "archive_bytes": plan.predicted_size,
                     "payload": plan.payload.to_document()})
        return
    print("dry run: nothing sent\n  would create %s\n  would stream %s: %d files, %d bytes\n"
          "  then commit %s%s" % (destination, plan.name, len(plan.members), plan.predicted_size,
                                  destination, plan.payload.name))


def _one_line(text, limit=100):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _print_json(document):
    print(_json_text(document))


def _json_text(document):
    return json.dumps(document, indent=2, sort_keys=True)


def _landing_zone(args, env_path, env):
    from omero_irods.client import settings

    try:
        return settings.landing_zone(env["irods_zone_name"], env["irods_user_name"],
                                     args.landing_zone, env=env, env_path=env_path)
    except settings.SettingsError as error:
        _fail(error, EXIT_BAD_INPUT)
        return None


def _mark_key(args, env_path, env):
    """The integrity key to sign with, None for none, False when the named file is unusable."""
    from omero_irods.client import settings

    try:
        return settings.mark_key(args.mark_key_file, env=env, env_path=env_path)
    except settings.SettingsError as error:
        _fail(error, EXIT_BAD_INPUT)
        return False


def _fail(error, status):
    print("omero-irods: %s" % error, file=sys.stderr)
    return status


def _fail_irods(what, error):
    from omero_irods.adapters import prc

    if prc.is_unreachable(error):
        return _fail("iRODS is unreachable (%s failed: %s); check the host and port in the iRODS "
                     "environment file and the network" % (what, prc.describe(error)), EXIT_UNREACHABLE)
    if prc.is_authentication_refused(error):
        return _fail("iRODS refused the service account's credentials (%s): fix the password "
                     "with `iinit` as the service account" % prc.describe(error), EXIT_CREDENTIALS)
    return _fail("%s failed: %s" % (what, prc.describe(error)), EXIT_FAILED)


class ProgressReporter(object):
    """`progress(done, total)` callback: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, stream, clock=time.monotonic, is_tty=None):
        self.stream, self.clock = stream, clock
        self.is_tty = stream.isatty() if is_tty is None else is_tty
        self.started = self.last_draw = None
        self.start_done = 0
        self.last_tenth = -1
        self.drawn = False

    def __call__(self, done, total):
        now = self.clock()
        if self.started is None or done < self.start_done or done == 0:
            # a new pass, or a resumed one starting at `done`: the rate counts from here
            self.started, self.start_done, self.last_tenth = now, done, -1
        if self.is_tty:
            if done == total or self.last_draw is None or now - self.last_draw >= 0.1:
                self.last_draw = now
                self._draw(done, total, now)
        else:
            tenth = 10 * done // total if total else 10
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                eta = self.eta(done, total, now)
                self.stream.write("sent %s of %s (%d%%)%s\n"
                                  % (human_size(done), human_size(total), 10 * tenth,
                                     ", ETA " + eta if eta else ""))
                self.stream.flush()

    def rate(self, done, now):
        """Bytes per second sent in this pass (0.0 before any time passed)."""
        elapsed = now - self.started
        return (done - self.start_done) / elapsed if elapsed > 0 else 0.0

    def eta(self, done, total, now):
        """'1:02:03' / '4:05' left at the current rate, or '' when unknown or done."""
        rate = self.rate(done, now)
        if done >= total or rate <= 0:
            return ""
        minutes, seconds = divmod(int(round((total - done) / rate)), 60)
        hours, minutes = divmod(minutes, 60)
        return "%d:%02d:%02d" % (hours, minutes, seconds) if hours else "%d:%02d" % (minutes, seconds)

    def _draw(self, done, total, now):
        fraction = done / total if total else 1.0
        bar = "#" * int(30 * fraction)
        eta = self.eta(done, total, now)
        self.stream.write("\r[%-30s] %3d%% %s / %s %s/s%s " % (
            bar, 100 * fraction, human_size(done), human_size(total),
            human_size(self.rate(done, now)), " ETA " + eta if eta else ""))
        self.stream.flush()
        self.drawn = True

    def finish(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def human_size(count):
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (count, unit)
        count /= 1024.0


class _RawEpilogFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-status table of the epilog as written."""
