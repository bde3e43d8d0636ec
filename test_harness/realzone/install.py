"""omero-irods installed into a kit zone the way docs/deploy.md tells an admin to:

1. the package and jsonschema where the server's embedded Python (Debian's 3.11) imports
   them: `pip install --target DIR`, DIR given to the kit's `start-zone.sh --pythonpath`
   (server_config.json `environment_variables`, inherited by agents and the delay server);
2. the rule engine stanza merged into server_config.json (irods_config/
   server_config.rule_engine.json through `omero-irods admin enable-rule-engine`), a short
   delay-server sleep so delayed rules run within seconds, 4 concurrent executors (the
   default: concurrency is under test), $OMERO_IRODS_CONFIG naming the policy config;
3. `omero-irods admin install-rules --etc ETC` (into a zone without a core.py of its own);
4. the policy config and the user map beside it, checked by `omero-irods admin validate-config`;
5. the service account (a plain rodsuser) and the users, then `omero-irods admin provision`
   through python-irodsclient as rods.

The importer is the sandbox's emulated `omero import` (it records its argv and answers as the
real one does), run by the server's python3 from the same --target folder.
"""

import json
import os
import shutil
import subprocess
import sys

from realzone.kit import REPO_ROOT
from realzone.zone import ADMIN, PYTHON_INSTANCE, ZONE

SERVICE_ACCOUNT = "omero-svc"
LANDING_ZONE = "/%s/home/%s/landing" % (ZONE, SERVICE_ACCOUNT)
SERVER_PYTHON = "/usr/bin/python3"  # the interpreter the kit's Python rule engine embeds (3.11)
#: The tracing core.py the compose stack installs too (one file for both): it imports the
#: deployed core.py under this name.
TRACED_CORE = "omero_irods_traced_core"
TRACING_CORE_SOURCE = os.path.join(REPO_ROOT, "test_harness", "compose", "irods", "pep_trace_core.py")
DELAY_SLEEP_SECONDS = 1
DELAY_EXECUTORS = 4


def omero_irods_command():
    return [os.path.join(os.path.dirname(sys.executable), "omero-irods")]


def prepare_python_dir(target):
    """The package and its server-side dependency, for the server's Python 3.11."""
    if os.path.isfile(os.path.join(target, ".complete")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", target]
    _run(pip + ["--python-version", "3.11", "--only-binary=:all:", "jsonschema>=4.18"], "pip (jsonschema)")
    _run(pip + ["--no-deps", REPO_ROOT], "pip (omero-irods)")
    for folder, _dirs, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    open(os.path.join(target, ".complete"), "w").close()
    return target


def _run(argv, what, env=None):
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s %s" % (what, result.returncode, result.stdout[-3000:],
                                                           result.stderr[-3000:]))
    return result


def configure_server(zone, config_path):
    """The stanza, the delay server's pace and the config's path; takes effect at restart."""
    _run(omero_irods_command() + ["admin", "enable-rule-engine", "--server-config", zone.server_config_path],
         "omero-irods admin enable-rule-engine")

    def change(config):
        advanced = config.setdefault("advanced_settings", {})
        advanced["delay_server_sleep_time_in_seconds"] = DELAY_SLEEP_SECONDS
        advanced["number_of_concurrent_delay_rule_executors"] = DELAY_EXECUTORS
        config.setdefault("environment_variables", {})["OMERO_IRODS_CONFIG"] = config_path

    zone.edit_server_config(change)


def install_rules(zone, trace=True):
    """`omero-irods admin install-rules`; with `trace`, the deployed core.py is wrapped by
    pep_trace_core.py (each PEP writes `omero_irods.pep_trace NAME` to the serverLog)."""
    kit_placeholder = os.path.join(zone.etc, "core.py")
    if os.path.exists(kit_placeholder):
        os.remove(kit_placeholder)  # the kit's empty core.py: this zone has no rules of its own
    _run(omero_irods_command() + ["admin", "install-rules", "--etc", zone.etc], "omero-irods admin install-rules")
    if trace:
        os.rename(kit_placeholder, os.path.join(zone.etc, TRACED_CORE + ".py"))
        shutil.copy(TRACING_CORE_SOURCE, kit_placeholder)
    for name in os.listdir(zone.etc):
        if name.endswith(".py"):
            shutil.chown(os.path.join(zone.etc, name), "irods", "irods")


def base_config(import_log, import_mode="succeed", **zone_overrides):
    """The policy config of the tier: docs' example with a short retry and the emulated importer."""
    from omero_irods_sandbox import omero_importer

    zone = {"service_account": SERVICE_ACCOUNT, "landing_zone": LANDING_ZONE,
            "allowed_roots": ["/%s/home" % ZONE],
            "user_map": {"file": "omero_irods_user_map.json"}}
    zone.update(zone_overrides)
    command = omero_importer.command_prefix(import_log, import_mode, python=SERVER_PYTHON) + ["import"]
    return {"schema": "omero-irods/config", "version": 1, "zones": {ZONE: zone},
            "retry": {"attempts": 3, "backoff_seconds": 2, "factor": 1, "max_seconds": 4,
                      "reprocess_poll_seconds": 10},
            "omero_import": {"command": command, "timeout_seconds": 120, "check_seconds": 2,
                             "log_folder": import_log_folder(import_log)}}


def write_policy(zone, config, user_map):
    """The policy config and its user map into the zone's etc (owned by irods, 0640), checked."""
    config_path = os.path.join(zone.etc, "omero_irods.json")
    map_name = ((config.get("zones") or {}).get(ZONE, {}).get("user_map") or {}).get("file")
    if map_name and user_map is not None:
        _write_owned(os.path.join(zone.etc, map_name), user_map)
    _write_owned(config_path, config)
    _run(omero_irods_command() + ["admin", "validate-config", "--config", config_path],
         "omero-irods admin validate-config")
    return config_path


def _write_owned(path, document):
    # write next to it, then rename: the policy re-reads on (mtime, size) and never sees half
    temporary = path + ".new"
    with open(temporary, "w") as handle:
        json.dump(document, handle, indent=2)
    os.chmod(temporary, 0o640)
    shutil.chown(temporary, "irods", "irods")
    os.replace(temporary, path)


def provision(zone, config_path, users):
    environ = zone.client_environ(ADMIN)
    _run(omero_irods_command() + ["admin", "provision", "--config", config_path, "--irods-env",
                                  zone.env_file(ADMIN)] + list(users), "omero-irods admin provision", env=environ)


def import_log_path(zone):
    """The emulated importer's log: written by the server (user irods), read by the tests; and
    beside it the folder of the detached importers' output (omero_import.log_folder)."""
    path = os.path.join(zone.workdir, "omero_imports.jsonl")
    if not os.path.exists(path):
        open(path, "w").close()
        shutil.chown(path, "irods", "irods")
    folder = import_log_folder(path)
    if not os.path.isdir(folder):
        os.mkdir(folder, 0o700)
        shutil.chown(folder, "irods", "irods")
    return path


def import_log_folder(import_log):
    return os.path.join(os.path.dirname(import_log), "omero-import-logs")


def start_installed_zone(zone, python_dir, users, config=None, user_map=None, provisioned=(), trace=True):
    """A started zone with omero-irods installed, the users made, `provisioned` provisioned.

    `users`: [(name, type, [groups])]; the service account must be among them.
    """
    zone.start(pythonpath=python_dir)
    import_log = import_log_path(zone)
    config = config or base_config(import_log)
    config_path = os.path.join(zone.etc, "omero_irods.json")
    configure_server(zone, config_path)
    install_rules(zone, trace=trace)
    write_policy(zone, config, user_map)
    zone.restart()
    for name, kind, groups in users:
        zone.mkuser(name, kind, groups)
    if provisioned:
        provision(zone, config_path, provisioned)
    return config_path


def check_plugin_imports(zone):
    """The server's Python imports omero_irods and jsonschema (deploy.md step 10's check)."""
    rule = ("def main(rule_args, callback, rei):\n"
            "    import omero_irods, jsonschema\n"
            "    callback.writeLine('stdout', 'omero_irods ' + omero_irods.__version__ + ' jsonschema ' + jsonschema.__version__)\n"
            "INPUT null\nOUTPUT ruleExecOut\n")
    path = os.path.join(zone.workdir, "check.r")
    with open(path, "w") as handle:
        handle.write(rule)
    return zone.icommand(ADMIN, "irule", "-r", PYTHON_INSTANCE, "-F", path).stdout
