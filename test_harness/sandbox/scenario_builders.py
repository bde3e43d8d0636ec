"""Builders of pipeline scenarios: a request's tar and payload, and the zone they run in.

The pipeline tests (test_harness/tests/pipeline) and the scenario files run in both the
sandbox and a real zone (pipeline_scenarios.py) are built here, so the two never drift. The
payloads come from omero_irods.payload.make_payload, the same builder the push client uses;
`Request(..., payload_edit=fn)` / `payload_bytes=` / `tar_bytes=` forge what a broken or hostile
sender would send instead.
"""

import hashlib
import io
import json
import tarfile

from omero_irods import names
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload

ZONE = "tempZone"
SERVICE = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"
ALICE_ROOT = "/tempZone/home/alice/omero"
#: The zone's records collection (the config's default): every request's state and claims.
RECORDS = "/tempZone/home/omero-svc/" + names.DEFAULT_RECORDS_NAME
LINKS = RECORDS + "/links"
UNTIL_IDLE = {"run_delay_queue": {"until_idle": True}}


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
    """One request's local files (in `folder`, a pathlib.Path) and landing paths.

    `files` ({path: bytes}) make the tar and the manifest. `tar_bytes` replaces the tar
    (the manifest still lists `files`), `payload_edit(document)` changes the payload document,
    `payload_bytes` replaces the payload outright.
    """

    def __init__(self, folder, request_id, files, omero_user="alice", omero_group="lab", tar_bytes=None,
                 operation="ingest", target_name=None, payload_edit=None, payload_bytes=None):
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
        if payload_bytes is None:
            payload_bytes = json.dumps(document).encode("utf-8")
        self.tar_bytes, self.payload_bytes = tar_bytes, payload_bytes
        self.tar_file = folder / ("%s.tar" % request_id)
        self.tar_file.write_bytes(tar_bytes)
        self.payload_file = folder / ("%s.omero-irods.json" % request_id)
        self.payload_file.write_bytes(payload_bytes)
        self.collection = "%s/%s" % (LANDING, request_id)
        self.tar_path = "%s/%s" % (self.collection, self.tar_name)
        self.payload_path = "%s/%s.omero-irods.json" % (self.collection, request_id)

    def steps(self, client="prc", uploader=SERVICE, threads=None):
        """mkdir, data first, payload last: what the push client does."""
        put = {"as": uploader, "client": client}
        if threads:
            put["threads"] = threads
        return [
            {"mkdir": {"as": uploader, "path": self.collection}},
            {"put": dict(put, file=str(self.tar_file), to=self.tar_path)},
            {"put": dict(put, file=str(self.payload_file), to=self.payload_path)},
        ]


def base_scenario(folder, steps, config_zone=None, omero="succeed", users=None, config=None, mapped_users=None,
                  mapped_groups=None):
    """A zone with the service account, alice (mapped, provisioned, in group lab) and bob (not
    mapped).

    `mapped_users` / `mapped_groups` replace the user map's {OMERO user: iRODS user} and
    {OMERO group: iRODS group or None}; `config_zone` and `config` update the zone's and the
    top level of the policy config."""
    user_map = folder / "user_map.json"
    user_map.write_text(json.dumps({"schema": "omero-irods/user-map", "version": 1,
                                    "users": mapped_users or {"alice": "alice"},
                                    "groups": {"lab": "lab"} if mapped_groups is None else mapped_groups}))
    zone = {"service_account": SERVICE, "landing_zone": LANDING, "allowed_roots": ["/tempZone/home"],
            "user_map": {"file": str(user_map)}}
    zone.update(config_zone or {})
    # The sweep (hourly by default) would run every simulated hour of each day-long drain:
    # a daily one keeps the tests fast; the tests of the sweep set their own interval.
    policy = {"schema": "omero-irods/config", "version": 1, "zones": {ZONE: zone},
              "sweep": {"interval_seconds": 86400}}
    policy.update(config or {})
    return {
        "zone": ZONE,
        "config": policy,
        "users": users or [{"name": SERVICE, "type": "rodsuser"},
                           {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
                           {"name": "bob", "type": "rodsuser"}],
        "provision": ["alice"],
        "omero": {"import": omero},
        "steps": steps,
    }
