"""ingest_e2e: whole requests through the emulated zone, from `push` to `imported`.

Each run builds a fresh sandbox zone (test_harness/sandbox) with the real rules, pushes a
generated tree as the service account with the real push client (its python-irodsclient
requests answered by the sandbox server), then runs the delay queue until idle: the policy
validates, extracts, verifies, places, sets ACLs and AVUs and runs the emulated importer.
What it reports, per run:

- wall time of the whole request (push + policy), so t(10k files) / t(1k files) shows how
  the cost grows with the file count (linear: 10);
- every microservice the rules called through the plugin's callback, counted by name
  (each one is a round trip to the agent, most of them to the catalog), per request;
- the bytes the server side read and wrote while processing the request, after the upload,
  per ingested byte: the sandbox process's read(2)/write(2) byte counters (/proc/self/io
  rchar/wchar) around the delay queue run. Whatever the emulation itself reads counts
  against the policy, so this is an upper bound of what the rules make iRODS do. A request
  of one 1 KiB file gives the fixed cost (agents importing the policy, schemas, config); the
  "beyond a 1-file request" rows subtract it: the cost per byte as the request grows.

The large runs (a 4 GiB tree, a 100k-member tree) check that such requests go through and
give the same per-byte and per-file numbers at that size.
"""

import collections
import json
import os
import shutil
import time

from bench import common

FULL = {"file_counts": (1000, 10000), "file_bytes": 1024, "rounds": 1,
        "large_bytes": 4 << 30, "large_files": 64, "many_members": 100000}
QUICK = {"file_counts": (100, 1000), "file_bytes": 1024, "rounds": 1,
         "large_bytes": 256 << 20, "large_files": 16, "many_members": 5000}

ZONE = "tempZone"
SERVICE_ACCOUNT = "omero-svc"
LANDING_ZONE = "/%s/home/%s/landing" % (ZONE, SERVICE_ACCOUNT)
STATE_ATTRIBUTE = "omero_irods::state"


def _scenario(workdir, tree):
    from omero_irods_sandbox.scenario import Scenario

    user_map = os.path.join(workdir, "user_map.json")
    with open(user_map, "w", encoding="utf-8") as handle:
        json.dump({"schema": "omero-irods/user-map", "version": 1,
                   "users": {"alice": "alice"}, "groups": {"lab": "lab"}}, handle)
    data = {
        "zone": ZONE,
        "config": {"schema": "omero-irods/config", "version": 1,
                   "zones": {ZONE: {"service_account": SERVICE_ACCOUNT, "landing_zone": LANDING_ZONE,
                                    "allowed_roots": ["/%s/home" % ZONE], "user_map": {"file": user_map}}}},
        "users": [{"name": SERVICE_ACCOUNT}, {"name": "alice", "groups": ["lab"]}],
        "provision": ["alice"],
        "omero": {"import": "succeed"},
        "steps": [
            {"push": {"as": SERVICE_ACCOUNT, "dir": tree, "operation": "ingest", "omero_user": "alice",
                      "omero_group": "lab", "target_name": "run", "request_id": "20260101T000000Z-00bench0"}},
            {"run_delay_queue": {"until_idle": True}},
        ],
    }
    return Scenario(data, os.path.join(workdir, "scenario.json"))


def _io_counters():
    """(rchar, wchar) of this process: bytes passed to read(2)/write(2) and friends."""
    counters = {}
    with open("/proc/self/io", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            counters[name] = int(value)
    return counters["rchar"], counters["wchar"]


class _MicroserviceCounter(object):
    """Counts the microservices the rules call through the sandbox's plugin callback."""

    def __init__(self):
        self.counts = collections.Counter()

    def __enter__(self):
        from omero_irods_sandbox.prep import callback

        self._class = callback.RuleCall
        self._original = self._class._run_microservice
        counts, original = self.counts, self._original

        def counted(rule_call, params):
            counts[rule_call.name] += 1
            return original(rule_call, params)

        self._class._run_microservice = counted
        return self

    def __exit__(self, *exc):
        self._class._run_microservice = self._original
        return False


def ingest(workdir, tree, payload_bytes):
    """One request from push to the end of the delay queue; a dict of what it cost."""
    from omero_irods_sandbox.scenario import _ZoneRun, rules_dir

    zone_dir = os.path.join(workdir, "zone-run")
    os.makedirs(zone_dir)
    scenario = _scenario(workdir, tree)
    run = _ZoneRun(scenario, rules_dir(), zone_dir)
    for name in scenario.data["provision"]:
        run._client_step("provision", "provision", {}, lambda n=name: run._provision(n))
    (push_index, push_kind, push_arguments), (queue_index, queue_kind, queue_arguments) = scenario.steps
    try:
        # a server's agents import the policy from compiled files: not compiling it per agent
        with common.bytecode_cache(os.path.join(workdir, "pycache")), _MicroserviceCounter() as microservices:
            started = time.perf_counter()
            run.run_step(push_index, push_kind, push_arguments)
            pushed = time.perf_counter()
            read_before, written_before = _io_counters()
            run.run_step(queue_index, queue_kind, queue_arguments)
            read_after, written_after = _io_counters()
            finished = time.perf_counter()
        state = _request_state(run)
        problems = run.client_errors + run.unexpected
        if state != "imported" or problems:
            raise RuntimeError("ingest_e2e: the request ended %r, not 'imported' (%s; log: %s)"
                               % (state, problems, run.runtime.log[-3:]))
        return {"seconds": finished - started, "push_seconds": pushed - started,
                "policy_seconds": finished - pushed, "read_bytes": read_after - read_before,
                "written_bytes": written_after - written_before, "ingested_bytes": payload_bytes,
                "microservices": dict(microservices.counts)}
    finally:
        shutil.rmtree(zone_dir, ignore_errors=True)


def _request_state(run):
    """The state on the request's record (a collection in the records collection: the only
    place the policy keeps state)."""
    for collection in run.zone.collections():
        for avu in collection.avus:
            if avu.attribute == STATE_ATTRIBUTE:
                return avu.value
    return None


def small_tree(root, count, file_bytes):
    """`count` files of about `file_bytes` each, 100 per folder (as a plate's fields)."""
    block = os.urandom(file_bytes)
    for index in range(count):
        folder = os.path.join(root, "well%04d" % (index // 100))
        if index % 100 == 0:
            os.makedirs(folder)
        with open(os.path.join(folder, "f%06d.tif" % index), "wb") as handle:
            handle.write(block[index % 7:] + block[:index % 7])
    return count * file_bytes


def _per_request(counts):
    return ", ".join("%s %d" % (name, count) for name, count in sorted(counts.items(), key=lambda kv: -kv[1]))


def run(workdir, file_counts, file_bytes, rounds, large_bytes, large_files, many_members):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    small, large = file_counts
    outcomes = {}
    for count in (small, large):
        tree = os.path.join(workdir, "tree-%d" % count, "run")
        payload = small_tree(tree, count, file_bytes)
        os.sync()
        outcomes[count] = [ingest(os.path.join(workdir, "run-%d-%d" % (count, r)), tree, payload)
                           for r in range(rounds)]
        shutil.rmtree(os.path.dirname(tree))
    samples = {count: [{"wall": o["seconds"], "cpu": o["seconds"]} for o in outcomes[count]]
               for count in outcomes}
    large_run = outcomes[large][0]
    measures = [
        common.time_ratio("sandbox end to end: t(%d files) / t(%d files)" % (large, small),
                          "%d files" % large, "%d files" % small, samples[large], samples[small],
                          "<= 11", context="%.1f s / %.1f s" % (common.median_wall(samples[large]),
                                                               common.median_wall(samples[small]))),
        _count_measure("microservice calls per request, %d files" % large, large_run, large),
        _bytes_measure("server bytes read / ingested byte, %d files" % large, large_run, "read_bytes"),
        _bytes_measure("server bytes written / ingested byte, %d files" % large, large_run, "written_bytes"),
    ]
    notes = ["microservices per request with %d files: %s" % (large, _per_request(large_run["microservices"])),
             "microservices per request with %d files: %s" % (small, _per_request(outcomes[small][0]["microservices"]))]
    parameters = {"file_counts": list(file_counts), "file_bytes": file_bytes, "rounds": rounds,
                  "outcomes": {str(count): outcomes[count] for count in outcomes}}
    fixed = _one_file_request(workdir)
    parameters["outcomes"]["one file"] = fixed
    notes.append("a request of one file of %d bytes reads %s and writes %s on the server (agents importing "
                 "the policy, schemas, config, catalog): the fixed cost the 'beyond' rows subtract"
                 % (fixed["ingested_bytes"], common.bytes_text(fixed["read_bytes"]),
                    common.bytes_text(fixed["written_bytes"])))
    for label, builder, beyond_fixed in (
            ("%s in %d files" % (common.bytes_text(large_bytes), large_files),
             lambda root: common.write_tree(root, large_files, large_bytes), True),
            ("%d members" % many_members, lambda root: small_tree(root, many_members, 64), False)):
        tree = os.path.join(workdir, "large", "run")
        payload = builder(tree)
        os.sync()
        outcome = ingest(os.path.join(workdir, "large-run"), tree, payload)
        shutil.rmtree(os.path.dirname(tree))
        parameters["outcomes"][label] = outcome
        measures += [
            _bytes_measure("server bytes read / ingested byte, %s" % label, outcome, "read_bytes"),
            _bytes_measure("server bytes written / ingested byte, %s" % label, outcome, "written_bytes"),
        ]
        if beyond_fixed:  # for 64-byte members the fixed cost is most of it: no per-byte slope
            measures += [_bytes_measure("server bytes %s / ingested byte, %s, beyond a 1-file request"
                                        % (field.replace("_bytes", ""), label), _beyond(outcome, fixed), field)
                         for field in ("read_bytes", "written_bytes")]
        notes.append("%s end to end: %.1f s (push %.1f s, policy %.1f s); microservices: %s"
                     % (label, outcome["seconds"], outcome["push_seconds"], outcome["policy_seconds"],
                        _per_request(outcome["microservices"])))
    return common.result("ingest_e2e", parameters, measures, notes)


def _one_file_request(workdir):
    """The fixed cost of a request: one file of 1 KiB, push to imported."""
    tree = os.path.join(workdir, "one-file", "run")
    outcome = ingest(os.path.join(workdir, "one-file-run"), tree, small_tree(tree, 1, 1024))
    shutil.rmtree(os.path.dirname(tree))
    return outcome


def _beyond(outcome, fixed):
    """What `outcome` read and wrote beyond a 1-file request, per byte ingested beyond it."""
    return {field: outcome[field] - fixed[field] for field in ("read_bytes", "written_bytes", "ingested_bytes")}


def _bytes_measure(name, outcome, field):
    target = "<= 2" if field == "read_bytes" else "<= 1"
    return common.count_ratio(name, field.replace("_bytes", ""), "ingested bytes", outcome[field],
                              outcome["ingested_bytes"], target,
                              context="%s of %s" % (common.bytes_text(outcome[field]),
                                                    common.bytes_text(outcome["ingested_bytes"])))


def _count_measure(name, outcome, files):
    total = sum(outcome["microservices"].values())
    chksum = outcome["microservices"].get("msiDataObjChksum", 0)
    return common.count_ratio(name, "calls - checksum registrations", "files",
                              total - chksum, files, "O(1): ~0",
                              context="%d calls, %d msiDataObjChksum" % (total, chksum))
