#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""`omero irods`: the omero-irods commands for the OMERO CLI.

Installed as omero/plugins/irods.py, where omero-py's CLI finds plugins: it executes every
omero/plugins/*.py on sys.path with a `register` function in its namespace (omero-py
src/omero/cli.py, CLI.loadplugins). The commands live in omero_irods.client.omero_cli.
"""

import sys

from omero.cli import CLI

from omero_irods.client.omero_cli import HELP, IrodsControl

try:
    register("irods", IrodsControl, HELP)  # noqa: F821 -- injected by CLI.loadpath
except NameError:
    if __name__ == "__main__":
        cli = CLI()
        cli.register("irods", IrodsControl, HELP)
        cli.invoke(sys.argv[1:])
