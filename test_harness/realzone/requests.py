"""Requests built by hand (tar + payload), for uploads by clients other than `omero-irods push`
(the kit's iput, a parallel python-irodsclient upload) and for hostile archives."""

import hashlib
import io
import json
import os
import tarfile
import uuid

from realzone.install import LANDING_ZONE


def new_request_id():
    return "20260101T000000Z-" + uuid.uuid4().hex[:12]


def build_tar(members, tweak=None):
    """A pax tar of {name: bytes}; `tweak(tarinfo)` may change each header before it is written."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            if tweak:
                tweak(info)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def payload_for(request_id, tar_bytes, manifest_members, omero_user="alice", omero_group="lab",
                name="run.tar", target_name=None, operation="ingest"):
    """The payload JSON (bytes) for a tar; `manifest_members` {path: bytes} as the manifest says."""
    document = {
        "schema": "omero-irods/payload", "version": 1, "operation": operation,
        "request_id": request_id, "created": "2026-01-01T00:00:00Z",
        "omero": {"user": omero_user, "group": omero_group},
        "data": {"kind": "tar", "name": name, "size": len(tar_bytes),
                 "sha256": hashlib.sha256(tar_bytes).hexdigest(), "members": len(manifest_members)},
        "manifest": [{"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                     for path, data in sorted(manifest_members.items())],
    }
    if target_name:
        document["target"] = {"name": target_name}
    return json.dumps(document).encode()


def landing_paths(request_id, name="run.tar"):
    collection = "%s/%s" % (LANDING_ZONE, request_id)
    return collection, "%s/%s" % (collection, name), "%s/%s.omero-irods.json" % (collection, request_id)


def write_local(folder, name, data):
    path = os.path.join(str(folder), name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path
