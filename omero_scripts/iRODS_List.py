#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""OMERO.script: list your iRODS requests (saves, loads, ingests) and how far each got.

The table goes to the script's standard output; the Message gives the counts per state.
Setup as for iRODS_Save.py. Upload with: omero script upload iRODS_List.py --official
"""

import omero.scripts as scripts

from omero_irods.client import omero_actions


def list_requests(conn, inputs):
    message, table, _requests = omero_actions.list_my_requests(conn)
    print(table)
    return message, {}


def run_script():
    client = scripts.client(
        "iRODS_List.py",
        "List your iRODS requests and their states (received, placed, imported, failed, "
        "rejected...), with OMERO image IDs and errors.",
        version="0.1.0",
        authors=["omero-irods contributors"],
    )
    omero_actions.run_script(client, list_requests)


if __name__ == "__main__":
    run_script()
