"""`omero-irods admin enable-rule-engine`: server_config.json's rule engines put in the order
omero-irods needs (irods/irods_rule_engine_plugin_python README.md, "Configuration" and
"Default PEPs": the Python plugin above the native rule language and before the C++ default
policy engine), with a backup, idempotent, a diff on --dry-run, and nothing changed on bad input."""

import glob
import json
import os
import stat

import pytest

from omero_irods.cli import main

PYTHON = {"instance_name": "irods_rule_engine_plugin-python-instance",
          "plugin_name": "irods_rule_engine_plugin-python", "plugin_specific_configuration": {}}
NATIVE = {"instance_name": "irods_rule_engine_plugin-irods_rule_language-instance",
          "plugin_name": "irods_rule_engine_plugin-irods_rule_language",
          "plugin_specific_configuration": {"re_rulebase_set": ["site", "core"]}}
CPP_DEFAULT = {"instance_name": "irods_rule_engine_plugin-cpp_default_policy-instance",
               "plugin_name": "irods_rule_engine_plugin-cpp_default_policy", "plugin_specific_configuration": {}}
AUDIT = {"instance_name": "audit-instance", "plugin_name": "irods_rule_engine_plugin-audit_amqp"}


@pytest.fixture
def server_config(tmp_path):
    path = tmp_path / "server_config.json"
    path.write_text(json.dumps({"zone_name": "tempZone", "plugin_configuration": {
        "database": {"postgres": {"db_password": "secret"}}, "rule_engines": [NATIVE, AUDIT, CPP_DEFAULT]}}))
    path.chmod(0o600)
    return path


def _enable(server_config, *extra):
    return main(["admin", "enable-rule-engine", "--server-config", str(server_config)] + list(extra))


def _engines(path):
    return [e["instance_name"] for e in json.loads(path.read_text())["plugin_configuration"]["rule_engines"]]


def _backups(path):
    return sorted(glob.glob(str(path) + ".omero-irods-backup-*"))


def test_python_goes_first_the_sites_settings_and_secrets_stay_and_a_backup_is_kept(server_config, capsys):
    before = server_config.read_text()
    assert _enable(server_config) == 0
    assert _engines(server_config) == [PYTHON["instance_name"], NATIVE["instance_name"],
                                       CPP_DEFAULT["instance_name"], "audit-instance"]
    document = json.loads(server_config.read_text())
    assert document["plugin_configuration"]["rule_engines"][1] == NATIVE  # its own rulebase kept
    assert document["plugin_configuration"]["database"] == {"postgres": {"db_password": "secret"}}
    (backup,) = _backups(server_config)
    assert open(backup).read() == before
    for path in (str(server_config), backup):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    out = capsys.readouterr().out
    assert '+                "instance_name": "irods_rule_engine_plugin-python-instance",' in out
    assert "the previous file is %s" % backup in out


def test_running_it_again_changes_nothing_and_makes_no_backup(server_config, capsys):
    _enable(server_config)
    once, backups = server_config.read_text(), _backups(server_config)
    assert _enable(server_config) == 0
    assert server_config.read_text() == once and _backups(server_config) == backups
    assert "already in omero-irods' order; nothing changed" in capsys.readouterr().out


def test_dry_run_prints_the_diff_and_writes_nothing(server_config, capsys):
    before = server_config.read_text()
    assert _enable(server_config, "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.startswith("--- %s\n+++ %s (omero-irods)\n" % (server_config, server_config))
    assert "irods_rule_engine_plugin-python-instance" in out and "(dry run: " in out
    assert server_config.read_text() == before and _backups(server_config) == []


@pytest.mark.parametrize("content, complaint", [
    ("{not json", "not valid JSON"),
    ('{"zone_name": "tempZone"}', "plugin_configuration.rule_engines"),
    ('{"plugin_configuration": {"rule_engines": {}}}', "plugin_configuration.rule_engines"),
    # an MD5 zone cannot verify pushes: refused at install time (irods/irods rsFileChksum.cpp)
    ('{"default_hash_scheme": "MD5", "plugin_configuration": {"rule_engines": []}}', '"default_hash_scheme": "SHA256"'),
])
def test_a_malformed_server_config_is_named_and_left_alone(tmp_path, capsys, content, complaint):
    path = tmp_path / "server_config.json"
    path.write_text(content)
    assert _enable(path) == 1
    error = capsys.readouterr().err
    assert str(path) in error and complaint in error
    assert path.read_text() == content and _backups(path) == []


@pytest.mark.parametrize("stanzas, complaint", [
    ("{not json", "not valid JSON"),
    ('{"rule_engines": []}', 'expected {"plugin_configuration": {"rule_engines": [...]}}'),
    ('[{"plugin_name": "x"}]', 'rule engine 0: "instance_name" must be a non-empty string'),
    ("[]", "at least one rule engine stanza"),
    ('["text"]', 'rule engine 0: "instance_name"'),
])
def test_a_malformed_fragment_is_named_and_changes_nothing(server_config, tmp_path, capsys, stanzas, complaint):
    before = server_config.read_text()
    fragment = tmp_path / "stanzas.json"
    fragment.write_text(stanzas)
    assert _enable(server_config, "--stanzas", str(fragment)) == 1
    error = capsys.readouterr().err
    assert str(fragment) in error and complaint in error
    assert server_config.read_text() == before and _backups(server_config) == []


def test_a_missing_server_config_is_named(tmp_path, capsys):
    assert _enable(tmp_path / "absent.json") == 1
    assert "cannot read the server config" in capsys.readouterr().err
