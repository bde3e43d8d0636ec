"""`omero irods save | load | list | push`: the OMERO CLI plugin's commands.

omero-py's CLI loads every `omero/plugins/*.py` found on sys.path by executing it with a
`register` function in its namespace (omero-py src/omero/cli.py, CLI.loadplugins and
loadpath); omero_plugins/irods.py is that file and only registers IrodsControl from here.
The OMERO user and group are the CLI session's (`omero login`); iRODS is reached as the
service account configured for this OS account (see omero_irods.client.credentials).
"""

import sys

from omero.cli import BaseControl
from omero.gateway import BlitzGateway

from omero_irods.adapters import omero_gateway
from omero_irods.client import omero_actions
from omero_irods.client.cli import ProgressReporter

HELP = """Keep OMERO data in iRODS, through the site's omero-irods policy.

    omero irods save Dataset:3 [Image:5 ...] [--name NAME]   snapshot original files into iRODS
    omero irods load /zone/home/alice/omero/save/.../NAME     import a snapshot back, in place
    omero irods push DIR [--target Dataset:name:X]            ingest local files for yourself
    omero irods list                                          your requests and their states

The OMERO user and group are those of your OMERO session; the iRODS side is reached as the
service account configured on this host ($IRODS_ENVIRONMENT_FILE, else
~/.irods/irods_environment.json, with a private auth file; the landing zone from
$OMERO_IRODS_LANDING_ZONE, else its omero_irods_landing_zone key). save, load and push report
the request sent; `omero irods list` shows what the policy made of it.
"""

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class IrodsControl(BaseControl):

    def _configure(self, parser):
        parser.add_login_arguments()
        sub = parser.sub()
        save = parser.add(sub, self.save, "Save the original files of OMERO objects into iRODS")
        save.add_argument("objects", nargs="+", metavar="Type:ID",
                          help="Project, Dataset, Image, Screen, Plate or Fileset, e.g. Dataset:3")
        save.add_argument("--name", help="snapshot name (default: from the objects)")
        save.add_argument("--no-transfer-xml", action="store_true",
                          help="do not add omero-cli-transfer's transfer.xml")
        load = parser.add(sub, self.load, "Import a snapshot kept in iRODS back into OMERO")
        load.add_argument("snapshot_path", metavar="IRODS_PATH|REQUEST_ID")
        load.add_argument("--target-dataset", metavar="NAME", help="Dataset to import into")
        listing = parser.add(sub, self.list, "List your iRODS requests and their states")
        listing.add_argument("--json", action="store_true", help="print JSON")
        push = parser.add(sub, self.push, "Send local files to iRODS and import them for you")
        push.add_argument("paths", nargs="+", metavar="DIR|FILE")
        push.add_argument("--target", metavar="Dataset:name:X", help="OMERO import target")
        push.add_argument("--follow-symlinks", action="store_true",
                          help="store what symbolic links point to (default: refuse them)")

    def save(self, args):
        try:
            refs = ["%s:%d" % omero_gateway.parse_ref(ref) for ref in args.objects]
        except omero_gateway.OmeroError as error:
            self.ctx.die(EXIT_BAD_INPUT, "omero irods save: %s" % error)
        progress = ProgressReporter(sys.stderr)
        message, _result = self._run(args, "save", omero_actions.save_snapshot, refs,
                                     name=args.name, progress=progress,
                                     include_transfer_xml=not args.no_transfer_xml)
        self.ctx.out(message)

    def load(self, args):
        message, _result = self._run(args, "load", omero_actions.request_load,
                                     args.snapshot_path, target_dataset=args.target_dataset)
        self.ctx.out(message)

    def list(self, args):
        import json

        message, table, requests = self._run(args, "list", omero_actions.list_my_requests)
        self.ctx.err(message)
        self.ctx.out(json.dumps([r.to_json() for r in requests], indent=2) if args.json else table)

    def push(self, args):
        progress = ProgressReporter(sys.stderr)
        message, _result = self._run(args, "push", omero_actions.push_files, args.paths,
                                     target=args.target, follow_symlinks=args.follow_symlinks,
                                     progress=progress)
        self.ctx.out(message)

    def _run(self, args, command, action, *arguments, **options):
        """action(conn, ...) with a gateway on the CLI's session; failures end the command."""
        conn = BlitzGateway(client_obj=self.ctx.conn(args))
        try:
            return action(conn, *arguments, **options)
        except omero_actions.ActionError as error:
            self.ctx.die(EXIT_FAILED, "omero irods %s: %s" % (command, error))
        finally:
            conn.close(hard=False)
            if "progress" in options:
                options["progress"].finish()
