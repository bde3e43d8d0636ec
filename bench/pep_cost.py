"""pep_cost: what omero-irods adds to EVERY put in the zone, not only to its own uploads.

Three measures, each against the same thing with omero-irods replaced by a core.py whose
same-named rules are empty functions returning RULE_ENGINE_CONTINUE:

1. sandbox uploads: N unrelated small-file uploads (iput, python-irodsclient) outside the
   landing zone, through the emulated server that fires the real PEP sequences;
2. per PEP call: each put-event PEP called directly with the arguments the sandbox server
   passed it for such an upload (a non-payload path);
3. agent start: every client connection is a new agent process that starts the plugin's
   interpreter and imports core on its first rule call (irods/irods
   server/main_server/src/agent_main.cpp handle_client_request; 4.3:
   server/core/src/rodsAgent.cpp; irods/irods_rule_engine_plugin_python src/main.cpp `start`
   and `exec_rule`). The sandbox keeps omero_irods imported between agents, so only a fresh
   interpreter shows this cost: a child Python that imports core, timed from exec to exit.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import timeit

from bench import common

FULL = {"uploads": 100, "rounds": 5, "micro_calls": 20000, "micro_repeats": 5, "agent_starts": 7}
QUICK = {"uploads": 15, "rounds": 3, "micro_calls": 5000, "micro_repeats": 3, "agent_starts": 3}

ZONE = "tempZone"
SERVICE_ACCOUNT = "omero-svc"
LANDING_ZONE = "/%s/home/%s/landing" % (ZONE, SERVICE_ACCOUNT)
UPLOAD_COLLECTION = "/%s/home/%s/unrelated" % (ZONE, SERVICE_ACCOUNT)
UPLOAD_BYTES = 4096
CLIENT_KINDS = ("iput", "prc")

#: The child that stands for a new agent: start Python, `import core` from /etc/irods, print
#: the peak RSS (see common.peak_rss_bytes; inlined so the child imports nothing else).
_AGENT_START = "\n".join([
    "import sys",
    "sys.path.append(sys.argv[1])",
    "import core",
    "try:",
    "    print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024)",
    "except (OSError, IndexError):",
    "    import resource",
    "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)",
])


def rule_names(rules_dir):
    """omero_irods_rules.__all__, read without importing the module: an imported copy in
    sys.modules would shadow the one each sandbox zone loads from its own etc dir."""
    path = os.path.join(rules_dir, "omero_irods_rules.py")
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError("%s has no __all__ list naming its rules" % path)


def empty_core_source(names):
    """A core.py defining `names` as rules that do nothing and let other engines run."""
    lines = ['"""Benchmark baseline: every omero-irods rule name, doing nothing."""', ""]
    for name in names:
        lines += ["", "def %s(rule_args, callback, rei):" % name,
                  "    return irods_errors.RULE_ENGINE_CONTINUE", ""]
    return "\n".join(lines)


def _policy_config(user_map_file):
    return {"schema": "omero-irods/config", "version": 1,
            "zones": {ZONE: {"service_account": SERVICE_ACCOUNT, "landing_zone": LANDING_ZONE,
                             "allowed_roots": ["/%s/home" % ZONE], "user_map": {"file": user_map_file}}}}


def install_etc(directory, rules_dir, variant):
    """An /etc/irods: the real rules/ ('real') or the empty core ('empty'), plus a valid policy
    config, so the real rules would find one if they ever read it for an unrelated put."""
    os.makedirs(directory)
    if variant == "real":
        for name in ("core.py", "omero_irods_rules.py"):
            shutil.copy(os.path.join(rules_dir, name), directory)
    else:
        with open(os.path.join(directory, "core.py"), "w", encoding="utf-8") as handle:
            handle.write(empty_core_source(rule_names(rules_dir)))
    user_map = os.path.join(directory, "user_map.json")
    with open(user_map, "w", encoding="utf-8") as handle:
        json.dump({"schema": "omero-irods/user-map", "version": 1, "users": {}, "groups": {}}, handle)
    config = os.path.join(directory, "omero_irods.json")
    with open(config, "w", encoding="utf-8") as handle:
        json.dump(_policy_config(user_map), handle)
    return config


class SandboxZone(object):
    """An emulated zone with the service account, loading one variant of the rules."""

    def __init__(self, directory, rules_dir, variant):
        from omero_irods.names import CONFIG_PATH_ENV
        from omero_irods_sandbox.catalog import Zone
        from omero_irods_sandbox.clients import Server
        from omero_irods_sandbox.prep.runtime import PrepRuntime

        etc_dir = os.path.join(directory, "etc", "irods")
        config = install_etc(etc_dir, rules_dir, variant)
        self.zone = Zone(ZONE, os.path.join(directory, "zone"))
        self.zone.add_user(SERVICE_ACCOUNT)
        self.runtime = PrepRuntime(self.zone, etc_dir, log=[], environ={CONFIG_PATH_ENV: config})
        self.server = Server(self.zone, self.runtime)
        self.server.coll_create(SERVICE_ACCOUNT, UPLOAD_COLLECTION, recurse=True)
        self.local_file = os.path.join(directory, "upload.dat")
        with open(self.local_file, "wb") as handle:
            handle.write(b"u" * UPLOAD_BYTES)

    def upload(self, kind, index):
        """One upload as its own connection (a new agent, as scenario.run does per step)."""
        from omero_irods_sandbox.prc_session import SandboxSession

        self.runtime.new_agent()
        path = "%s/%s-%05d.dat" % (UPLOAD_COLLECTION, kind, index)
        if kind == "iput":
            self.server.data_obj_put(SERVICE_ACCOUNT, path, b"u" * UPLOAD_BYTES)
        else:
            SandboxSession(self.server, SERVICE_ACCOUNT).data_objects.put(self.local_file, path)

    def check_clean(self, variant):
        """The timing means nothing if a rule failed: refuse a run that logged a traceback."""
        failures = [line for line in self.runtime.log if "caught python exception" in line]
        if failures:
            raise RuntimeError("pep_cost: the %s rules failed during unrelated uploads:\n%s"
                               % (variant, failures[0]))


VARIANTS = ("real", "empty")


def _sandbox_round(workdir, rules_dir, kind, uploads):
    """One round: a fresh zone per variant, uploads alternating between them one by one, so
    that changes in machine load hit both alike. Returns ({variant: sample}, {variant: rules run})."""
    zones = {variant: SandboxZone(os.path.join(workdir, variant), rules_dir, variant) for variant in VARIANTS}
    totals = {variant: {"wall": 0.0, "cpu": 0.0} for variant in VARIANTS}
    for index in range(uploads):
        for variant in (VARIANTS if index % 2 == 0 else VARIANTS[::-1]):
            sample = common.measure(lambda: zones[variant].upload(kind, index))
            totals[variant]["wall"] += sample["wall"]
            totals[variant]["cpu"] += sample["cpu"]
    for variant, zone in zones.items():
        zone.check_clean(variant)
    return totals, {variant: len(zone.runtime.peps) for variant, zone in zones.items()}


def _sandbox_measures(workdir, rules_dir, uploads, rounds):
    measures = []
    for kind in CLIENT_KINDS:
        samples = {variant: [] for variant in VARIANTS}
        for round_number in range(rounds):
            totals, rules_ran = _sandbox_round(os.path.join(workdir, "%s-%d" % (kind, round_number)),
                                               rules_dir, kind, uploads)
            for variant in VARIANTS:
                samples[variant].append(totals[variant])
            if rules_ran["real"] != rules_ran["empty"]:
                raise RuntimeError("pep_cost: the empty core ran %d rules but the real one %d for the "
                                   "same %s uploads; the baseline must define every PEP the rules define"
                                   % (rules_ran["empty"], rules_ran["real"], kind))
        added = (common.best_wall(samples["real"]) - common.best_wall(samples["empty"])) / uploads
        measures.append(common.time_ratio(
            "sandbox: %d %s uploads" % (uploads, kind), "real rules/", "empty PEPs",
            samples["real"], samples["empty"], "~1", rules_ran=rules_ran["real"],
            context="%s per upload" % common.seconds_text(added)))
    return measures


def capture_put_event_arguments(workdir, rules_dir, pep_names):
    """{pep name: (zone, rule_args, rei)} as the sandbox server fired each PEP for one iput and
    one python-irodsclient put of a non-payload file (first call of each name)."""
    zone = SandboxZone(workdir, rules_dir, "real")
    captured = {}
    invoke = zone.runtime.invoke

    def recording_invoke(rule_name, rule_args, rei, **options):
        if rule_name in pep_names and rule_name not in captured:
            captured[rule_name] = (list(rule_args), rei)
        return invoke(rule_name, rule_args, rei, **options)

    zone.runtime.invoke = recording_invoke
    for kind in CLIENT_KINDS:
        zone.upload(kind, 0)
    zone.runtime.invoke = invoke
    zone.check_clean("real")
    return zone, captured


def _seconds_per_call(zone, rule_name, rule_args, rei, calls):
    """Mean time of one call of core's `rule_name` over `calls` calls, with the zone's modules
    importable (the real rules import session_vars on every acPostProcForPut)."""
    from omero_irods_sandbox.prep.callback import Callback

    with zone.runtime.rules.active():
        core = zone.runtime.rules.core()
        zone.runtime.rules.inject_builtins(core)
        timer = timeit.Timer("rule(rule_args, callback, rei)", globals={
            "rule": getattr(core, rule_name), "rule_args": rule_args,
            "callback": Callback(zone.runtime, rei), "rei": rei})
        return timer.timeit(number=calls) / calls


def _micro_measures(workdir, rules_dir, calls, repeats):
    pep_names = [name for name in rule_names(rules_dir) if name.startswith(("pep_", "ac"))]
    real_zone, captured = capture_put_event_arguments(os.path.join(workdir, "micro-real"), rules_dir, pep_names)
    zones = {"real": real_zone, "empty": SandboxZone(os.path.join(workdir, "micro-empty"), rules_dir, "empty")}
    measures = []
    for name in pep_names:
        if name not in captured:
            continue
        rule_args, rei = captured[name]
        samples = {variant: [] for variant in VARIANTS}
        for _ in range(repeats):
            for variant in VARIANTS:
                samples[variant].append({"wall": _seconds_per_call(zones[variant], name, rule_args, rei, calls),
                                         "cpu": None})
        added = common.best_wall(samples["real"]) - common.best_wall(samples["empty"])
        measures.append(common.time_ratio(
            "per call: %s" % name, "real rule", "empty function", samples["real"], samples["empty"],
            "small", calls=calls, samples_are="seconds per call",
            context="%s per call" % common.seconds_text(added)))
    not_fired = [name for name in pep_names if name not in captured]
    return measures, not_fired


def _agent_start_measures(workdir, rules_dir, starts):
    etc_dirs = {}
    for variant in ("real", "empty"):
        etc_dirs[variant] = os.path.join(workdir, "agent-" + variant)
        install_etc(etc_dirs[variant], rules_dir, variant)
    peak_bytes = {}
    environment = common.child_environment(os.path.join(workdir, "pycache"))

    def start(variant):
        done = subprocess.run([sys.executable, "-c", _AGENT_START, etc_dirs[variant]],
                              capture_output=True, text=True, check=False, env=environment)
        if done.returncode != 0:
            raise RuntimeError("pep_cost: importing the %s core.py in a fresh %s failed:\n%s"
                               % (variant, sys.executable, done.stderr))
        peak_bytes[variant] = int(done.stdout.split()[-1])

    common.interleaved(1, {"real": lambda: start("real"), "empty": lambda: start("empty")})  # writes .pyc
    samples = common.interleaved(starts, {"real": lambda: start("real"), "empty": lambda: start("empty")})
    added = common.best_wall(samples["real"]) - common.best_wall(samples["empty"])
    return [
        common.time_ratio("agent start: python + import core", "real rules/", "empty core.py",
                          samples["real"], samples["empty"], "~1",
                          context="%s per connection" % common.seconds_text(added),
                          python=sys.version.split()[0]),
        common.size_ratio("agent start: peak RSS", "real rules/", "empty core.py",
                          peak_bytes["real"], peak_bytes["empty"], "~1",
                          context="+%s per agent" % common.bytes_text(peak_bytes["real"] - peak_bytes["empty"])),
    ]


def run(workdir, uploads, rounds, micro_calls, micro_repeats, agent_starts, rules_dir=None):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    from omero_irods_sandbox.scenario import rules_dir as find_rules

    rules_dir = find_rules(rules_dir)
    with common.bytecode_cache(os.path.join(workdir, "pycache")):
        measures = _sandbox_measures(workdir, rules_dir, uploads, rounds)
        micro, not_fired = _micro_measures(workdir, rules_dir, micro_calls, micro_repeats)
    measures += micro
    measures += _agent_start_measures(workdir, rules_dir, agent_starts)
    notes = [
        "sandbox ratios: the sandbox's own work (emulated catalog, structs, swapping rule "
        "modules on every call) dominates them, so they mostly show that omero-irods adds no "
        "catalog or microservice call to an unrelated put; a real put also pays network and "
        "database time, which brings its ratio closer still to 1.",
        "per call: timeit of the rule called directly with the arguments the sandbox server "
        "gave it; an empty Python function is the floor, so the context column (time added per call) says more than the ratio.",
        "agent start: every connection to iRODS is a new agent that imports core on its first "
        "rule; the ratio is the whole child process (interpreter start + import), so it is "
        "what omero-irods adds to each connection's first rule call.",
    ]
    if not_fired:
        notes.append("not measured per call (small uploads do not fire them): " + ", ".join(not_fired))
    parameters = {"uploads": uploads, "rounds": rounds, "upload_bytes": UPLOAD_BYTES,
                  "micro_calls": micro_calls, "micro_repeats": micro_repeats,
                  "agent_starts": agent_starts, "rules_dir": rules_dir}
    return common.result("pep_cost", parameters, measures, notes)
