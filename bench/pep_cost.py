"""pep_cost: what omero-irods adds to EVERY put (and remove, rename) in the zone, not only
to its own requests.

Three kinds of measures, each against the same thing with omero-irods replaced by a core.py
whose same-named rules are empty functions returning RULE_ENGINE_CONTINUE:

1. sandbox operations: N unrelated small-file uploads (iput, python-irodsclient) outside the
   landing zone, and N removes (irm) and renames (imv) of such files, by a zone user, through
   the emulated server that fires the real PEP sequences; each is its own connection;
2. per PEP call: each PEP those operations fire, called directly with the arguments the
   sandbox server passed it (a non-payload path);
3. agent start: every client connection is a new agent process that starts the plugin's
   interpreter and imports core on its first rule call (irods/irods
   server/main_server/src/agent_main.cpp handle_client_request; 4.3:
   server/core/src/rodsAgent.cpp; irods/irods_rule_engine_plugin_python src/main.cpp `start`
   and `exec_rule`). The sandbox keeps omero_irods and its config cache between agents, so
   only a fresh interpreter shows this cost: a child Python that imports core (and, for the
   guarded operations, loads the policy config as the guard's first call in an agent does),
   timed from exec to exit.
"""

import json
import os
import shutil
import subprocess
import sys
import timeit

from bench import common

FULL = {"count": 50, "rounds": 5, "micro_calls": 20000, "micro_repeats": 5, "agent_starts": 7}
QUICK = {"count": 15, "rounds": 3, "micro_calls": 5000, "micro_repeats": 3, "agent_starts": 3}

ZONE = "tempZone"
SERVICE_ACCOUNT = "omero-svc"
LANDING_ZONE = "/%s/home/%s/landing" % (ZONE, SERVICE_ACCOUNT)
#: A zone user with nothing to do with OMERO; the allowed roots cover all homes (as in the
#: example config), so the guard does check this user's removes and renames.
ZONE_USER = "alice"
UNRELATED_COLLECTION = "/%s/home/%s/unrelated" % (ZONE, ZONE_USER)
UPLOAD_BYTES = 4096
#: What each measured operation is: iput / PRC put of a new file; irm (to the trash) / imv
#: of a file put beforehand, untimed.
OPERATIONS = ("iput", "prc", "irm", "imv")

#: Each timed batch of calls of one PEP lasts about this long (fewer calls than micro_calls
#: for a PEP that queries the catalog), so slow PEPs do not stretch the run.
MICRO_BATCH_SECONDS = 0.05

#: The child that stands for a new agent: start Python, `import core` from /etc/irods (argv[1]),
#: with argv[2] == 'config' load the policy config as the guard's first call does, print the
#: peak RSS (see common.peak_rss_bytes; inlined so the child imports nothing else).
_AGENT_START = "\n".join([
    "import sys",
    "sys.path.append(sys.argv[1])",
    "import core",
    "if sys.argv[2] == 'config':",
    "    from omero_irods.config import allowed_roots",  # what the guard reads (adapters/prep.py)
    "    allowed_roots('tempZone')",
    "try:",
    "    print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024)",
    "except (OSError, IndexError):",
    "    import resource",
    "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)",
])


def rule_names(rules_dir):
    """omero_irods_rules.__all__, read without importing the module: an imported copy in
    sys.modules would shadow the one each sandbox zone loads from its own etc dir."""
    from omero_irods.admin.rules_files import RULES_MODULE, exported_names

    return exported_names(os.path.join(rules_dir, RULES_MODULE))


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
    config (the guard reads it for removes and renames); returns the config's path."""
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
    """An emulated zone with the service account and a zone user, loading one variant of the
    rules."""

    def __init__(self, directory, rules_dir, variant):
        from omero_irods.names import CONFIG_PATH_ENV
        from omero_irods_sandbox.catalog import Zone
        from omero_irods_sandbox.clients import Server
        from omero_irods_sandbox.prep.runtime import PrepRuntime

        etc_dir = os.path.join(directory, "etc", "irods")
        config = install_etc(etc_dir, rules_dir, variant)
        self.zone = Zone(ZONE, os.path.join(directory, "zone"))
        self.zone.add_user(SERVICE_ACCOUNT)
        self.zone.add_user(ZONE_USER)
        self.runtime = PrepRuntime(self.zone, etc_dir, log=[], environ={CONFIG_PATH_ENV: config})
        self.server = Server(self.zone, self.runtime)
        self.server.coll_create(ZONE_USER, UNRELATED_COLLECTION, recurse=True)
        self.local_file = os.path.join(directory, "upload.dat")
        with open(self.local_file, "wb") as handle:
            handle.write(b"u" * UPLOAD_BYTES)

    def prepare(self, operation, index):
        """What `operation` needs beforehand (a file to remove or rename); not timed."""
        if operation in ("irm", "imv"):
            self.operate("iput", self._name(operation, index))

    def act(self, operation, index):
        """The measured operation number `index`."""
        self.operate(operation, self._name(operation, index))

    @staticmethod
    def _name(operation, index):
        return "%s-%05d.dat" % (operation, index)

    def operate(self, operation, name):
        """One operation on the file `name` of the zone user, as its own connection (a new
        agent, as scenario.run does per step)."""
        from omero_irods_sandbox.prc_session import SandboxSession

        self.runtime.new_agent()
        path = "%s/%s" % (UNRELATED_COLLECTION, name)
        if operation == "iput":
            self.server.data_obj_put(ZONE_USER, path, b"u" * UPLOAD_BYTES)
        elif operation == "prc":
            SandboxSession(self.server, ZONE_USER).data_objects.put(self.local_file, path)
        elif operation == "irm":
            self.server.data_obj_unlink(ZONE_USER, path)
        elif operation == "imv":
            self.server.data_obj_rename(ZONE_USER, path, path + ".renamed")
        else:
            raise ValueError("pep_cost: unknown operation %r (known: %s)" % (operation, ", ".join(OPERATIONS)))

    def check_clean(self, variant):
        """Unrelated operations leave no trace in the server log; a line means a rule failed or
        took a path the measure is not about (e.g. an unreadable config), so refuse the run."""
        if self.runtime.log:
            raise RuntimeError("pep_cost: the %s rules logged during unrelated operations, so the "
                               "timing would not be theirs:\n%s" % (variant, self.runtime.log[0]))


VARIANTS = ("real", "empty")


def _sandbox_round(workdir, rules_dir, operation, count):
    """One round: a fresh zone per variant, operations alternating between them one by one, so
    that changes in machine load hit both alike. Returns ({variant: sample}, {variant: rules run})."""
    zones = {variant: SandboxZone(os.path.join(workdir, variant), rules_dir, variant) for variant in VARIANTS}
    totals = {variant: {"wall": 0.0, "cpu": 0.0} for variant in VARIANTS}
    for index in range(count):
        for variant in (VARIANTS if index % 2 == 0 else VARIANTS[::-1]):
            zones[variant].prepare(operation, index)
            sample = common.measure(lambda: zones[variant].act(operation, index))
            totals[variant]["wall"] += sample["wall"]
            totals[variant]["cpu"] += sample["cpu"]
    for variant, zone in zones.items():
        zone.check_clean(variant)
    return totals, {variant: len(zone.runtime.peps) for variant, zone in zones.items()}


def _sandbox_measures(workdir, rules_dir, count, rounds):
    measures = []
    for operation in OPERATIONS:
        samples = {variant: [] for variant in VARIANTS}
        for round_number in range(rounds):
            totals, rules_ran = _sandbox_round(os.path.join(workdir, "%s-%d" % (operation, round_number)),
                                               rules_dir, operation, count)
            for variant in VARIANTS:
                samples[variant].append(totals[variant])
            if rules_ran["real"] != rules_ran["empty"]:
                raise RuntimeError("pep_cost: the empty core ran %d rules but the real one %d for the "
                                   "same %s operations; the baseline must define every PEP the rules define"
                                   % (rules_ran["empty"], rules_ran["real"], operation))
        added = (common.median_wall(samples["real"]) - common.median_wall(samples["empty"])) / count
        measures.append(common.time_ratio(
            "sandbox: %d unrelated %s" % (count, operation), "real rules/", "empty PEPs",
            samples["real"], samples["empty"], "~1", rules_ran=rules_ran["real"],
            context="%s each" % common.seconds_text(added)))
    return measures


def capture_pep_arguments(workdir, rules_dir, pep_names):
    """(zone, {pep name: (rule_args, rei)}) as the sandbox server fired each PEP for one of each
    OPERATIONS on a non-payload file (first call of each name)."""
    zone = SandboxZone(workdir, rules_dir, "real")
    captured = {}
    invoke = zone.runtime.invoke

    def recording_invoke(rule_name, rule_args, rei, **options):
        if rule_name in pep_names and rule_name not in captured:
            captured[rule_name] = (list(rule_args), rei)
        return invoke(rule_name, rule_args, rei, **options)

    zone.runtime.invoke = recording_invoke
    for operation in OPERATIONS:
        zone.prepare(operation, 0)
        zone.act(operation, 0)
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
    real_zone, captured = capture_pep_arguments(os.path.join(workdir, "micro-real"), rules_dir, pep_names)
    zones = {"real": real_zone, "empty": SandboxZone(os.path.join(workdir, "micro-empty"), rules_dir, "empty")}
    measures = []
    for name in pep_names:
        if name not in captured:
            continue
        rule_args, rei = captured[name]
        estimate = _seconds_per_call(zones["real"], name, rule_args, rei, min(calls, 10))
        batch = max(1, min(calls, int(MICRO_BATCH_SECONDS / max(estimate, 1e-9))))
        samples = {variant: [] for variant in VARIANTS}
        for _ in range(repeats):
            for variant in VARIANTS:
                samples[variant].append({"wall": _seconds_per_call(zones[variant], name, rule_args, rei, batch),
                                         "cpu": None})
        added = common.median_wall(samples["real"]) - common.median_wall(samples["empty"])
        measures.append(common.time_ratio(
            "per call: %s" % name, "real rule", "empty function", samples["real"], samples["empty"],
            "small", calls=batch, samples_are="seconds per call",
            context="%s per call" % common.seconds_text(added)))
    not_fired = [name for name in pep_names if name not in captured]
    return measures, not_fired


def _package_parent():
    """The folder holding the omero_irods package this run imports."""
    import omero_irods

    return os.path.dirname(os.path.dirname(os.path.abspath(omero_irods.__file__)))


def _agent_start_measures(workdir, rules_dir, starts):
    """A fresh interpreter importing core: the real rules (alone, and then loading the policy
    config as the guard's first call does) vs the empty core."""
    from omero_irods.names import CONFIG_PATH_ENV

    etc_dirs, configs = {}, {}
    for variant in VARIANTS:
        etc_dirs[variant] = os.path.join(workdir, "agent-" + variant)
        configs[variant] = install_etc(etc_dirs[variant], rules_dir, variant)
    environment = common.child_environment(os.path.join(workdir, "pycache"))
    # A server has the package installed where its Python finds it on sys.path; an editable
    # (development) install finds it through setuptools' import hook instead, whose first use
    # imports pathlib, re and urllib: a cost of the development venv, not of the rules.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [_package_parent(), environment.get("PYTHONPATH")]))
    peak_bytes = {}

    def start(variant, then):
        done = subprocess.run([sys.executable, "-c", _AGENT_START, etc_dirs[variant], then],
                              capture_output=True, text=True, check=False,
                              env=dict(environment, **{CONFIG_PATH_ENV: configs[variant]}))
        if done.returncode != 0:
            raise RuntimeError("pep_cost: a fresh %s importing the %s core.py (then: %s) failed:\n%s"
                               % (sys.executable, variant, then, done.stderr))
        peak_bytes[variant, then] = int(done.stdout.split()[-1])

    actions = {"import": lambda: start("real", "import"), "config": lambda: start("real", "config"),
               "empty": lambda: start("empty", "import")}
    common.interleaved(1, actions)  # writes the .pyc files a deployed server would have
    samples = common.interleaved(starts, actions)
    empty_seconds = common.median_wall(samples["empty"])

    def added(label):
        return "%s per connection" % common.seconds_text(common.median_wall(samples[label]) - empty_seconds)

    python = sys.version.split()[0]
    real_peak, empty_peak = peak_bytes["real", "import"], peak_bytes["empty", "import"]
    return [
        common.time_ratio("agent start: python + import core", "real rules/", "empty core.py",
                          samples["import"], samples["empty"], "<= +3 ms (context)", context=added("import"),
                          python=python),
        common.time_ratio("agent start + guard's config load", "real rules/", "empty core.py",
                          samples["config"], samples["empty"], "~1", context=added("config"), python=python),
        common.size_ratio("agent start: peak RSS", "real rules/", "empty core.py", real_peak, empty_peak, "~1",
                          context="+%s per agent" % common.bytes_text(real_peak - empty_peak)),
    ]

def run(workdir, count, rounds, micro_calls, micro_repeats, agent_starts, rules_dir=None):
    """Measure; returns common.result(...). `workdir` must exist and be empty."""
    from omero_irods_sandbox.scenario import rules_dir as find_rules

    rules_dir = find_rules(rules_dir)
    with common.bytecode_cache(os.path.join(workdir, "pycache")):
        measures = _sandbox_measures(workdir, rules_dir, count, rounds)
        micro, not_fired = _micro_measures(workdir, rules_dir, micro_calls, micro_repeats)
    measures += micro
    measures += _agent_start_measures(workdir, rules_dir, agent_starts)
    notes = [
        "sandbox ratios: the sandbox's own work (emulated catalog, structs, swapping rule "
        "modules on every call) dominates them; a real operation also pays network and "
        "database time, which brings its ratio closer to 1. What they do show: an unrelated "
        "put costs omero-irods string tests only, while the guard runs a catalog query for "
        "every irm/imv under the allowed roots (here %s, as in the example config)."
        % _policy_config("")["zones"][ZONE]["allowed_roots"][0],
        "per call: timeit of the rule called directly with the arguments the sandbox server "
        "gave it; an empty Python function is the floor, so the context column (time added per call) says more than the ratio.",
        "agent start: every connection to iRODS is a new agent that imports core on its first "
        "rule; the ratio is the whole child process (interpreter start + import), so the "
        "context column is what omero-irods adds to each connection's first rule call; a "
        "connection whose first guarded call (irm, imv, itrim, iphymv, irm -r) must read the "
        "policy config pays the second line's instead.",
    ]
    if not_fired:
        notes.append("not measured per call (%s do not fire them): %s" % ("/".join(OPERATIONS), ", ".join(not_fired)))
    parameters = {"operations": list(OPERATIONS), "count": count, "rounds": rounds, "upload_bytes": UPLOAD_BYTES,
                  "micro_calls": micro_calls, "micro_repeats": micro_repeats,
                  "agent_starts": agent_starts, "rules_dir": rules_dir}
    return common.result("pep_cost", parameters, measures, notes)
