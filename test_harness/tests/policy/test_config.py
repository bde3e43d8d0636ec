"""Policy config + user map loading: defaults, pointer-named errors, the change-aware cache,
and the shipped examples."""

import json
import os
import pathlib

import jsonschema
import pytest

from omero_irods import config as config_module
from omero_irods import names
from omero_irods.config import config_path, load_config, read_config
from omero_irods.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "irods_config"


def minimal_config(**zone_changes):
    zone = {
        "service_account": "omero-svc",
        "landing_zone": "/tempZone/home/omero-svc/landing",
        "allowed_roots": ["/tempZone/home"],
        "user_map": {"file": "map.json"},
    }
    zone.update(zone_changes)
    return {"schema": "omero-irods/config", "version": 1, "zones": {"tempZone": zone}}


USER_MAP = {"schema": "omero-irods/user-map", "version": 1, "users": {"alice": "alice"}}


def write(tmp_path, document, user_map=USER_MAP, name="omero_irods.json"):
    (tmp_path / "map.json").write_text(json.dumps(user_map))
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def config_error(path):
    with pytest.raises(ConfigError) as caught:
        read_config(path)
    return caught.value


def test_minimal_config_gets_documented_defaults(tmp_path):
    config = read_config(write(tmp_path, minimal_config()))
    zone = config.zone("tempZone")
    assert zone.user_root == "/{zone}/home/{irods_user}/omero"
    assert zone.placement_template == "{user_root}/{operation}/{date}/{name}"
    assert (zone.archive_mode, zone.on_collision) == ("extract", "suffix")
    assert zone.acl == config_module.AclPolicy("own", "read", "own")
    assert zone.user_map.users == {"alice": "alice"}
    assert config.delay_instance == names.DEFAULT_PREP_INSTANCE
    assert config.omero_import.transfer == "ln_s"
    assert config.omero_import.command == ("omero", "import")
    assert config.admin_mode is False
    assert config.archive_limits.max_path_length == 1024


def test_partial_sections_are_merged_with_defaults(tmp_path):
    document = minimal_config()
    document["limits"] = {"members": 10}
    document["omero_import"] = {"sudo": "root"}
    config = read_config(write(tmp_path, document))
    assert config.limits.members == 10 and config.limits.name_length == 255
    assert config.omero_import.sudo == "root" and config.omero_import.transfer == "ln_s"


def test_unknown_zone_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_config(write(tmp_path, minimal_config())).zone("otherZone")
    assert "otherZone" in caught.value.message and caught.value.pointer == "/zones"


def test_schema_error_names_file_and_pointer(tmp_path):
    path = write(tmp_path, minimal_config(on_collision="overwrite"))
    error = config_error(path)
    assert error.path == path
    assert error.pointer == "/zones/tempZone/on_collision"
    assert path in error.message and "overwrite" in error.message


def test_typo_in_a_field_name_is_caught(tmp_path):
    error = config_error(write(tmp_path, minimal_config(alowed_roots=["/x"])))
    assert error.pointer == "/zones/tempZone/alowed_roots"


def test_bad_json_and_missing_file_are_config_errors(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"schema": ')
    assert "not valid JSON" in config_error(str(path)).message
    missing = config_error(str(tmp_path / "absent.json"))
    assert "cannot be read" in missing.message


def test_unknown_template_field_is_named(tmp_path):
    error = config_error(write(tmp_path, minimal_config(placement_template="/{zone}/home/{password}/x")))
    assert error.pointer == "/zones/tempZone/placement_template"
    assert "{password}" in error.message


def test_template_attribute_access_is_refused(tmp_path):
    error = config_error(write(tmp_path, minimal_config(placement_template="/{zone.__class__}/x")))
    assert error.pointer == "/zones/tempZone/placement_template"


def test_template_that_climbs_is_refused(tmp_path):
    error = config_error(write(tmp_path, minimal_config(placement_template="/{zone}/home/../{name}")))
    assert "'..'" in error.message


def test_user_root_may_not_use_request_fields(tmp_path):
    error = config_error(write(tmp_path, minimal_config(user_root="/{zone}/home/{irods_user}/{request_id}")))
    assert error.pointer == "/zones/tempZone/user_root"


def test_user_map_errors_name_the_map_file(tmp_path):
    bad_map = dict(USER_MAP, users={"alice": "../rods"})
    path = write(tmp_path, minimal_config(), user_map=bad_map)
    error = config_error(path)
    assert error.path == str(tmp_path / "map.json")
    assert error.pointer == "/users/alice"


def test_nobody_may_be_mapped_to_the_service_account(tmp_path):
    path = write(tmp_path, minimal_config(), user_map=dict(USER_MAP, users={"mallory": "omero-svc"}))
    error = config_error(path)
    assert error.pointer == "/users/mallory" and "service account" in error.message
    same_name = minimal_config(user_map={"file": "map.json", "same_name": {"users": ["omero-svc"]}})
    error = config_error(write(tmp_path, same_name))
    assert error.pointer == "/zones/tempZone/user_map/same_name/users"


def test_same_name_has_no_wildcard(tmp_path):
    error = config_error(write(tmp_path, minimal_config(user_map={"file": "map.json", "same_name": {"users": ["*"]}})))
    assert error.pointer == "/zones/tempZone/user_map/same_name/users/0"


def test_config_path_honours_the_environment_variable():
    assert config_path({}) == names.CONFIG_PATH == "/etc/irods/omero_irods.json"
    assert config_path({names.CONFIG_PATH_ENV: "/tmp/x.json"}) == "/tmp/x.json"


def test_cache_rereads_only_when_a_file_changes(tmp_path, monkeypatch):
    path = write(tmp_path, minimal_config())
    reads = []
    real_read = config_module.read_config
    monkeypatch.setattr(config_module, "read_config", lambda p: reads.append(p) or real_read(p))
    first = load_config(path)
    assert load_config(path) is first and len(reads) == 1
    # A change to the user map alone is seen (size and mtime differ).
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps(dict(USER_MAP, users={"alice": "alice", "bob": "bob"})))
    os.utime(map_file, ns=(1, 1))
    assert load_config(path).zone("tempZone").user_map.users["bob"] == "bob"
    assert len(reads) == 2


def test_broken_edit_is_reported_not_masked_by_the_cache(tmp_path):
    path = write(tmp_path, minimal_config())
    load_config(path)
    pathlib.Path(path).write_text("{not json, and longer than before}")
    with pytest.raises(ConfigError):
        load_config(path)


def test_retry_policy_backs_off_and_stops():
    retry = config_module.RetryPolicy(attempts=4, backoff_seconds=30, factor=2, max_seconds=100, reprocess_poll_seconds=300)
    assert [retry.delay_after(n) for n in (1, 2, 3, 4)] == [30, 60, 100, None]


# --- the shipped examples -------------------------------------------------------------------


def test_example_config_and_user_map_load():
    config = read_config(str(EXAMPLES / "omero_irods.example.json"))
    zone = config.zone("tempZone")
    assert zone.user_map.users["bob.smith"] == "bsmith"
    assert config.omero_import.sudo is None
    assert config.omero_import.login == {"credentials_file": "/etc/irods/omero_importer.json",
                                         "python": "/opt/omero/server/venv3/bin/python"}


@pytest.mark.parametrize(
    "example, schema",
    [
        ("omero_irods.example.json", "config.v1.schema.json"),
        ("user_map.example.json", "user_map.v1.schema.json"),
    ],
)
def test_examples_validate_against_the_linked_schemas(example, schema):
    schema_document = json.loads((EXAMPLES / "schemas" / schema).read_text())
    jsonschema.Draft202012Validator(schema_document).validate(json.loads((EXAMPLES / example).read_text()))


def test_irods_config_schemas_are_links_to_the_package_schemas():
    for link in (EXAMPLES / "schemas").iterdir():
        assert link.is_symlink()
        assert link.resolve() == (REPO / "policy" / "omero_irods" / "schemas" / link.name).resolve()


def test_rule_engine_stanza_puts_python_first_with_the_configured_instance():
    # irods/irods_rule_engine_plugin_python README.md: a stanza above the native rule language
    # makes Python rules take precedence over same-named rules in the iRODS Rule Language.
    stanza = json.loads((EXAMPLES / "server_config.rule_engine.json").read_text())
    engines = stanza["plugin_configuration"]["rule_engines"]
    assert engines[0]["plugin_name"] == "irods_rule_engine_plugin-python"
    assert engines[0]["instance_name"] == names.DEFAULT_PREP_INSTANCE
    assert engines[1]["plugin_name"] == "irods_rule_engine_plugin-irods_rule_language"
    example = json.loads((EXAMPLES / "omero_irods.example.json").read_text())
    assert example["delay_instance"] == engines[0]["instance_name"]


@pytest.mark.parametrize("importer, pointer", [
    ({"login": {"credentials_file": "/etc/irods/c.json", "python": "/opt/omero/bin/python"}}, "/omero_import/server"),
    ({"server": "omero", "sudo": "root",
      "login": {"credentials_file": "/etc/irods/c.json", "python": "/opt/omero/bin/python"}}, "/omero_import/sudo"),
    ({"server": "omero", "login": {"credentials_file": "relative.json", "python": "/opt/omero/bin/python"}},
     "/omero_import/login"),
])
def test_an_importer_login_needs_a_server_excludes_sudo_and_absolute_paths(tmp_path, importer, pointer):
    document = json.loads((EXAMPLES / "omero_irods.example.json").read_text())
    document["omero_import"] = importer
    for zone in document["zones"].values():
        zone["user_map"]["file"] = str(EXAMPLES / zone["user_map"]["file"])
    path = tmp_path / "omero_irods.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as raised:
        read_config(str(path))
    assert pointer in str(raised.value)


def test_the_user_map_takes_omero_names_as_the_payload_does():
    # one pattern for both: a name the payload refuses (e.g. '--sudo') cannot be mapped either
    from omero_irods.payload import schema_validator

    def pattern(schema_file):
        return schema_validator(schema_file).schema["$defs"]["omero_name"]["pattern"]

    assert pattern("user_map.v1.schema.json") == pattern("payload.v1.schema.json")
