"""The pipeline's stories as scenario files, to run in the sandbox and on a real zone.

Each builder writes its requests' local files into a folder and returns a scenario (the dict a
scenario file holds), built with the pipeline tests' own builders (scenario_builders), so a
file and the tests it stands for cannot drift. `write_all(folder)` writes `<name>.json` for each;
`omero-irods sandbox run FILE` runs one in the sandbox, and the real-server tier
(test_harness/tests/irods/test_real_scenarios.py) runs each in both and compares the dumps.

Every story is deterministic on a real zone too: steps that depend on one another are separated
by a drain of the delay queue (its executors run rules at once), and the placement template has
no date, so steps can name placed paths.
"""

import json
import os
import pathlib

from omero_irods_sandbox.scenario_builders import ALICE_ROOT, SERVICE, Request, base_scenario, build_tar

FILES = {"run1/a.tif": b"A" * 1000, "run1/b.tif": b"B" * 500}
#: Drain what is due within 30 s: on a real zone that is "until the delay server is quiet";
#: the periodic rules (sweep, a failed request's watcher) are not waited for.
DRAIN = {"run_delay_queue": {"until_idle": True, "max_seconds": 30}}
NO_DATE = {"placement_template": "{user_root}/{operation}/{name}"}
#: The import is checked every 2 s (not 30): a drain of 30 s sees it end, on both zones.
QUICK_CHECK = {"omero_import": {"check_seconds": 2}}


#: The server the real-server tier runs: iRODS 5.0 with the delay server's default executors.
SERVER = {"version": "5.0", "number_of_concurrent_delay_rule_executors": 4}


def _zone(folder, steps, config=None, **options):
    """base_scenario on SERVER, with placed paths a step can name and a quick import check."""
    data = base_scenario(folder, steps, config_zone=NO_DATE, config=dict(QUICK_CHECK, **(config or {})), **options)
    return dict(data, server=SERVER)


def _rid(serial):
    return "20260101T000000Z-0000%04d" % serial


def ingest_clients(folder):
    """A tar ingest by each client: iput (its two put events: one is a duplicate), python-
    irodsclient, its parallel transfer and `omero-irods push` of a folder; the second request
    for target name `run1` is placed as `run1-2`."""
    by_iput = Request(folder, _rid(1), FILES, target_name="run1")
    by_prc = Request(folder, _rid(2), FILES, target_name="run1")
    parallel = Request(folder, _rid(3), {"run3/big.tif": bytes(range(256)) * 160}, target_name="run3")
    pushed = folder / "run4"
    pushed.mkdir(exist_ok=True)
    (pushed / "c.tif").write_bytes(b"C" * 700)
    (pushed / "d.tif").write_bytes(b"D" * 300)
    steps = (by_iput.steps("iput") + [DRAIN] + by_prc.steps("prc") + [DRAIN]
             + parallel.steps("prc-parallel", threads=3) + [DRAIN]
             + [{"push": {"as": SERVICE, "dir": str(pushed), "operation": "ingest", "omero_user": "alice",
                          "omero_group": "lab", "target_name": "run4", "request_id": _rid(4)}}, DRAIN])
    return _zone(folder, steps)


def save_then_load(folder):
    """save places a snapshot for alice (not imported); load links it into OMERO."""
    snapshot = {"Dataset-3/a.tif": b"A" * 300, "Dataset-3/b.tif": b"B" * 200}
    save = Request(folder, _rid(11), snapshot, operation="save", target_name="Dataset-3")
    load = {"load": {"as": SERVICE, "source": ALICE_ROOT + "/save/Dataset-3", "omero_user": "alice",
                     "omero_group": "lab"}}
    return _zone(folder, save.steps("prc") + [DRAIN, load, DRAIN])


def rejections(folder):
    """One request per rejection class a small payload shows: a payload against the schema, an
    unmapped OMERO user, an unsafe tar member, a file whose sha256 is not the declared one (the
    archive's own sha256 is provenance only: every placed file is checked instead)."""
    def wrong_sha(document):
        document["manifest"][0]["sha256"] = "0" * 64

    unsafe_tar = {"run1/a.tif": b"A", "run1/../../escape.tif": b"x"}
    requests = [Request(folder, _rid(21), FILES, payload_edit=lambda document: document["omero"].pop("user")),
                Request(folder, _rid(22), FILES, omero_user="carol"),
                Request(folder, _rid(23), {"run1/a.tif": b"A"}, tar_bytes=build_tar(unsafe_tar)),
                Request(folder, _rid(24), FILES, payload_edit=wrong_sha)]
    steps = [step for request in requests for step in request.steps("prc")] + [DRAIN]
    return _zone(folder, steps)


def import_failure_then_reprocess(folder):
    """The importer fails once; with one attempt the request ends failed and its watcher polls;
    an admin's reprocess mark (irule as rods) gets it imported, once."""
    request = Request(folder, _rid(31), FILES, target_name="retried")
    reprocess = {"irule": {"as": "rods", "rule": "omero_irods_reprocess",
                           "inputs": {"*request_id": '"%s"' % request.request_id}}}
    config = {"retry": {"attempts": 1, "backoff_seconds": 5, "factor": 1, "max_seconds": 5,
                        "reprocess_poll_seconds": 10}}
    steps = request.steps("prc") + [DRAIN, reprocess, {"advance_clock": "11s"}, DRAIN]
    return _zone(folder, steps, config=config, omero={"fail_times": 1})


def guard(folder):
    """Placed and linked data cannot be renamed by its owner nor removed by rods."""
    request = Request(folder, _rid(41), FILES, target_name="guarded")
    placed = ALICE_ROOT + "/ingest/guarded/a.tif"
    steps = request.steps("prc") + [DRAIN,
                                    {"rename": {"as": "alice", "from": placed, "to": placed + ".moved",
                                                "expect_error": True}},
                                    {"remove": {"as": "rods", "path": placed, "force": True, "expect_error": True}}]
    return _zone(folder, steps)


def sweep_requeues_a_lost_request(folder):
    """The delay queue is purged (iqdel -a): the sweep is lost with it. A request then arrives
    whose payload was renamed into place (no put event: no rule). The next push, more than two
    sweep intervals later, restarts the sweep, which queues the lost request again."""
    first = Request(folder, _rid(51), FILES, target_name="first")
    lost = Request(folder, _rid(52), FILES, target_name="lost")
    later = Request(folder, _rid(53), FILES, target_name="later")
    uploaded_aside = lost.payload_path + ".part"
    mkdir, put_tar, put_payload = lost.steps("prc")
    put_payload["put"]["to"] = uploaded_aside
    steps = (first.steps("prc") + [DRAIN, {"purge_delay_queue": {}}, mkdir, put_tar, put_payload,
                                   {"rename": {"as": SERVICE, "from": uploaded_aside, "to": lost.payload_path}},
                                   {"advance_clock": "125s"}] + later.steps("prc")
             + [DRAIN, {"advance_clock": "65s"}, DRAIN])
    config = {"sweep": {"interval_seconds": 60, "unclaimed_seconds": 60, "idle_seconds": 3600}}
    return _zone(folder, steps, config=config)


#: Longest first (the sweep waits out three minutes of real time), so runs at once end sooner.
SCENARIOS = {builder.__name__: builder for builder in (
    sweep_requeues_a_lost_request, ingest_clients, import_failure_then_reprocess, save_then_load, rejections,
    guard)}


def write(name, folder):
    """Write scenario `name` and its files into `folder`; returns the scenario file's path."""
    folder = pathlib.Path(folder) / name
    folder.mkdir(parents=True, exist_ok=True)
    data = dict(SCENARIOS[name](folder), description=SCENARIOS[name].__doc__.strip().replace("\n    ", " "))
    path = folder / (name + ".json")
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def write_all(folder):
    """{name: scenario file path} of every pipeline scenario, written below `folder`."""
    os.makedirs(str(folder), exist_ok=True)
    return {name: write(name, folder) for name in SCENARIOS}
