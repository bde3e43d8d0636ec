"""Scenarios: load and check a scenario file, then run it in a fresh emulated zone.

A scenario (described in docs/sandbox.md, schema in scenarios/scenario.schema.json) names a zone,
its users, the policy config under test and client steps. `load()` checks everything that
can be checked before running (JSON, schema, known users, files that exist) and raises
`ScenarioError` naming the file, the step index and the field. `run()` executes the steps
against a `clients.Server` and returns a `Result` whose `dump()` is the state dump.

A step that fails although it has no `expect_error` is an *unexpected failure*: the run goes
on (later steps may show the consequences), and `Result.unexpected` lists it.
"""

import base64
import glob
import hashlib
import json
import math
import os
import re
import shutil
import tempfile

import jsonschema

from omero_irods.names import CONFIG_PATH_ENV
from omero_irods_sandbox import dump as dump_module
from omero_irods_sandbox import omero_importer, omero_server, scenario_load
from omero_irods_sandbox.error_codes import IrodsError

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios",
                           "scenario.schema.json")
STEP_KINDS = ("put", "push", "load", "mkdir", "replicate", "rename", "remove", "trim", "phymv", "irule",
              "run_delay_queue", "advance_clock", "imeta", "ichmod", "user_rule", "config",
              "purge_delay_queue", "fail_msi")
#: Steps the harness itself performs (an admin's action or a change to the zone), not a client.
HARNESS_STEPS = ("run_delay_queue", "advance_clock", "config", "purge_delay_queue", "fail_msi")
DEFAULT_ZONE = "tempZone"
DEFAULT_RESOURCES = ("demoResc", "replResc")
_CLOCK_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _client_checksum(data, scheme):
    """What `iput -K` computes locally in the client environment's irods_default_hash_scheme
    (irods/irods lib/core/src/putUtil.cpp, lib/hasher: MD5 a bare hex digest, SHA256 'sha2:'
    + base64), or None without -K."""
    if scheme is None:
        return None
    if scheme == "MD5":
        return hashlib.md5(data).hexdigest()
    return "sha2:" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


class ScenarioError(Exception):
    """The scenario itself is wrong; the message names the file, step and field."""


def _schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def _pointer(path_elements):
    text = ""
    for element in path_elements:
        text += "[%d]" % element if isinstance(element, int) else ("." if text else "") + str(element)
    return text or "(top level)"


def _first_error(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    return errors[0] if errors else None


class Scenario(object):
    """A checked scenario: `data` (the JSON with defaults filled), `path`, `base_dir`."""

    def __init__(self, data, path):
        self.data = data
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path))

    @property
    def zone(self):
        return self.data.get("zone", DEFAULT_ZONE)

    @property
    def resources(self):
        return tuple(self.data.get("resources", DEFAULT_RESOURCES))

    @property
    def steps(self):
        """[(index, kind, arguments)]."""
        return [(index,) + next(iter(step.items())) for index, step in enumerate(self.data["steps"])]

    @property
    def server(self):
        """The scenario's `server` block with its defaults (catalog.ServerSettings)."""
        from omero_irods_sandbox.catalog import ServerSettings

        block = self.data.get("server", {})
        return ServerSettings(
            version=block.get("version", "4.3"),
            default_hash_scheme=block.get("default_hash_scheme", "SHA256"),
            match_hash_policy=block.get("match_hash_policy", "compatible"),
            delay_executors=block.get("number_of_concurrent_delay_rule_executors", 1))

    @property
    def import_mode(self):
        return self.data.get("omero", {}).get("import", "succeed")

    def resolve(self, relative):
        """A path named in the scenario, relative to the scenario file."""
        return os.path.normpath(os.path.join(self.base_dir, relative))

    def config(self):
        """The policy config under test (a dict; {} when the scenario names none)."""
        if "config_file" not in self.data:
            return dict(self.data.get("config", {}))
        config_path = self.resolve(self.data["config_file"])
        try:
            with open(config_path, encoding="utf-8") as handle:
                return json.load(handle)
        except ValueError as error:
            raise ScenarioError("%s: config_file %s is not JSON: %s" % (self.path, config_path, error)) from None


def load(path):
    """Read and check a scenario file; returns a Scenario or raises ScenarioError."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise ScenarioError("%s: cannot read the scenario: %s" % (path, error.strerror)) from None
    except ValueError as error:
        raise ScenarioError("%s: not valid JSON: %s" % (path, error)) from None
    check(data, path)
    return Scenario(data, path)


def check(data, path="<scenario>"):
    """Raise ScenarioError for the first problem in a scenario's JSON `data`."""
    schema = _schema()
    validator = jsonschema.Draft202012Validator(schema)
    error = _first_error(validator, data)
    if error is not None:
        raise ScenarioError("%s: %s: %s" % (path, _pointer(error.absolute_path), error.message))
    for index, step in enumerate(data["steps"]):
        _check_step(schema, index, step, path)
    _check_names(data, path)
    _check_files(data, path)


def _check_step(schema, index, step, path):
    kind, arguments = next(iter(step.items()))
    where = "%s: steps[%d]" % (path, index)
    if kind not in STEP_KINDS:
        raise ScenarioError("%s: unknown step %r (known steps: %s)" % (where, kind, ", ".join(STEP_KINDS)))
    step_schema = dict(schema["$defs"][kind], **{"$defs": schema["$defs"]})
    error = _first_error(jsonschema.Draft202012Validator(step_schema), arguments)
    if error is not None:
        field = _pointer([kind] + list(error.absolute_path))
        raise ScenarioError("%s.%s: %s" % (where, field, error.message))
    if kind == "put" and sum(key in arguments for key in ("file", "content", "size")) != 1:
        raise ScenarioError("%s.put: give exactly one of file, content, size" % where)
    if kind == "put" and "verify_checksum" in arguments and arguments.get("client") != "iput":
        raise ScenarioError("%s.put.verify_checksum: only the iput client is emulated with -K" % where)
    if kind == "fail_msi":
        from omero_irods_sandbox import error_codes
        try:
            error_codes.code(arguments["error"])
        except Exception:
            raise ScenarioError("%s.fail_msi.error: %r is not an iRODS error name" % (where, arguments["error"])) from None
    if kind == "ichmod" and arguments["level"] not in ("inherit", "noinherit") and "user" not in arguments:
        raise ScenarioError("%s.ichmod: level %s needs a user" % (where, arguments["level"]))


def _user_names(data):
    names = {"rods"}  # every zone starts with the rodsadmin rods (catalog.Zone)
    names.update(user["name"] for user in data.get("users", []))
    return names


def _check_names(data, path):
    users = _user_names(data)
    groups = {group for user in data.get("users", []) for group in user.get("groups", [])}
    clashes = sorted(users & groups)
    if clashes:
        raise ScenarioError("%s: users: %s is both a user and a group" % (path, clashes[0]))
    for index, name in enumerate(data.get("provision", [])):
        if name not in users:
            raise ScenarioError("%s: provision[%d]: unknown user %r (declare it in users)" % (path, index, name))
    resources = set(data.get("resources", DEFAULT_RESOURCES))
    for index, step in enumerate(data["steps"]):
        kind, arguments = next(iter(step.items()))
        if isinstance(arguments, dict):
            if arguments.get("as") is not None and arguments["as"] not in users:
                raise ScenarioError("%s: steps[%d].%s.as: unknown user %r (declare it in users)"
                                    % (path, index, kind, arguments["as"]))
            for field in ("resource", "source_resource"):
                if field in arguments and arguments[field] not in resources:
                    raise ScenarioError("%s: steps[%d].%s.%s: unknown resource %r (resources: %s)"
                                        % (path, index, kind, field, arguments[field], ", ".join(sorted(resources))))


def _check_files(data, path):
    base_dir = os.path.dirname(os.path.abspath(path))
    if "config_file" in data and not os.path.isfile(os.path.join(base_dir, data["config_file"])):
        raise ScenarioError("%s: config_file: no such file %s" % (path, os.path.join(base_dir, data["config_file"])))
    for index, step in enumerate(data["steps"]):
        kind, arguments = next(iter(step.items()))
        for field in ("file", "dir"):
            if kind == "config" and field == "file" and isinstance(arguments.get("file"), str) \
                    and len(arguments) == 1:
                if not os.path.isfile(os.path.join(base_dir, arguments["file"])):
                    raise ScenarioError("%s: steps[%d].config.file: no such file %s"
                                        % (path, index, os.path.join(base_dir, arguments["file"])))
                continue
            if isinstance(arguments, dict) and field in arguments:
                local = os.path.join(base_dir, arguments[field])
                exists = os.path.isfile(local) if field == "file" else os.path.isdir(local)
                if not exists:
                    raise ScenarioError("%s: steps[%d].%s.%s: no such %s %s"
                                        % (path, index, kind, field, "file" if field == "file" else "directory", local))


def clock_seconds(text):
    """'90s' -> 90, '5m' -> 300, '2h', '1d'."""
    match = re.match(r"^(\d+)([smhd])$", text)
    if not match:
        raise ScenarioError("advance_clock: %r is not a duration like 60s, 5m, 2h, 1d" % (text,))
    return int(match.group(1)) * _CLOCK_UNITS[match.group(2)]


# ---- running ---------------------------------------------------------------------------

def rules_dir(option=None):
    """The rules to load, any folder with a core.py (omero_irods.admin.rules_files.
    find_rules_dir: `option`, the checkout's rules/, or the installed copy)."""
    from omero_irods.admin.rules_files import EXAMPLE_CORE, find_rules_dir

    try:
        return find_rules_dir(option, required=EXAMPLE_CORE)
    except FileNotFoundError as error:
        raise ScenarioError("%s (pass --rules DIR)" % error) from None


class Result(object):
    """What a run left: `state` (the dump dict) and `unexpected` (messages; empty = all as said)."""

    def __init__(self, state, unexpected, scenario_path):
        self.state = state
        self.unexpected = unexpected
        self.scenario_path = scenario_path

    def report(self):
        """A few lines for the terminal."""
        state = self.state
        lines = ["scenario %s: %d PEPs/rules ran, %d data objects, %d imports, %d client errors"
                 % (self.scenario_path, len(state["peps"]), len(state["data_objects"]),
                    len(state["imports"]), len(state["client_errors"]))]
        lines += ["  step %s %s: %s %s" % (e["step"], e["kind"], e["name"] or "", e["message"])
                  for e in state["client_errors"]]
        return "\n".join(lines) + "\n"


def run(scenario, rules, workdir=None):
    """Run `scenario` (a Scenario) with the rules in `rules` (a dir holding core.py)."""
    temporary = workdir is None
    workdir = tempfile.mkdtemp(prefix="omero-irods-sandbox-") if temporary else os.path.abspath(workdir)
    try:
        zone_run = _ZoneRun(scenario, rules, workdir)
        zone_run.execute()
        return Result(zone_run.state(), zone_run.unexpected, scenario.path)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def generated_bytes(size, seed="omero-irods-sandbox"):
    """`size` deterministic pseudo-random bytes (sha256 in counter mode): same scenario, same data."""
    digest_size = hashlib.sha256().digest_size
    blocks = [hashlib.sha256(("%s:%d" % (seed, counter)).encode()).digest()
              for counter in range(-(-size // digest_size))]
    return b"".join(blocks)[:size]


class _ZoneRun(object):
    """One scenario run: the zone, its PREP runtime, its server, and what clients saw."""

    def __init__(self, scenario, rules, workdir):
        # imported here: the catalog and the PREP emulation are only needed to run
        from omero_irods_sandbox.catalog import Zone
        from omero_irods_sandbox.clients import Server
        from omero_irods_sandbox.prep.runtime import PrepRuntime

        self.scenario = scenario
        self.workdir = workdir
        self.client_dir = os.path.join(workdir, "client")
        self.import_log = os.path.join(workdir, "omero_imports.jsonl")
        os.makedirs(self.client_dir, exist_ok=True)
        self.config = scenario.config()
        etc_dir = self._install_rules(rules)
        resources = scenario.resources
        self.zone = Zone(scenario.zone, os.path.join(workdir, "zone"), resources=resources,
                         default_resource=resources[0], server=scenario.server)
        self._add_users()
        self.config_file = os.path.join(etc_dir, "omero_irods.json")
        self.runtime = PrepRuntime(self.zone, etc_dir, log=self.zone.server_log, environ={CONFIG_PATH_ENV: self.config_file})
        self.server = Server(self.zone, self.runtime)
        self.client_errors = []
        self.irule_output = []
        self.unexpected = []

    def _install_rules(self, rules):
        """/etc/irods of the zone: the rules' *.py and the policy config (omero_irods.json)."""
        etc_dir = os.path.join(self.workdir, "etc", "irods")
        os.makedirs(etc_dir, exist_ok=True)
        for source in sorted(glob.glob(os.path.join(rules, "*.py"))):
            shutil.copy(source, etc_dir)
        with open(os.path.join(etc_dir, "omero_irods.json"), "w", encoding="utf-8") as handle:
            json.dump(self._sandbox_config(), handle, indent=2, sort_keys=True)
        return etc_dir

    def _sandbox_config(self):
        """The config under test with the sandbox's importer in place of `omero`, and user map
        paths made absolute (they are relative to where the config came from)."""
        return self._installed_config(self.config, os.path.dirname(self.scenario.resolve(
            self.scenario.data["config_file"])) if "config_file" in self.scenario.data else self.scenario.base_dir)

    def _installed_config(self, config, origin):
        config = json.loads(json.dumps(config))
        if not config:
            return config
        for zone in (config.get("zones") or {}).values():
            user_map = zone.get("user_map") if isinstance(zone, dict) else None
            if isinstance(user_map, dict) and isinstance(user_map.get("file"), str):
                user_map["file"] = os.path.normpath(os.path.join(origin, user_map["file"]))
        importer = config.setdefault("omero_import", {})
        importer["command"] = omero_importer.command_prefix(
            self.import_log, omero_importer.mode_text(self.scenario.import_mode)) + ["import"]
        self._install_omero(config, importer)
        importer["transfer_command"] = importer["command"][:-1] + ["transfer"]
        # The detached importer's logs stay in the run's folder. The zone clock jumps to each
        # due rule at once while the importer runs in wall time: a check waits (wall time) for
        # the emulated importer to end, so a scenario does not depend on how fast it started.
        importer.setdefault("log_folder", os.path.join(self.workdir, "imports"))
        importer.setdefault("check_wait_seconds", 60)
        return config

    def _install_omero(self, config, importer):
        """The emulated OMERO server and the importer's login through it (omero_server.deploy)."""
        omero_server.install(os.path.join(self.workdir, "omero"), importer,
                             omero_server.directory(self.scenario.data, config))

    def _add_users(self):
        users = self.scenario.data.get("users", [])
        for group in sorted({g for user in users for g in user.get("groups", [])}):
            self.zone.add_group(group)
        for user in users:
            self.zone.add_user(user["name"], user.get("type", "rodsuser"))
            for group in user.get("groups", []):
                self.zone.add_to_group(group, user["name"])

    # ---- steps ----------------------------------------------------------------------
    def execute(self):
        for name in self.scenario.data.get("provision", []):
            self._client_step("provision", "provision", {}, lambda n=name: self._provision(n))
        for index, kind, arguments in self.scenario.steps:
            self.run_step(index, kind, arguments)

    def run_step(self, index, kind, arguments):
        """One step (also for tests that act between steps, e.g. an admin's irule)."""
        self.runtime.new_agent()  # every client step is a new connection
        if kind == "advance_clock":
            self._harness_step(index, kind, lambda: self.runtime.advance_clock(clock_seconds(arguments)))
        elif kind in HARNESS_STEPS:
            action = getattr(self, "_step_" + kind)
            self._harness_step(index, kind, lambda: action(arguments))
        else:
            action = getattr(self, "_step_" + kind)
            self._client_step(index, kind, arguments, lambda: action(arguments))

    def _step_run_delay_queue(self, arguments):
        """Run what is due; with until_idle, jump the clock to each next rule until the queue
        is empty or the next rule is more than max_seconds (default a day) away."""
        executors = arguments.get("executors", self.zone.server.delay_executors)
        self.runtime.run_due(executors=executors)
        if not arguments.get("until_idle"):
            return
        horizon = self.zone.clock.now() + arguments.get("max_seconds", 86400)
        while self.runtime.pending():
            next_time = min(rule["exe_time"] for rule in self.runtime.pending())
            if next_time > horizon:
                return
            self.runtime.advance_clock(max(0, next_time - self.zone.clock.now()))
            self.runtime.run_due(executors=executors)

    def _step_purge_delay_queue(self, _arguments):
        """iqdel -a by the rodsadmin."""
        self.runtime.delay_queue.purge()

    def _step_fail_msi(self, arguments):
        from omero_irods_sandbox import error_codes
        self.zone.fail_next_calls(arguments["name"], error_codes.code(arguments["error"]),
                                  arguments.get("times", 1))

    def _step_config(self, arguments):
        """The admin edits /etc/irods/omero_irods.json (read by every later rule call)."""
        if set(arguments) == {"file"} and isinstance(arguments["file"], str):
            source = self.scenario.resolve(arguments["file"])
            with open(source, encoding="utf-8") as handle:
                config, origin = json.load(handle), os.path.dirname(source)
        else:
            config, origin = arguments, self.scenario.base_dir
        self.config = config
        with open(self.config_file, "w", encoding="utf-8") as handle:
            json.dump(self._installed_config(config, origin), handle, indent=2, sort_keys=True)

    def _step_imeta(self, arguments):
        item_type = "-C" if self.zone.exists(arguments["path"]) == "collection" else "-d"
        self.server.mod_avu_metadata(arguments["as"], arguments["operation"], item_type, arguments["path"],
                                     arguments["attribute"], arguments["value"], arguments.get("units", ""),
                                     admin_mode=arguments.get("admin_mode", False))

    def _step_ichmod(self, arguments):
        self.server.mod_access_control(arguments["as"], arguments["level"], arguments.get("user", ""),
                                       arguments["path"], recursive=arguments.get("recursive", False),
                                       admin_mode=arguments.get("admin_mode", False))

    def _step_user_rule(self, arguments):
        """What a rodsuser can try without a Python irule (which needs an admin): a native-
        language `delay("<INST_NAME>python instance</INST_NAME>") { text }` through irule, so the
        text would run later in the delay server as that user (delayExec, prep/delay.py). The
        irule's own PEPs fire first (Server.exec_my_rule)."""
        from omero_irods.names import DEFAULT_PREP_INSTANCE

        user = arguments["as"]
        hints = arguments.get("hints", "<INST_NAME>%s</INST_NAME>" % DEFAULT_PREP_INSTANCE)

        def delay_it():
            rei = self.runtime.make_rei(user)
            try:
                self.runtime.schedule(hints, arguments["rule"], "", rei)
            except Exception as error:  # the msi's refusal is what irule prints
                code = getattr(error, "code", None)
                if code is None:
                    raise
                raise IrodsError(code, "delay refused: %s" % getattr(error, "message", error)) from None
            return 0

        self.server.exec_my_rule(user, 'delay("%s") { %s }' % (hints, arguments["rule"]), delay_it, "null")

    def _harness_step(self, index, kind, action):
        try:
            action()
        except Exception as error:  # the sandbox itself failed: say so, keep the dump
            self.unexpected.append("steps[%d].%s: %s: %s" % (index, kind, type(error).__name__, error))

    def _client_step(self, index, kind, arguments, action):
        """Run a client action; record what the client saw; compare with expect_error."""
        expected = arguments.get("expect_error")
        where = "%s.%s" % ("steps[%d]" % index if isinstance(index, int) else index, kind)
        try:
            action()
        except Exception as error:
            seen = _client_error_entry(index, kind, error)
            self.client_errors.append(seen)
            if expected is None or (expected is not True and expected != seen["name"]):
                self.unexpected.append("%s failed: %s%s" % (
                    where, seen["message"], "" if expected is None else " (expected %s)" % expected))
            return
        if expected is not None:
            self.unexpected.append("%s succeeded, but expect_error says %s"
                                   % (where, "it fails" if expected is True else expected))

    def _data(self, arguments):
        if "file" in arguments:
            with open(self.scenario.resolve(arguments["file"]), "rb") as handle:
                return handle.read()
        if "content" in arguments:
            return arguments["content"].encode("utf-8")
        return generated_bytes(arguments["size"], seed=arguments["to"])

    def _local_file(self, arguments, data):
        if "file" in arguments:
            return self.scenario.resolve(arguments["file"])
        local = os.path.join(self.client_dir, os.path.basename(arguments["to"]) or "data")
        with open(local, "wb") as handle:
            handle.write(data)
        return local

    def _session(self, user):
        from omero_irods_sandbox.prc_session import SandboxSession
        return SandboxSession(self.server, user)

    def _step_put(self, arguments):
        user, path, client = arguments["as"], arguments["to"], arguments.get("client", "prc")
        data = self._data(arguments)
        resource = arguments.get("resource")
        if client == "iput":
            self.server.data_obj_put(user, path, data, resource=resource, force=arguments.get("force", False),
                                     verify_checksum=_client_checksum(data, arguments.get("verify_checksum")))
            return
        local = self._local_file(arguments, data)
        options = {"destRescName": resource} if resource else {}
        session = self._session(user)
        if client == "prc":
            session.data_objects.put(local, path, forceFlag=arguments.get("force", True), **options)
        else:
            session.data_objects.parallel_put(local, path, num_threads=arguments.get("threads", 3),
                                              target_resource_name=resource or "")

    def _step_mkdir(self, arguments):
        self.server.coll_create(arguments["as"], arguments["path"], recurse=arguments.get("parents", True))

    def _step_replicate(self, arguments):
        self.server.data_obj_repl(arguments["as"], arguments["path"], arguments["resource"])

    def _step_rename(self, arguments):
        self.server.data_obj_rename(arguments["as"], arguments["from"], arguments["to"])

    def _step_remove(self, arguments):
        self.server.data_obj_unlink(arguments["as"], arguments["path"], force=arguments.get("force", False))

    def _step_trim(self, arguments):
        self.server.data_obj_trim(arguments["as"], arguments["path"], arguments["resource"])

    def _step_phymv(self, arguments):
        self.server.data_obj_phymv(arguments["as"], arguments["path"], arguments["resource"],
                                   source_resource=arguments.get("source_resource"))

    def _step_push(self, arguments):
        try:
            from omero_irods.client.push import push
        except ImportError as error:
            raise RuntimeError("push is not available in this installation (%s)" % error) from None
        options = {key: value for key, value in arguments.items()
                   if key not in ("as", "dir", "files", "expect_error", "landing_zone")}
        if "dir" in arguments:
            files_or_dir = self.scenario.resolve(arguments["dir"])
        else:
            files_or_dir = [self.scenario.resolve(f) for f in arguments.get("files", [])]
        landing_zone = arguments.get("landing_zone") or self._landing_zone()
        # a retry's wait passes on the zone clock instead of the wall clock
        options.setdefault("sleep", lambda seconds: self.runtime.advance_clock(int(math.ceil(seconds))))
        push(self._session(arguments["as"]), landing_zone, files_or_dir, **options)

    _step_load = scenario_load.step_load

    def _step_irule(self, arguments):
        """`irule -r <python instance> RULE '*x="v"' ruleExecOut`: the irule's PEPs fire
        (Server.exec_my_rule), then the plugin calls core's RULE with the INPUT variables in
        irods_rule_vars; stdout is what irule prints."""
        user = arguments["as"]
        text = "@external rule { %s }" % arguments["rule"]
        ran = []

        def run_rule():
            ran.append(self.runtime.exec_rule_text(text, arguments.get("inputs", {}), self.runtime.make_rei(user)))
            return 0

        try:
            self.server.exec_my_rule(user, text, run_rule)
        except IrodsError as refused:
            if ran:
                raise
            self.irule_output.append({"rule": arguments["rule"], "as": user, "code": refused.code,
                                      "stdout": "", "stderr": str(refused)})
            raise
        result, stdout, stderr = ran[0]
        self.irule_output.append({"rule": arguments["rule"], "as": user, "code": result.code,
                                  "stdout": stdout, "stderr": stderr})
        if result.code < 0:
            raise IrodsError(result.code, result.message or "irule %s failed" % arguments["rule"])

    def _landing_zone(self):
        zone = (self.config.get("zones") or {}).get(self.scenario.zone) or {}
        if "landing_zone" not in zone:
            raise RuntimeError("push: no landing_zone in the step and none in the config's zones.%s"
                               % self.scenario.zone)
        return zone["landing_zone"]

    def _provision(self, user):
        """What `omero-irods admin provision` does, applied as the zone's rodsadmin."""
        from omero_irods.config import read_config
        from omero_irods.provisioning import plan_zone_provisioning, provision_user

        zone_config = read_config(self.config_file).zone(self.scenario.zone)
        for operation in plan_zone_provisioning(zone_config):
            self._apply_provisioning(operation)
        provision_user(zone_config, user, self._apply_provisioning)

    def _apply_provisioning(self, operation):
        """As omero_irods.admin.prc_provisioner does it: a collection in a home is created
        by its owner (the admin acting as proxy), ACLs are set in admin mode."""
        from omero_irods.provisioning import home_owner

        admin = "rods"
        if operation.op == "create_collection":
            if self.zone.exists(operation.path) is None:
                owner = home_owner(operation.path)
                if owner:
                    self.zone.create_collection(owner, operation.path, parents=True)
                else:
                    self.zone.create_collection(admin, operation.path, parents=True, admin_mode=True)
        elif operation.op == "set_acl":
            self.zone.set_acl(admin, operation.path, operation.level, operation.user, admin_mode=True)
        elif operation.op == "set_inheritance":
            self.zone.set_inheritance(admin, operation.path, operation.inherit, admin_mode=True)
        else:
            raise RuntimeError("provision: unknown operation %r" % (operation.op,))

    # ---- the dump -------------------------------------------------------------------
    def state(self):
        state = dump_module.build(
            self.zone, peps=self.runtime.peps, client_errors=self.client_errors, irule_output=self.irule_output,
            imports=omero_importer.read_imports(self.import_log),
            delay_queue=self.runtime.pending(), log=self.runtime.log)
        state["pep_points"] = list(self.server.pep_points)
        return state


def _client_error_entry(index, kind, error):
    """{step, kind, code, name, message}: what the client saw (code None: not an iRODS error)."""
    code = getattr(error, "code", None)
    cause = error.__cause__
    if code is None and cause is not None:
        code = getattr(cause, "code", None)
    name = None
    if isinstance(code, int):
        from omero_irods_sandbox.error_codes import name as error_name
        name = error_name(code)
    return {"step": index, "kind": kind, "code": code, "name": name,
            "message": str(error) or type(error).__name__}
