"""The compose stack's own scripts and files, checked without Docker.

These run everywhere: they prove that what the stack deploys is what the project ships (the
merged policy config is one the policy accepts, the vault
sits at the same path in iRODS and OMERO) and that the docker tests skip cleanly.
"""

import json
import os
import re
import types

import pytest

import realstack_support
from realstack_support import COMPOSE_DIR, REPO_ROOT, load_pep_tracer

VAULT = "/data/irods/vault"


# ---------------------------------------------------------------- pep_trace_core.py


class _Callback(object):
    def __init__(self):
        self.lines = []

    def writeLine(self, target, text):  # noqa: N802  (the microservice's name)
        self.lines.append((target, text))


def _traced_core():
    core = types.ModuleType("omero_irods_traced_core")
    core.calls = []

    def acPostProcForPut(rule_args, callback, rei):  # noqa: N802
        core.calls.append(("acPostProcForPut", rule_args))
        return 5000000

    def omero_irods_process(rule_args, callback, rei):
        return "delayed rule"

    core.acPostProcForPut = acPostProcForPut
    core.omero_irods_process = omero_irods_process
    return core


def test_tracer_logs_the_pep_then_runs_the_deployed_rule():
    core = _traced_core()
    tracer = load_pep_tracer(core)
    callback = _Callback()
    assert tracer.acPostProcForPut(["arg"], callback, None) == 5000000
    assert callback.lines == [("serverLog", "omero_irods.pep_trace acPostProcForPut")]
    assert core.calls == [("acPostProcForPut", ["arg"])]


def test_tracer_passes_peps_omero_irods_does_not_define_on_to_the_next_engine():
    tracer = load_pep_tracer(_traced_core())
    callback = _Callback()
    # RULE_ENGINE_CONTINUE: core.re still runs (irods/irods server/re/include/irods/irods_re_plugin.hpp)
    assert tracer.pep_api_data_obj_put_pre([], callback, None) == 5000000
    assert callback.lines == [("serverLog", "omero_irods.pep_trace pep_api_data_obj_put_pre")]


def test_tracer_leaves_delayed_and_admin_rules_untouched():
    core = _traced_core()
    tracer = load_pep_tracer(core)
    assert tracer.omero_irods_process is core.omero_irods_process
    assert "omero_irods_process" not in tracer.TRACED_PEPS


# ---------------------------------------------------------------- compose files agree


def _read(*parts):
    with open(os.path.join(COMPOSE_DIR, *parts), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("answers", ["setup_irods.4.json", "setup_irods.5.json"])
def test_setup_answers_put_the_vault_where_compose_mounts_it(answers):
    document = json.loads(_read("irods", answers))
    assert document["default_resource_directory"] == VAULT
    assert document["server_config"]["catalog_provider_hosts"] == ["irods"]
    assert document["service_account_environment"]["irods_host"] == "irods"
    assert document["server_config"]["zone_name"] == realstack_support.ZONE


def test_irods_and_omero_mount_the_vault_at_the_same_path():
    compose = _read("docker-compose.yml")
    assert re.search(r"^    hostname: irods$", compose, re.M)
    mounts = re.findall(r"- irods-vault:(\S+)", compose)
    assert mounts == [VAULT, VAULT + ":ro"], "irods rw, omero-server read-only, at one path"
    assert len(re.findall(r"- omero-data:/OMERO$", compose, re.M)) == 2


def test_every_file_the_stack_uses_exists():
    compose = _read("docker-compose.yml")
    for local in re.findall(r"- \./(\S+?):", compose):
        assert os.path.isfile(os.path.join(COMPOSE_DIR, local)), local
    dockerfile = _read("irods", "Dockerfile")
    for sources in re.findall(r"^COPY ((?:[^\n]*\\\n)*[^\n]*)", dockerfile, re.M):
        for source in sources.replace("\\\n", " ").split()[:-1]:
            assert source == "." or os.path.exists(os.path.join(REPO_ROOT, source)), source


def _merged(base, overlay):
    """jq's `base * overlay`: objects merge recursively, anything else is replaced."""
    result = dict(base)
    for key, value in overlay.items():
        both_objects = isinstance(result.get(key), dict) and isinstance(value, dict)
        result[key] = _merged(result[key], value) if both_objects else value
    return result


def test_the_stacks_policy_config_is_one_the_policy_accepts(tmp_path):
    from omero_irods import config

    with open(os.path.join(REPO_ROOT, "irods_config", "omero_irods.example.json"), encoding="utf-8") as handle:
        example = json.load(handle)
    merged = _merged(example, json.loads(_read("irods", "omero_irods.compose.json")))
    for zone in merged["zones"].values():
        name = zone["user_map"]["file"]
        with open(os.path.join(REPO_ROOT, "irods_config", name), encoding="utf-8") as source:
            (tmp_path / name).write_text(source.read())
    (tmp_path / "omero_irods.json").write_text(json.dumps(merged))
    loaded = config.read_config(str(tmp_path / "omero_irods.json"))  # raises ConfigError if not
    assert loaded.omero_import.server == "omero-server"
    # the importer logs in as docs/deploy.md section 5a tells: the Sudo-only light admin's
    # credentials file, read by the session helper in OMERO's Python; no root, no password
    assert loaded.omero_import.login == {"credentials_file": "/etc/irods/omero_importer.json",
                                         "python": "/opt/omero/server/venv3/bin/python"}
    assert loaded.omero_import.sudo is None and "OMERO_PASSWORD" not in loaded.omero_import.env
    # The importer path of the example config is where the stack's image installs omero-py.
    assert loaded.omero_import.command[0] == "/opt/omero/server/venv3/bin/omero"
    assert "/opt/omero/server/venv3" in _read("irods", "Dockerfile")


# ---------------------------------------------------------------- the docker tests skip cleanly


def test_without_a_docker_command_the_reason_says_so(monkeypatch):
    monkeypatch.setattr(realstack_support.shutil, "which", lambda name: None)
    assert "no `docker` command" in realstack_support.docker_unavailable_reason()


def test_a_docker_client_without_an_engine_is_not_enough(monkeypatch):
    monkeypatch.setattr(realstack_support.shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setattr(realstack_support, "_run_quietly", lambda argv: realstack_support.subprocess.CompletedProcess(
        argv, 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"))
    reason = realstack_support.docker_unavailable_reason()
    assert "no Docker engine reachable" in reason and "Cannot connect" in reason


def test_the_stack_enables_the_rule_engine_with_the_installed_admin_command():
    """The stack deploys as docs/deploy.md says: `omero-irods admin enable-rule-engine`, no
    script of its own."""
    entrypoint = _read("irods", "entrypoint.sh")
    assert "omero-irods admin enable-rule-engine --server-config /etc/irods/server_config.json" in entrypoint
    assert not os.path.exists(os.path.join(COMPOSE_DIR, "irods", "add_rule_engine.py"))


# ---------------------------------------------------------------- the importer's OMERO account


def _deploy_guide_restrictions():
    with open(os.path.join(REPO_ROOT, "docs", "deploy.md"), encoding="utf-8") as handle:
        guide = handle.read()
    block = re.search(r"for privilege in ((?:[^\n]*\\\n)*[^\n]*?); do", guide).group(1)
    return block.replace("\\\n", " ").split()


def test_the_stack_creates_the_importer_as_the_deploy_guide_tells_a_sudo_only_light_admin():
    script = _read("omero", "init-users.sh")
    restricted = re.search(r'RESTRICTED="([^"]*)"', script).group(1).split()
    assert sorted(restricted) == sorted(_deploy_guide_restrictions())
    assert len(set(restricted)) == 14 and "Sudo" not in restricted
    assert re.search(r"user add --ignore-existing \"\$\{importer\}\" .* --admin -P", script)
    assert 'obj map-set "Experimenter:${importer_id}" config "AdminPrivilege:${privilege}" false' in script
    assert "-ne 14" in script  # the restrictions are counted back, as the guide's check does


def test_the_credentials_reach_the_service_account_alone():
    compose = _read("docker-compose.yml")
    entrypoint = _read("irods", "entrypoint.sh")
    script = _read("omero", "init-users.sh")
    assert "- omero-importer:/importer" in compose and "- omero-importer:/omero-importer:ro" in compose
    assert "umask 077" in script and "/importer/omero_importer.json" in script
    assert ("install -o irods -g irods -m 0600 /omero-importer/omero_importer.json /etc/irods/omero_importer.json"
            in entrypoint)
    overlay = json.loads(_read("irods", "omero_irods.compose.json"))["omero_import"]
    assert overlay["login"]["credentials_file"] == "/etc/irods/omero_importer.json"
    assert "omero-importer-test" not in json.dumps(overlay) and "ROOTPASS" not in json.dumps(overlay)
