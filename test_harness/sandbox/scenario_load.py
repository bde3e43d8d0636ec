"""The scenario step `load`: the OMERO side asks for a snapshot already in iRODS to be imported.

    {"load": {"as": "omero-svc", "source": "/tempZone/home/alice/omero/save/...",
              "omero_user": "alice", "omero_group": "lab", "target": "Dataset:name:restored"}}

It runs the client's own load request (omero_irods.client.push.request_load, what
`iRODS_Load` and `omero irods load` send) through the sandbox's python-irodsclient session
as `as`, into the landing zone of the scenario's config. `target` is optional.
"""



def step_load(run, arguments):
    """ScenarioRun._step_load: one load request, as the scenario's `as` user."""
    try:
        from omero_irods.client.push import request_load
    except ImportError as error:
        raise RuntimeError("load is not available in this installation (%s)" % error) from None
    request_load(run._session(arguments["as"]), run._landing_zone(), arguments["source"],
                 arguments["omero_user"], arguments["omero_group"], target=arguments.get("target"))
