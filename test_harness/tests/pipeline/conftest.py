"""Build requests (a tar and its payload) and scenarios for pipeline tests.

The payloads come from omero_irods.payload.make_payload, the same builder the push
client uses, so the pipeline is tested against what the OMERO side really sends.
"""

import hashlib
import io
import json
import tarfile

import pytest

from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload
from omero_irods_sandbox import scenario as scenario_module

ZONE = "tempZone"
SERVICE = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"


def build_tar(files):
    """A pax tar of {relative path: bytes}, in the given order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


class Request(object):
    """One request's local files and landing paths."""

    def __init__(self, folder, request_id, files, omero_user="alice", omero_group="lab", tar_bytes=None,
                 operation="ingest", target_name=None, payload_edit=None):
        self.request_id = request_id
        self.tar_name = "data.tar"
        tar_bytes = build_tar(files) if tar_bytes is None else tar_bytes
        manifest = [ManifestEntry(path, len(data), hashlib.sha256(data).hexdigest()) for path, data in files.items()]
        payload = make_payload(
            operation, request_id, omero_user, omero_group,
            data=DataRef("tar", self.tar_name, len(tar_bytes), hashlib.sha256(tar_bytes).hexdigest(), len(files)),
            manifest=manifest, target_name=target_name,
        )
        document = payload.to_document()
        if payload_edit:
            payload_edit(document)
        self.tar_file = folder / ("%s.tar" % request_id)
        self.tar_file.write_bytes(tar_bytes)
        self.payload_file = folder / ("%s.omero-irods.json" % request_id)
        self.payload_file.write_bytes(json.dumps(document).encode("utf-8"))
        self.collection = "%s/%s" % (LANDING, request_id)
        self.tar_path = "%s/%s" % (self.collection, self.tar_name)
        self.payload_path = "%s/%s.omero-irods.json" % (self.collection, request_id)

    def steps(self, client="prc", uploader=SERVICE):
        """mkdir, data first, payload last: what the push client does."""
        return [
            {"mkdir": {"as": uploader, "path": self.collection}},
            {"put": {"as": uploader, "client": client, "file": str(self.tar_file), "to": self.tar_path}},
            {"put": {"as": uploader, "client": client, "file": str(self.payload_file), "to": self.payload_path}},
        ]


def base_scenario(folder, steps, config_zone=None, omero="succeed", users=None):
    user_map = folder / "user_map.json"
    user_map.write_text(json.dumps({"schema": "omero-irods/user-map", "version": 1,
                                    "users": {"alice": "alice"}, "groups": {"lab": "lab"}}))
    zone = {"service_account": SERVICE, "landing_zone": LANDING, "allowed_roots": ["/tempZone/home"],
            "user_map": {"file": str(user_map)}}
    zone.update(config_zone or {})
    return {
        "zone": ZONE,
        "config": {"schema": "omero-irods/config", "version": 1, "zones": {ZONE: zone}},
        "users": users or [{"name": SERVICE, "type": "rodsuser"},
                           {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
                           {"name": "bob", "type": "rodsuser"}],
        "provision": ["alice"],
        "omero": {"import": omero},
        "steps": steps,
    }


@pytest.fixture
def run_scenario(tmp_path):
    """Run a scenario dict in the sandbox with the real rules/; returns the dump."""

    def run(data):
        path = tmp_path / "scenario.json"
        path.write_text(json.dumps(data))
        result = scenario_module.run(scenario_module.load(str(path)), scenario_module.rules_dir(None),
                                     workdir=str(tmp_path / "work"))
        return result.state

    return run


def avus_of(state, path):
    for entry in state["collections"] + state["data_objects"]:
        if entry["path"] == path:
            return {a: v for a, v, _u in entry["avus"]}
    raise AssertionError("%s is not in the dump" % path)


def paths(state, kind="data_objects"):
    return sorted(entry["path"] for entry in state[kind])
