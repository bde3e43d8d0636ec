#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""OMERO.script: save the original files of Projects, Datasets, Images, Screens or Plates
into iRODS as one snapshot (streamed from the ManagedRepository, nothing staged on disk).

Needs the omero-irods package (`pip install 'omero-irods[omero]'`) in the OMERO server's
Python environment, and the iRODS service account configured for the OS account running
OMERO in ~/.irods/irods_environment.json (with `omero_irods_landing_zone` when the landing
zone is not /<zone>/home/<service account>/landing) and a private ~/.irods/.irodsA. OMERO
passes scripts only HOME, PATH and a few other variables, so $IRODS_ENVIRONMENT_FILE and
$OMERO_IRODS_LANDING_ZONE are not seen here (see omero_irods.client.settings).

The script reports the push: the snapshot was sent as a request. Whether the policy placed
it, or rejected it and why (an unmapped user, ...), shows later in 'iRODS List'.
Upload with: omero script upload iRODS_Save.py --official
"""

import omero.scripts as scripts
from omero.rtypes import rlong, rstring

from omero_irods.adapters import omero_gateway
from omero_irods.client import omero_actions

DATA_TYPES = ("Project", "Dataset", "Image", "Screen", "Plate")


def save(conn, inputs):
    refs = omero_gateway.object_refs(inputs["Data_Type"], inputs.get("IDs"))
    message, result = omero_actions.save_snapshot(
        conn, refs, name=inputs.get("Snapshot_Name"),
        include_transfer_xml=inputs.get("Include_Transfer_XML", True))
    return message, {"Request_ID": result.request_id}


def run_script():
    client = scripts.client(
        "iRODS_Save.py",
        "Save the original files of the chosen objects into iRODS as one snapshot, for "
        "you and your group. This sends the request; follow it with 'iRODS List', which "
        "shows when it is placed, or why it was rejected.",
        scripts.String(
            "Data_Type", optional=False, grouping="1", default="Dataset",
            description="The type of the objects to save",
            values=[rstring(t) for t in DATA_TYPES]),
        scripts.List(
            "IDs", optional=False, grouping="2",
            description="IDs of the objects to save (all in one snapshot)").ofType(rlong(0)),
        scripts.String(
            "Snapshot_Name", optional=True, grouping="3",
            description="Name of the snapshot in iRODS (default: from the object IDs)"),
        scripts.Bool(
            "Include_Transfer_XML", optional=True, grouping="4", default=True,
            description="Add omero-cli-transfer's transfer.xml (annotations, ROIs, the "
                        "Project/Dataset and Screen/Plate/Well hierarchy of every object saved) "
                        "and the files attached to the objects, which it names, when that "
                        "package is installed"),
        version="0.1.0",
        authors=["omero-irods contributors"],
    )
    omero_actions.run_script(client, save)


if __name__ == "__main__":
    run_script()
