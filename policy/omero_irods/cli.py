"""The `omero-irods` command: a table of sub-commands, each implemented elsewhere.

Sub-command modules are imported only when chosen, so `omero-irods sandbox`
works on a server with nothing but the stdlib and jsonschema, and `push`
needs python-irodsclient only when it runs.
"""

import argparse
import importlib
import sys

from omero_irods import __version__

# name -> (module that provides add_arguments(parser) and run(args), one-line help)
SUBCOMMANDS = {
    "sandbox": ("omero_irods_sandbox.cli", "run scenarios in the embedded, emulated iRODS zone"),
    "push": ("omero_irods.client.cli", "stream files into the landing zone as the service account"),
    "list": ("omero_irods.client.cli", "list requests (ingests, snapshots) and their states"),
    "status": ("omero_irods.client.cli", "show the state of one request"),
    "reprocess": ("omero_irods.client.cli", "ask for another attempt at a failed request"),
    "admin": ("omero_irods.admin.cli", "admin tools: validate config, provision users, install rules"),
}


def build_parser(chosen=None):
    """The parser; only the chosen sub-command's module is imported (the others may
    need libraries this host does not have)."""
    parser = argparse.ArgumentParser(prog="omero-irods", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version="omero-irods " + __version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name, _command=name)
        if name == chosen:
            _module(module_name).add_arguments(sub, name)
    return parser


def _chosen_command(argv):
    """The first word that is not an option: the sub-command, if any."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def _module(module_name):
    return importlib.import_module(module_name)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_chosen_command(argv))
    args = parser.parse_args(argv)
    try:
        return _module(args._module).run(args) or 0
    except KeyboardInterrupt:
        print("omero-irods: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
