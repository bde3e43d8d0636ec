"""A sandbox zone with the real rules where one ingest is imported into OMERO, one is placed
but not imported yet, and alice has unrelated data; tests then act on it as iRODS clients do.

Client calls go through the sandbox server (test_harness/sandbox/clients.py), so the guard's
pre-PEPs fire exactly as the real server fires them around each API.
"""

import hashlib
import json

from omero_irods import names
from omero_irods_sandbox import scenario as scenario_module
from omero_irods_sandbox.error_codes import IrodsError

ZONE = "tempZone"
SERVICE = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"
RECORDS = "/tempZone/home/omero-svc/" + names.DEFAULT_RECORDS_NAME
LINKS = RECORDS + "/links"
SCRATCH = "/tempZone/home/alice/scratch"
RESOURCES = ["demoResc", "replResc", "archResc"]
IMPORTED_ID = "20261122T101500Z-0000aaaa"
QUEUED_ID = "20261122T111500Z-0000bbbb"
#: How the sandbox, like the server, logs writeLine('serverLog', ...).
_WRITE_LINE_PREFIX = "writeLine: inString = "
FILES = {"a.tif": b"A" * 1000, "plate/b.tif": b"B" * 2000}


def _write_run(folder, name):
    for relative, data in FILES.items():
        path = folder / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _push(request_id, target_name):
    return {"push": {"as": SERVICE, "dir": target_name, "operation": names.INGEST, "omero_user": "alice",
                     "omero_group": "lab", "target_name": target_name, "request_id": request_id}}


def scenario(folder):
    (folder / "user_map.json").write_text(json.dumps({
        "schema": "omero-irods/user-map", "version": 1, "users": {"alice": "alice"}, "groups": {"lab": "lab"}}))
    _write_run(folder, "run1")
    _write_run(folder, "run2")
    zone = {"service_account": SERVICE, "landing_zone": LANDING, "allowed_roots": ["/tempZone/home"],
            "user_map": {"file": "user_map.json"}}
    return {
        "zone": ZONE,
        "resources": RESOURCES,
        # a daily sweep: the hourly default would run 24 times in the drain below
        "config": {"schema": "omero-irods/config", "version": 1, "zones": {ZONE: zone},
                   "sweep": {"interval_seconds": 86400}},
        "users": [{"name": SERVICE, "type": "rodsuser"}, {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
                  {"name": "bob", "type": "rodsuser"}],
        "provision": ["alice"],
        "omero": {"import": "succeed"},
        "steps": [
            _push(IMPORTED_ID, "run1"),
            {"run_delay_queue": {"until_idle": True}},
            # placed, but its import (queued 1 s ahead) has not run: not referenced by OMERO yet
            _push(QUEUED_ID, "run2"),
            {"advance_clock": "2s"},
            {"run_delay_queue": {}},
            {"mkdir": {"as": "alice", "path": SCRATCH}},
            {"put": {"as": "alice", "client": "prc", "content": "notes\n", "to": SCRATCH + "/notes.txt"}},
        ],
    }


class GuardZone(object):
    """The zone after `scenario()` ran; `imported` / `queued` are the placed collections."""

    def __init__(self, folder, data=None, server=None):
        data = data or scenario(folder)
        if server:
            data = dict(data, server=dict(server, **data.get("server", {})))
        path = folder / "scenario.json"
        path.write_text(json.dumps(data))
        self._run = scenario_module._ZoneRun(scenario_module.load(str(path)), scenario_module.rules_dir(None),
                                             str(folder / "work"))
        self._run.execute()
        assert not self._run.unexpected, self._run.unexpected
        self.imported = self.destination(IMPORTED_ID)
        self.queued = self.destination(QUEUED_ID)

    @property
    def zone(self):
        return self._run.zone

    @property
    def log(self):
        return self._run.runtime.log

    def record_avus(self, request_id):
        return {avu.attribute: avu.value for avu in self.zone.collection(RECORDS + "/" + request_id).avus}

    def destination(self, request_id):
        destination = self.record_avus(request_id).get(names.AVU_DESTINATION)
        assert destination, "request %s was not placed: %s" % (request_id, self.log[-5:])
        return destination

    def state_of(self, request_id):
        return self.record_avus(request_id)[names.AVU_STATE]

    def links(self, request_id):
        """[(attribute, linked root, OMERO user)] of a request's link entry."""
        entry = self.zone.exists(LINKS + "/" + request_id) and self.zone.collection(LINKS + "/" + request_id)
        return [(avu.attribute, avu.value, avu.units) for avu in entry.avus] if entry else []

    def images(self, collection):
        """The image AVUs on `collection` (a count and ranges), as (attribute, value, units)."""
        return sorted((avu.attribute, avu.value, avu.units) for avu in self.zone.collection(collection).avus
                      if avu.attribute in (names.AVU_OMERO_IMAGES, names.AVU_OMERO_IMAGE_COUNT))

    def call(self, api, *args, **kwargs):
        """One client API call on a new connection (`api`: a sandbox Server method name);
        returns the iRODS error name the client saw, or None."""
        self._run.runtime.new_agent()
        try:
            getattr(self._run.server, api)(*args, **kwargs)
        except IrodsError as error:
            return error.name
        return None

    def snapshot(self):
        """Everything a refused call must leave as it was: collections, objects, and every
        replica's resource, vault path and file contents."""
        collections = sorted(collection.path for collection in self.zone.collections())
        objects = {}
        for data_object in self.zone.data_objects():
            objects[data_object.path] = sorted(
                (replica.resource, str(replica.physical_path), _file_digest(replica.physical_path))
                for replica in data_object.replicas)
        return collections, objects

    def replica_resources(self, path):
        return sorted(replica.resource for replica in self.zone.data_object(path).replicas)

    def refusals(self):
        """The guard's serverLog lines (writeLine's own prefix removed)."""
        return [line.split(_WRITE_LINE_PREFIX, 1)[-1] for line in self.log
                if line.split(_WRITE_LINE_PREFIX, 1)[-1].startswith("omero-irods: refused")]


def _file_digest(physical_path):
    with open(str(physical_path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()
