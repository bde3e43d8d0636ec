"""Helpers for the real-stack tests: Docker detection, the compose stack, test data, scripts.

A module of its own (not conftest) so that tests import it by a name no other folder uses.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import types


REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
COMPOSE_DIR = os.path.join(REPO_ROOT, "test_harness", "compose")
PEP_TRACER_PATH = os.path.join(COMPOSE_DIR, "irods", "pep_trace_core.py")
PROJECT_NAME = "omero-irods-realstack-test"
ZONE = "tempZone"
SERVICE_ACCOUNT = "omero-svc"
SERVICE_PASSWORD = "omero-svc-realstack"
OMERO_ROOT_PASSWORD = "omero"  # ROOTPASS in docker-compose.yml
READY_TIMEOUT_SECONDS = int(os.environ.get("OMERO_IRODS_STACK_TIMEOUT", "2400"))


def load_script(path, name):
    """Import one of the compose folder's scripts as a module (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_pep_tracer(traced_core):
    """pep_trace_core.py imported the way the plugin would, over `traced_core` (a module).

    `irods_errors` is the plugin's built-in module; RULE_ENGINE_CONTINUE is 5000000
    (irods/irods lib/core/include/irods/rodsErrorTable.h; the plugin README's "return 5000000").
    """
    irods_errors = types.ModuleType("irods_errors")
    irods_errors.RULE_ENGINE_CONTINUE = 5000000
    saved = {name: sys.modules.get(name) for name in ("irods_errors", "omero_irods_traced_core")}
    sys.modules["irods_errors"] = irods_errors
    sys.modules["omero_irods_traced_core"] = traced_core
    try:
        return load_script(PEP_TRACER_PATH, "pep_trace_core_under_test")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write_pgm(path, width, height, seed):
    """A small 8-bit greyscale image in binary PGM (netpbm P5), which Bio-Formats reads."""
    pixels = bytes((x * 7 + y * 13 + seed) % 256 for y in range(height) for x in range(width))
    with open(path, "wb") as handle:
        handle.write(b"P5\n%d %d\n255\n" % (width, height))
        handle.write(pixels)


# ---------------------------------------------------------------- Docker


def docker_unavailable_reason():
    """None when a Docker engine and compose v2 answer, else why the docker tests skip."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    info = _run_quietly(["docker", "info"])
    if info.returncode != 0:
        detail = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return "no Docker engine reachable (`docker info` exited %d: %s)" % (info.returncode, detail)
    if _run_quietly(["docker", "compose", "version"]).returncode != 0:
        return "the Docker compose v2 plugin is missing (`docker compose version` failed)"
    return None


def _run_quietly(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess(argv, 1, "", str(error))


def _free_local_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack(object):
    """One compose project of test_harness/compose, driven through the docker CLI."""

    def __init__(self):
        self.irods_port = _free_local_port()
        self.omero_port = _free_local_port()
        files = ["docker-compose.yml"]
        if os.environ.get("OMERO_IRODS_REALSTACK_IRODS") == "5":
            files.append("docker-compose.irods5.yml")
        self.base = ["docker", "compose", "-p", PROJECT_NAME]
        for name in files:
            self.base += ["-f", os.path.join(COMPOSE_DIR, name)]
        self.env = dict(os.environ, IRODS_PORT=str(self.irods_port), OMERO_PORT=str(self.omero_port),
                        OMERO_SVC_PASSWORD=SERVICE_PASSWORD, OMERO_IRODS_PEP_TRACE="1")

    def compose(self, *args, check=True, timeout=None, input_text=None):
        result = subprocess.run(self.base + list(args), env=self.env, capture_output=True,
                                text=True, timeout=timeout, input=input_text)
        if check and result.returncode != 0:
            raise AssertionError("`docker compose %s` exited %d:\n%s\n%s" % (
                " ".join(args), result.returncode, result.stdout[-4000:], result.stderr[-4000:]))
        return result

    def exec_irods(self, script, env=(), input_text=None):
        """Run a bash script in the iRODS container as its service account (zone admin rods)."""
        env_args = []
        for name, value in env:
            env_args += ["-e", "%s=%s" % (name, value)]
        return self.compose("exec", "-T", "-u", "irods", *env_args, "irods", "bash", "-c", script,
                            input_text=input_text).stdout

    def logs(self, service):
        return self.compose("logs", "--no-color", "--no-log-prefix", service).stdout

    def up(self):
        self.compose("up", "-d", "--build", timeout=READY_TIMEOUT_SECONDS)
        self.wait_until_healthy("irods")

    def wait_until_healthy(self, service):
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            container = self.compose("ps", "-a", "-q", service).stdout.strip()
            state = _inspect(container) if container else {}
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if state.get("Status") == "exited" or time.monotonic() > deadline:
                raise AssertionError("service %s did not become healthy (state %s); its log ends:\n%s"
                                     % (service, state.get("Status"), self.logs(service)[-6000:]))
            time.sleep(5)

    def down(self):
        self.compose("down", "-v", "--remove-orphans", check=False, timeout=600)


def _inspect(container):
    result = _run_quietly(["docker", "inspect", "--format", "{{json .State}}", container])
    return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else {}
