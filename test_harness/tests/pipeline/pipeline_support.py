"""Build requests (a tar and its payload) and scenarios for pipeline tests, run them, and
read what they left (imported by the tests; conftest.py holds the fixtures).

The payloads come from omero_irods.payload.make_payload, the same builder the push
client uses, so the pipeline is tested against what the OMERO side really sends.
`Request(..., payload_edit=fn)` / `payload_bytes=` / `tar_bytes=` forge what a broken or
hostile sender would send instead.
"""

import hashlib
import io
import json
import tarfile

from omero_irods import names
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload
from omero_irods_sandbox import scenario as scenario_module

ZONE = "tempZone"
SERVICE = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"
ALICE_ROOT = "/tempZone/home/alice/omero"
#: The zone's records collection (the config's default): every request's state and claims.
RECORDS = "/tempZone/home/omero-svc/" + names.DEFAULT_RECORDS_NAME
LINKS = RECORDS + "/links"
UNTIL_IDLE = {"run_delay_queue": {"until_idle": True}}
#: Drain retries but stop the watcher a failed request gets (it polls for a reprocess mark).
DRAIN_FAILURES = {"run_delay_queue": {"until_idle": True, "max_seconds": 1000}}
PREP_INSTANCE = names.DEFAULT_PREP_INSTANCE
#: The emulated server every LiveZone of the running test gets (a scenario `server` block;
#: the test's own block wins): conftest.py sets it per test variant (version, executors).
SERVER = {}


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
    """One request's local files and landing paths.

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


class LiveZone(object):
    """A scenario's zone kept open, so a test can act between steps as an admin would."""

    def __init__(self, folder, data):
        data = dict(data, server=dict(SERVER, **data.get("server", {})))
        path = folder / "scenario.json"
        path.write_text(json.dumps(data))
        scenario = scenario_module.load(str(path))
        self._run = scenario_module._ZoneRun(scenario, scenario_module.rules_dir(None), str(folder / "work"))
        self._run.execute()
        self._steps_run = len(data["steps"])

    @property
    def runtime(self):
        return self._run.runtime

    @property
    def catalog(self):
        """The zone's catalog, for what a user does with no scenario step (e.g. ichmod)."""
        return self._run.zone

    def use_importer(self, mode):
        """The admin fixes (or breaks) OMERO: the policy config's importer now answers `mode`."""
        from omero_irods_sandbox import omero_importer

        with open(self._run.config_file, encoding="utf-8") as handle:
            config = json.load(handle)
        config["omero_import"]["command"] = omero_importer.command_prefix(self._run.import_log, mode) + ["import"]
        with open(self._run.config_file, "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    def step(self, step):
        (kind, arguments), = step.items()
        self._run.run_step(self._steps_run, kind, arguments)
        self._steps_run += 1

    def schedule(self, rule_name, *args, **options):
        """Queue `callback.<rule>(args)` as `user` (default the service account), with the
        text and hints the policy itself uses: a duplicate of a rule the PEPs scheduled."""
        from omero_irods.triggers import delay_hints, delayed_rule_text

        runtime = self.runtime
        runtime.new_agent()
        rei = runtime.make_rei(options.get("user", SERVICE))
        runtime.schedule(delay_hints(PREP_INSTANCE, 1), delayed_rule_text(rule_name, *args), "", rei)

    def irule(self, rule_name, user="rods", **inputs):
        """`irule -r <python instance> RULE '*name="value"' ruleExecOut` (the scenario's irule
        step); returns the JSON the admin rule printed."""
        seen = len(self._run.irule_output)
        quoted = {"*%s" % name: '"%s"' % value for name, value in inputs.items()}
        self.step({"irule": {"as": user, "rule": rule_name, "inputs": quoted}})
        (output,) = self._run.irule_output[seen:]
        return json.loads(output["stdout"])

    def state(self):
        state = self._run.state()
        assert not self._run.unexpected, self._run.unexpected
        return state


# --- reading a dump ----------------------------------------------------------------------


def avus_of(state, path):
    for entry in state["collections"] + state["data_objects"]:
        if entry["path"] == path:
            return {a: v for a, v, _u in entry["avus"]}
    raise AssertionError("%s is not in the dump" % path)


def image_ids_of(state, path):
    """The OMERO image ids (ints) recorded on `path` (omero_irods.image_ids: a count and ranges)."""
    from omero_irods.image_ids import image_ids_in

    ranges = avu_values(state, path, names.AVU_OMERO_IMAGES)
    ids = image_ids_in(ranges)
    count = avu_values(state, path, names.AVU_OMERO_IMAGE_COUNT)
    assert count == ([str(len(ids))] if ranges else []), (count, ranges)
    return ids


def avu_values(state, path, attribute):
    for entry in state["collections"] + state["data_objects"]:
        if entry["path"] == path:
            return [v for a, v, _u in entry["avus"] if a == attribute]
    raise AssertionError("%s is not in the dump" % path)


def paths(state, kind="data_objects"):
    return sorted(entry["path"] for entry in state[kind])


def under(state, root, kind="data_objects"):
    """Paths strictly below `root`."""
    return [path for path in paths(state, kind) if path.startswith(root.rstrip("/") + "/")]


def data_object(state, path):
    for entry in state["data_objects"]:
        if entry["path"] == path:
            return entry
    raise AssertionError("%s is not in the dump" % path)


def stored_bytes(state, path):
    """The bytes of a data object's first replica, read from its vault file."""
    with open(data_object(state, path)["replicas"][0]["physical_path"], "rb") as handle:
        return handle.read()


def records(state, root=ALICE_ROOT):
    """Payload-named data objects below `root` (the pipeline keeps none next to the data)."""
    return [path for path in under(state, root) if path.endswith(names.PAYLOAD_SUFFIX)]


def record_of(state, request_id):
    """A request's record in the records collection: the collection whose AVUs are its state."""
    path = "%s/%s" % (RECORDS, request_id)
    assert path in paths(state, "collections"), "request %s has no record; records: %s" % (
        request_id, under(state, RECORDS, "collections"))
    return path


def request_records(state):
    """The request records (collections directly in the records collection, but `links`)."""
    return [path for path in under(state, RECORDS, "collections")
            if path.count("/") == RECORDS.count("/") + 1 and path != LINKS]


def claims(state, request_id, prefix):
    """The numbers N of `<record>/<prefix>N` claims of a request."""
    record = "%s/%s/" % (RECORDS, request_id)
    return sorted(int(path[len(record) + len(prefix):]) for path in paths(state, "collections")
                  if path.startswith(record + prefix) and path[len(record) + len(prefix):].isdigit())


def links_of(state, request_id):
    """[(linked root, OMERO user)] recorded for the guard."""
    for entry in state["collections"]:
        if entry["path"] == "%s/%s" % (LINKS, request_id):
            return [(v, u) for a, v, u in entry["avus"] if a == names.AVU_LINKED_ROOT]
    return []


def ours(log):
    """The serverLog lines omero-irods wrote."""
    return [line for line in log if "omero-irods:" in line]


def queued(state):
    """The delayed rules still scheduled, but the zone's sweep (the periodic safety net that
    every payload put starts: omero_irods.watch)."""
    return [rule["rule"] for rule in state["delay_queue"] if names.RULE_SWEEP not in rule["rule"]]


def delayed_runs(state):
    """The delayed rules that ran, in order, but the sweep's runs: the rule each one called."""
    runs = [pep for pep in state["peps"] if pep["kind"] == "rule" and pep["name"].startswith("omero_irods_")]
    return [run for run in runs if run["name"] != names.RULE_SWEEP]


def unwrapped(files):
    """{path: bytes} as placed: a single top folder holding everything is unwrapped
    (run1.tar with run1/a.tif is placed as <destination>/a.tif)."""
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: content for path, content in files.items()}
    return dict(files)
