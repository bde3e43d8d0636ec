"""One scenario, two zones: a sandbox scenario file's steps run against a real zone.

`run_real(scenario, kit, base, python_dir)` starts a fresh zone for the scenario (its users,
groups, resources, policy config and provisioning, the emulated importer in place of `omero` as
the sandbox does), executes each step with the real clients as the step's user (icommands for
iput/imkdir/irepl/imv/irm/itrim/iphymv/irule, python-irodsclient for prc puts and the push
client) and returns (state, steps): `state` in the sandbox's dump format
(omero_irods_sandbox.dump: collections, data_objects, peps, pep_points, client_errors,
irule_output, imports, delay_queue, log), `steps` the PEP names each client step fired.

`run_sandbox(scenario)` runs the same scenario in the sandbox and returns the same pair.

What a real zone cannot do is said, not faked: `advance_clock` waits for real only up to
MAX_REAL_WAIT seconds (and is otherwise recorded in `notes`), a `run_delay_queue` waits until
no delayed rule is due within its horizon (capped at DELAY_WAIT_CAP seconds), `fail_msi` (the
sandbox's fault injection) has no real twin and is refused.

`run_many(scenarios, ...)` runs several scenarios at once, each on its own zone: a scenario's
dump is the whole zone, as the sandbox's is, and their zones share nothing but the machine.
"""

import json
import os
import re
import shutil
import threading
import time

from realzone import install
from realzone.zone import ADMIN, PYTHON_INSTANCE, ZONE, RealZone, ZoneError
TRACE_PREFIX = "omero_irods.pep_trace "  # pep_trace_core.py writes it (that module runs only in the server)

MAX_REAL_WAIT = 150  # the sweep scenario waits out two sweep intervals (2 x 60 s)
DELAY_WAIT_CAP = 240  # quiet comes much sooner; a loaded machine's -O0 server can take minutes
#: rules that re-schedule themselves forever (their next run is not "work left")
PERIODIC_RULES = ("omero_irods_sweep", "omero_irods_watch")
#: Steps of the harness (an admin or the clock), not of a client: no PEPs of their own.
HARNESS_STEPS = ("run_delay_queue", "advance_clock", "purge_delay_queue", "fail_msi", "config")


# ---- the sandbox side -----------------------------------------------------------------------

def run_sandbox(scenario):
    """(dump state, [(step index, kind, [pep names])]) of the scenario in the sandbox."""
    import tempfile

    from omero_irods_sandbox import scenario as scenario_module

    workdir = tempfile.mkdtemp(prefix="omero-irods-sandbox-compare-")
    try:
        run = scenario_module._ZoneRun(scenario, scenario_module.rules_dir(), workdir)
        for name in scenario.data.get("provision", []):
            run._client_step("provision", "provision", {}, lambda n=name: run._provision(n))
        steps = []
        for index, kind, arguments in scenario.steps:
            before = len(run.server.pep_points)
            run.run_step(index, kind, arguments)
            fired = [point["name"] for point in run.server.pep_points[before:]]
            steps.append((index, kind, fired))
        state = run.state()
        from omero_irods_sandbox.vault import vault_directory

        state["_vault_roots"] = {resource: vault_directory(os.path.join(workdir, "zone"), resource, scenario.resources[0])
                                 for resource in scenario.resources}
        state["_unexpected"] = list(run.unexpected)
        return state, steps
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- the real side --------------------------------------------------------------------------

#: Zones start one at a time (setup_irods.py is most of a zone's CPU; three at once on a loaded
#: two-core machine missed its 100 s start timeout); the rest of the setup and the scenarios
#: run at once.
_STARTING = threading.Lock()


class RealRun(object):
    def __init__(self, scenario, zone):
        self.scenario = scenario
        self.zone = zone
        self.client_errors = []
        self.irule_output = []
        self.notes = []
        self.steps = []
        self.client_dir = os.path.join(zone.workdir, "scenario-client")
        os.makedirs(self.client_dir, exist_ok=True)

    # ---- setting the zone up as the scenario says ----------------------------------------
    def install(self, python_dir):
        scenario, zone = self.scenario, self.zone
        with _STARTING:
            zone.start(pythonpath=python_dir)
        import_log = install.import_log_path(zone)
        config, user_map = self._config(import_log)
        config_path = os.path.join(zone.etc, "omero_irods.json")
        install.configure_server(zone, config_path)
        install.install_rules(zone, trace=True)
        install.write_policy(zone, config, user_map)
        self._resources()
        with _STARTING:
            zone.restart()
        for user in scenario.data.get("users", []):
            zone.mkuser(user["name"], user.get("type", "rodsuser"), user.get("groups", []))
        self.config = config
        self.log_start = zone.log_size()
        for name in scenario.data.get("provision", []):
            self._client_step("provision", "provision", {},
                              lambda n=name: install.provision(zone, config_path, [n]))

    def _config(self, import_log):
        from omero_irods_sandbox.omero_importer import mode_text

        scenario = self.scenario
        config = json.loads(json.dumps(scenario.config()))
        origin = os.path.dirname(scenario.resolve(scenario.data["config_file"])) \
            if "config_file" in scenario.data else scenario.base_dir
        from omero_irods_sandbox import omero_server
        omero_users = omero_server.directory(scenario.data, _with_map_path(config, origin))
        user_map = None
        for zone_config in (config.get("zones") or {}).values():
            map_config = zone_config.get("user_map") or {}
            if isinstance(map_config.get("file"), str):
                with open(os.path.join(origin, map_config["file"])) as handle:
                    user_map = json.load(handle)
                map_config["file"] = "omero_irods_user_map.json"
        mode = mode_text(scenario.import_mode)
        importer = config.setdefault("omero_import", {})
        from omero_irods_sandbox.omero_importer import command_prefix
        importer["command"] = command_prefix(import_log, mode, python=install.SERVER_PYTHON) + ["import"]
        importer.setdefault("log_folder", install.import_log_folder(import_log))  # writable by irods
        # OMERO and the importer's login, as the sandbox sets them up (its scenario runs compare)
        omero_server.install(os.path.join(os.path.dirname(import_log), "omero"), importer, omero_users,
                             python=install.SERVER_PYTHON, owner="irods")
        importer.setdefault("check_seconds", 2)
        return config, user_map

    def _resources(self):
        host = self.zone.server_config()["host"]
        for resource in self.scenario.resources:
            if resource == "demoResc":
                continue
            vault = os.path.join(self.zone.workdir, "vault-" + resource)
            os.makedirs(vault, exist_ok=True)
            shutil.chown(vault, "irods", "irods")
            self.zone.iadmin("mkresc", resource, "unixfilesystem", "%s:%s" % (host, vault))

    def vault_roots(self):
        roots = {"demoResc": self.zone.vault}
        for resource in self.scenario.resources:
            if resource != "demoResc":
                roots[resource] = os.path.join(self.zone.workdir, "vault-" + resource)
        return roots

    # ---- steps ------------------------------------------------------------------------------
    def execute(self):
        for index, kind, arguments in self.scenario.steps:
            start = self.zone.log_size()
            if kind in HARNESS_STEPS:
                self._harness_step(index, kind, lambda: getattr(self, "_step_" + kind)(arguments))
                self.steps.append((index, kind, []))
                continue
            self._client_step(index, kind, arguments, lambda: getattr(self, "_step_" + kind)(arguments))
            time.sleep(0.3)  # the agent's last log lines
            self.steps.append((index, kind, self._client_peps(start, arguments.get("as"))))

    def _harness_step(self, index, kind, action):
        try:
            action()
        except Exception as error:  # the harness could not do it on this zone: say so in the dump
            self.notes.append("steps[%d].%s: %s: %s" % (index, kind, type(error).__name__, error))

    def _client_step(self, index, kind, arguments, action):
        try:
            action()
        except Exception as error:  # what the client saw
            self.client_errors.append(client_error_entry(index, kind, error))

    def _client_peps(self, start, user):
        """The PEPs fired by the step's own client connections: agents of `user` that ran no
        delayed rule (the delay server's agents run pep_api_exec_rule_expression) and are not
        the delay server's own (it connects as rods for the rule's owner: proxy user rods, client
        user the owner, e.g. to delete a rule it ran, pep_api_rule_exec_del)."""
        entries = [e for e in self.zone.log_entries(start) if e.get("server_type") == "agent"
                   and e.get("request_proxy_user", e.get("request_client_user")) == e.get("request_client_user")]
        delay_pids = {e.get("server_pid") for e in entries
                      if "pep_api_exec_rule_expression" in e.get("log_message", "")}
        return [e["log_message"][len("writeLine: inString = " + TRACE_PREFIX):].strip()
                for e in entries
                if e.get("server_pid") not in delay_pids and e.get("request_client_user") == user
                and e.get("log_message", "").startswith("writeLine: inString = " + TRACE_PREFIX)]

    def _icommand(self, user, *argv):
        result = self.zone.icommand(user, *argv, check=False)
        if result.returncode != 0:
            raise IcommandError(argv[0], result.returncode, result.stdout + result.stderr)
        return result

    def _local(self, arguments):
        if "file" in arguments:
            return self.scenario.resolve(arguments["file"])
        from omero_irods_sandbox.scenario import generated_bytes

        data = arguments["content"].encode() if "content" in arguments else \
            generated_bytes(arguments["size"], seed=arguments["to"])
        local = os.path.join(self.client_dir, os.path.basename(arguments["to"]) or "data")
        with open(local, "wb") as handle:
            handle.write(data)
        return local

    def _step_put(self, arguments):
        user, path, client = arguments["as"], arguments["to"], arguments.get("client", "prc")
        local = self._local(arguments)
        resource = arguments.get("resource")
        if client == "iput":
            argv = ["iput"] + (["-R", resource] if resource else []) + (["-f"] if arguments.get("force") else [])
            self._icommand(user, *(argv + [local, path]))
            return
        with self.zone.session(user) as session:
            if client == "prc":
                options = {"destRescName": resource} if resource else {}
                session.data_objects.put(local, path, forceFlag=arguments.get("force", True), **options)
            else:
                from irods.parallel import Oper, io_main

                io_main(session, path, Oper.PUT, local, num_threads=arguments.get("threads", 3),
                        target_resource_name=resource or "")

    def _step_push(self, arguments):
        from omero_irods.client.push import push

        options = {key: value for key, value in arguments.items()
                   if key not in ("as", "dir", "files", "expect_error", "landing_zone")}
        source = self.scenario.resolve(arguments["dir"]) if "dir" in arguments else \
            [self.scenario.resolve(f) for f in arguments.get("files", [])]
        landing = arguments.get("landing_zone") or self.config["zones"][ZONE]["landing_zone"]
        with self.zone.session(arguments["as"]) as session:
            push(session, landing, source, **options)

    def _step_mkdir(self, arguments):
        self._icommand(arguments["as"], "imkdir", *((["-p"] if arguments.get("parents", True) else []) + [arguments["path"]]))

    def _step_replicate(self, arguments):
        self._icommand(arguments["as"], "irepl", "-R", arguments["resource"], arguments["path"])

    def _step_rename(self, arguments):
        self._icommand(arguments["as"], "imv", arguments["from"], arguments["to"])

    def _step_remove(self, arguments):
        self._icommand(arguments["as"], "irm", *((["-f"] if arguments.get("force") else []) + [arguments["path"]]))

    def _step_trim(self, arguments):
        self._icommand(arguments["as"], "itrim", "-N", "1", "-S", arguments["resource"], arguments["path"])

    def _step_phymv(self, arguments):
        argv = ["iphymv", "-R", arguments["resource"]]
        if arguments.get("source_resource"):
            argv += ["-S", arguments["source_resource"]]
        self._icommand(arguments["as"], *(argv + [arguments["path"]]))

    def _step_imeta(self, arguments):
        kind = "-C" if self._is_collection(arguments["path"]) else "-d"
        argv = ["imeta"] + (["-M"] if arguments.get("admin_mode") else []) + [
            arguments["operation"], kind, arguments["path"], arguments["attribute"], arguments["value"]]
        self._icommand(arguments["as"], *(argv + ([arguments["units"]] if arguments.get("units") else [])))

    def _step_ichmod(self, arguments):
        argv = ["ichmod"] + (["-r"] if arguments.get("recursive") else []) + (["-M"] if arguments.get("admin_mode") else [])
        level = arguments["level"]
        argv += [level, arguments["path"]] if level in ("inherit", "noinherit") else [level, arguments["user"],
                                                                                     arguments["path"]]
        self._icommand(arguments["as"], *argv)

    def _is_collection(self, path):
        with self.zone.session(ADMIN) as session:
            return session.collections.exists(path)

    def _step_config(self, _arguments):
        raise RuntimeError("the config step has no real-zone twin yet: the real runner installs the scenario's "
                           "config once")

    def _step_user_rule(self, _arguments):
        raise RuntimeError("the user_rule step has no real-zone twin yet")

    def _step_irule(self, arguments):
        """irule with the scenario's INPUT text as written (`*name` keys, values with their quotes)."""
        inputs = "%".join("%s=%s" % (name, value) for name, value in arguments.get("inputs", {}).items()) or "null"
        result = self.zone.icommand(arguments["as"], "irule", "-r", PYTHON_INSTANCE, arguments["rule"], inputs,
                                    "ruleExecOut", check=False)
        code, out, err = result.returncode, result.stdout, result.stderr
        self.irule_output.append({"rule": arguments["rule"], "as": arguments["as"], "code": code,
                                  "stdout": out, "stderr": err})
        if code != 0:
            raise IcommandError("irule", code, out + err)

    def _step_run_delay_queue(self, arguments):
        horizon = min(arguments.get("max_seconds", 86400), DELAY_WAIT_CAP) if arguments.get("until_idle") else 2
        deadline = time.monotonic() + DELAY_WAIT_CAP
        quiet_since = None
        while time.monotonic() < deadline:
            # A periodic rule is waited for once it is due (it may be running), not before.
            due = [rule for rule in self.scheduled() if rule["due_in"] <= horizon
                   and (rule["due_in"] <= 0 or not rule["name"].startswith(PERIODIC_RULES))]
            if due:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 3:  # nothing due and nothing running for 3 s
                return
            time.sleep(1)
        self.notes.append("run_delay_queue: rules still due after %ds" % DELAY_WAIT_CAP)

    def _step_purge_delay_queue(self, _arguments):
        """iqdel -a as the zone's rodsadmin."""
        self._icommand(ADMIN, "iqdel", "-a")

    def _step_fail_msi(self, arguments):
        raise RuntimeError("fail_msi is the sandbox's fault injection: a real zone has no twin of it")

    def _step_load(self, arguments):
        from omero_irods.client.push import request_load

        landing = self.config["zones"][ZONE]["landing_zone"]
        with self.zone.session(arguments["as"]) as session:
            request_load(session, landing, arguments["source"], arguments["omero_user"], arguments["omero_group"],
                         target=arguments.get("target"))

    def _step_advance_clock(self, text):
        from omero_irods_sandbox.scenario import clock_seconds

        seconds = clock_seconds(text)
        if seconds <= MAX_REAL_WAIT:
            time.sleep(seconds)
        else:
            self.notes.append("advance_clock %s: a real zone's clock cannot be moved" % text)

    def scheduled(self):
        """[{name, due_in}] of the delay queue (iqstat -la as rods)."""
        output = self.zone.icommand(ADMIN, "iqstat", "-a", "-l", check=False).stdout
        rules, now = [], time.time()
        for block in output.split("----"):
            name = re.search(r"^name:\s*(.*)$", block, re.M)
            exe_time = re.search(r"^time:\s*(\d+)", block, re.M)
            if name and exe_time:
                rules.append({"name": _rule_name(name.group(1)), "due_in": int(exe_time.group(1)) - now})
        return rules

    # ---- the dump ---------------------------------------------------------------------------
    def state(self):
        from omero_irods_sandbox.omero_importer import read_imports

        collections, data_objects = catalog_dump(self.zone)
        entries = self.zone.log_entries(self.log_start)
        peps, pep_points = [], []
        for entry in entries:
            message = entry.get("log_message", "")
            if message.startswith("writeLine: inString = " + TRACE_PREFIX):
                name = message.split()[-1]
                pep_points.append({"name": name, "path": None, "user": entry.get("request_client_user"),
                                   "rule": None, "result": None})
        log = ["writeLine: inString = " + line for line in self.zone.server_log_lines(self.log_start)
               if not line.startswith(TRACE_PREFIX)]
        return {"zone": ZONE, "collections": collections, "data_objects": data_objects, "peps": peps,
                "pep_points": pep_points, "client_errors": self.client_errors,
                "irule_output": self.irule_output, "imports": read_imports(install.import_log_path(self.zone)),
                "delay_queue": [{"rule_name": rule["name"]} for rule in self.scheduled()], "log": log,
                "_vault_roots": self.vault_roots(), "_notes": self.notes}


def _rule_name(text):
    match = re.search(r"omero_irods_\w+", text) or re.search(r"\w+", text)
    return match.group(0) if match else text.strip()


class IcommandError(Exception):
    def __init__(self, command, status, output):
        match = re.search(r"(-\d{3,})\s*([A-Z][A-Z0-9_]+)?", output)
        self.code = int(match.group(1)) if match else None
        self.error_name = match.group(2) if match and match.group(2) else None
        super().__init__("%s exited %d: %s" % (command, status, output.strip()[-500:]))


def client_error_entry(index, kind, error):
    code = getattr(error, "code", None)
    name = getattr(error, "error_name", None)
    if name is None and code is None:
        name = type(error).__name__
        code = getattr(type(error), "code", None)
    if name is None and isinstance(code, int):
        from omero_irods_sandbox.error_codes import name as error_name
        name = error_name(code)
    return {"step": index, "kind": kind, "code": code, "name": name, "message": str(error) or type(error).__name__}


def catalog_dump(zone):
    """collections and data_objects as the sandbox's dump has them, read as rods."""
    from irods.models import Collection, DataObject

    collections, data_objects = [], {}
    with zone.session(ADMIN) as session:
        for row in session.query(Collection.name, Collection.owner_name, Collection.inheritance):
            path = row[Collection.name]
            collection = session.collections.get(path)
            collections.append({"path": path, "owner": row[Collection.owner_name],
                                "inherit": str(row[Collection.inheritance]) == "1",
                                "acl": _acl(session, collection), "avus": _avus(collection)})
        query = session.query(Collection.name, DataObject.name, DataObject.size, DataObject.owner_name,
                              DataObject.checksum, DataObject.replica_number, DataObject.resource_name,
                              DataObject.path, DataObject.replica_status)
        for row in query:
            path = row[Collection.name] + "/" + row[DataObject.name]
            entry = data_objects.get(path)
            if entry is None:
                data_object = session.data_objects.get(path)
                entry = data_objects[path] = {"path": path, "size": int(row[DataObject.size]),
                                              "owner": row[DataObject.owner_name],
                                              "checksum": row[DataObject.checksum] or "",
                                              "acl": _acl(session, data_object), "avus": _avus(data_object),
                                              "replicas": []}
            entry["replicas"].append({"number": int(row[DataObject.replica_number]),
                                      "resource": row[DataObject.resource_name],
                                      "physical_path": row[DataObject.path], "size": int(row[DataObject.size]),
                                      "status": {"1": "good", "0": "stale"}.get(str(row[DataObject.replica_status]),
                                                                              str(row[DataObject.replica_status])),
                                      "checksum": row[DataObject.checksum] or ""})
    for entry in data_objects.values():
        entry["replicas"].sort(key=lambda replica: replica["number"])
    return (sorted(collections, key=lambda c: c["path"]),
            [data_objects[path] for path in sorted(data_objects)])


_LEVELS = {}  # python-irodsclient names levels as iRODS 4.3+ does (read_object, modify_object), as the sandbox


def _acl(session, target):
    entries = {}
    for access in session.acls.get(target):
        entries[access.user_name] = _LEVELS.get(access.access_name, access.access_name)
    return {name: entries[name] for name in sorted(entries)}


def _avus(target):
    return [[avu.name, avu.value, avu.units or ""] for avu in target.metadata.items()]


def run_many(scenarios, kit, base, python_dir, workers=3):
    """{name: (state, steps) or the exception} of each {name: scenario} on its own real zone,
    `workers` at a time (the zones' ports picked here, one by one, each with its own parallel-
    transfer range)."""
    from concurrent.futures import ThreadPoolExecutor

    from realzone.kit import parallel_range, pick_port

    ports, taken, folders = {}, set(), {}
    for name in scenarios:
        port = pick_port()
        while parallel_range(port)[0] in taken:
            port = pick_port()
        taken.add(parallel_range(port)[0])
        ports[name] = port
        folders[name] = zone_folder(name, set(folders.values()))

    def run(name):
        try:
            return run_real(scenarios[name], kit, base, python_dir, ports[name], folder=folders[name])
        except Exception as error:  # reported by the scenario's own test
            return error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(scenarios, pool.map(run, list(scenarios))))


def zone_folder(name, taken=()):
    """A short folder name for a scenario's zone. The kit's iRODS 5.0.2 never answered
    setup_irods.py's start check in /var/tmp/scen-tier2/scenario-sweep_requeues_a_lost_request
    (59 characters; 4 starts of 4) and always did in folders of up to 43 characters."""
    folder, number = "s-" + name[:8], 2
    while folder in taken:
        folder, number = "s-%s%d" % (name[:7], number), number + 1
    return folder


def run_real(scenario, kit, base, python_dir, port, folder=None):
    """(state, steps) of `scenario` on a new zone in base/`folder` (default: from its file name)."""
    folder = folder or zone_folder(os.path.splitext(os.path.basename(scenario.path))[0])
    workdir = os.path.join(base, folder)
    zone, run = _installed(scenario, kit, workdir, port, python_dir)
    try:
        run.execute()
        return run.state(), run.steps
    finally:
        if os.environ.get("OMERO_IRODS_KEEP_ZONE") != "1":
            zone.stop()


def _installed(scenario, kit, workdir, port, python_dir):
    """(zone, RealRun) installed as the scenario says; a zone that did not start is tried once
    more in a fresh folder."""
    for attempt in (1, 2):
        zone = RealZone(kit, workdir, port)
        run = RealRun(scenario, zone)
        try:
            run.install(python_dir)
            return zone, run
        except ZoneError:
            zone.stop()
            if attempt == 2:
                raise
            os.rename(workdir, workdir + ".failed-start")
        except BaseException:
            zone.stop()
            raise


def _with_map_path(config, origin):
    """The config with its user maps' paths where the scenario keeps them (read for OMERO's users)."""
    found = json.loads(json.dumps(config))
    for zone_config in (found.get("zones") or {}).values():
        map_config = zone_config.get("user_map") or {}
        if isinstance(map_config.get("file"), str):
            map_config["file"] = os.path.join(origin, map_config["file"])
    return found
