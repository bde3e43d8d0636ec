#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""OMERO.script: bring a snapshot kept in iRODS back into OMERO (in-place import).

The script reports the request sent. The iRODS policy then checks that your mapped iRODS
user may read the snapshot before anything is imported: whether it was imported, or
rejected and why, shows later in 'iRODS List'. Setup as for iRODS_Save.py.
Upload with: omero script upload iRODS_Load.py --official
"""

import omero.scripts as scripts

from omero_irods.client import omero_actions


def load(conn, inputs):
    path = (inputs.get("Snapshot_Path") or "").strip()
    if not path:
        raise omero_actions.ActionError(
            "Snapshot_Path is empty: give the snapshot's full iRODS path or your save's request id "
            "(see 'iRODS List')")
    message, result = omero_actions.request_load(
        conn, path, target_dataset=(inputs.get("Target_Dataset") or "").strip() or None)
    return message, {"Request_ID": result.request_id}


def run_script():
    client = scripts.client(
        "iRODS_Load.py",
        "Import a snapshot kept in iRODS back into OMERO, in place (no copy). This sends "
        "the request; 'iRODS List' shows when it is imported, or why it was rejected.",
        scripts.String(
            "Snapshot_Path", optional=False, grouping="1",
            description="Full iRODS path of the snapshot, or the request id of your save (see 'iRODS List')"),
        scripts.String(
            "Target_Dataset", optional=True, grouping="2",
            # `-T Dataset:name:X` creates the Dataset when none has that name
            # (ome/omero-documentation omero/users/cli/import-target.rst).
            description="Name of the Dataset to import into (created if missing)"),
        version="0.1.0",
        authors=["omero-irods contributors"],
    )
    omero_actions.run_script(client, load)


if __name__ == "__main__":
    run_script()
