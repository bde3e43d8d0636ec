"""Run pipeline scenarios and read what they left (imported by the tests; conftest.py holds
the fixtures). Requests and zones are built by omero_irods_sandbox.scenario_builders (re-exported
here), the builders of the scenario files that also run on a real zone."""

import json

from omero_irods import names
from omero_irods_sandbox import scenario as scenario_module
# The builders live with the sandbox: the pipeline scenario files (pipeline_scenarios.py) that
# run on both the sandbox and a real zone are built from the same ones.
from omero_irods_sandbox.scenario_builders import (  # noqa: F401  (re-exported for the tests)
    ALICE_ROOT, LANDING, LINKS, RECORDS, SERVICE, UNTIL_IDLE, ZONE, Request, base_scenario, build_tar)

#: Drain retries but stop the watcher a failed request gets (it polls for a reprocess mark).
DRAIN_FAILURES = {"run_delay_queue": {"until_idle": True, "max_seconds": 1000}}
PREP_INSTANCE = names.DEFAULT_PREP_INSTANCE
#: The emulated server every LiveZone of the running test gets (a scenario `server` block;
#: the test's own block wins): conftest.py sets it per test variant (version, executors).
SERVER = {}


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
