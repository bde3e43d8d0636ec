"""`omero-irods admin`: what an iRODS admin runs while deploying."""

import json
import os

import pytest

from omero_irods.cli import main

EXAMPLE = "irods_config/omero_irods.example.json"


def test_validate_config_accepts_the_shipped_example(capsys):
    assert main(["admin", "validate-config", "--config", EXAMPLE]) == 0
    assert "is valid" in capsys.readouterr().out


def test_validate_config_says_whether_integrity_marks_are_checked(tmp_path, capsys):
    config = json.loads(open(EXAMPLE, encoding="utf-8").read())
    zone_name = sorted(config["zones"])[0]
    assert main(["admin", "validate-config", "--config", EXAMPLE]) == 0
    assert "integrity marks: NOT checked" in capsys.readouterr().out
    key = tmp_path / "mark.key"
    key.write_text("k" * 64)
    key.chmod(0o600)
    config["zones"][zone_name]["integrity_key_file"] = str(key)
    user_map = config["zones"][zone_name]["user_map"]  # relative to the example's folder
    user_map["file"] = os.path.abspath(os.path.join(os.path.dirname(EXAMPLE), user_map["file"]))
    keyed = tmp_path / "omero_irods.json"
    keyed.write_text(json.dumps(config))
    assert main(["admin", "validate-config", "--config", str(keyed)]) == 0, capsys.readouterr().err
    assert "integrity marks: checked with the key in %s" % key in capsys.readouterr().out


def test_validate_config_names_the_file_and_field_of_a_mistake(tmp_path, capsys):
    bad = tmp_path / "omero_irods.json"
    bad.write_text(json.dumps({"schema": "omero-irods/config", "version": 1, "zones": {"z": {"landing_zone": 5}}}))
    assert main(["admin", "validate-config", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "/zones/z" in err


def test_validate_config_reports_a_missing_file(tmp_path, capsys):
    assert main(["admin", "validate-config", "--config", str(tmp_path / "absent.json")]) == 1
    assert "absent.json" in capsys.readouterr().err


def test_provision_dry_run_prints_the_plan_without_irods(capsys):
    assert main(["admin", "provision", "alice", "--config", EXAMPLE, "--dry-run"]) == 0
    plan = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"op": "set_acl", "path": "/tempZone/home/alice/omero", "user": "omero-svc", "level": "own"} in plan
    assert plan[-1] == {"op": "set_inheritance", "path": "/tempZone/home/alice/omero", "inherit": True}


def test_install_rules_never_overwrites_an_admins_core_py(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text("def acPostProcForPut(rule_args, callback, rei):\n    pass\n")
    assert main(["admin", "install-rules", "--etc", str(etc)]) == 0
    assert (etc / "core.py").read_text().startswith("def acPostProcForPut")
    assert (etc / "omero_irods_rules.py").read_text() == open("rules/omero_irods_rules.py").read()


def test_install_rules_keeps_the_previous_rules_module_when_updating(tmp_path, capsys):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "omero_irods_rules.py").write_text("# an older release\n")
    assert main(["admin", "install-rules", "--etc", str(etc)]) == 0
    assert (etc / "omero_irods_rules.py.omero-irods-previous").read_text() == "# an older release\n"
    assert "updated" in capsys.readouterr().out


def test_prc_provisioner_creates_homes_as_their_owner_and_grants_in_admin_mode():
    pytest.importorskip("irods")
    from omero_irods.admin.prc_provisioner import PrcProvisioner
    from omero_irods.provisioning import Operation

    calls = []

    class Session(object):
        def __init__(self, client_user):
            self.client_user = client_user
            self.collections = self
            self.acls = self

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def exists(self, path):
            return False

        def create(self, path, recurse=True):
            calls.append(("create", path, self.client_user))

        def set(self, access, admin=False):
            calls.append(("acl", access.path, access.user_name, access.access_name, admin))

    apply = PrcProvisioner(lambda client_user=None: Session(client_user))
    apply(Operation("create_collection", "/z/home/alice/omero", None, None, None))
    apply(Operation("set_acl", "/z/home/alice/omero", "omero-svc", "own", None))
    apply(Operation("set_inheritance", "/z/home/alice/omero", None, None, True))
    assert calls[0] == ("create", "/z/home/alice/omero", "alice")
    assert calls[1] == ("acl", "/z/home/alice/omero", "omero-svc", "own", True)
    assert calls[2][3] == "inherit" and calls[2][4] is True


def test_install_rules_tells_which_of_an_admins_peps_must_chain_to_ours(tmp_path, capsys):
    """A core.py defining one of omero_irods_rules.__all__ shadows ours or is shadowed."""
    from omero_irods.admin.rules_files import exported_names

    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text("from omero_irods_rules import *\n\n"
                                 "def pep_api_data_obj_open_pre(rule_args, callback, rei):\n    pass\n\n"
                                 "def acPostProcForPut(rule_args, callback, rei):\n    pass\n")
    assert main(["admin", "install-rules", "--etc", str(etc)]) == 0
    out = capsys.readouterr().out
    assert ("it defines acPostProcForPut, pep_api_data_obj_open_pre, which omero_irods_rules defines "
            "too: only the one defined last runs, so make it call the other") in out
    assert {"acPostProcForPut", "pep_api_data_obj_open_pre"} <= set(exported_names("rules/omero_irods_rules.py"))


def _environment(tmp_path, auth_mode):
    auth = tmp_path / "irodsA"
    auth.write_text("scrambled")
    auth.chmod(auth_mode)
    env = tmp_path / "irods_environment.json"
    env.write_text(json.dumps({"irods_host": "h", "irods_port": 1247, "irods_user_name": "rods",
                               "irods_zone_name": "tempZone", "irods_authentication_file": str(auth)}))
    return str(env)


def test_provision_with_unsafe_credentials_says_so_without_a_traceback(tmp_path, capsys):
    env = _environment(tmp_path, 0o644)
    assert main(["admin", "provision", "alice", "--config", EXAMPLE, "--irods-env", env]) == 1
    err = capsys.readouterr().err
    assert err.startswith("omero-irods admin provision: ") and "chmod 600" in err
    assert "Traceback" not in err


def test_an_irods_error_mid_provisioning_names_the_operation_and_what_was_done(tmp_path, monkeypatch, capsys):
    exception = pytest.importorskip("irods.exception")
    from omero_irods.admin import cli as admin_cli

    applied = []

    def apply(operation):
        if len(applied) == 1:
            raise exception.CAT_NO_ACCESS_PERMISSION("not a rodsadmin")
        applied.append(operation)

    monkeypatch.setattr(admin_cli, "_prc_provisioner", lambda env_file: apply)
    assert main(["admin", "provision", "alice", "--config", EXAMPLE]) == 1
    err = capsys.readouterr().err
    assert "failed: CAT_NO_ACCESS_PERMISSION" in err and "not a rodsadmin" in err
    assert "1 of" in err and "run the same command again" in err


def test_the_deploy_guide_lists_every_pep_and_rule_a_site_core_py_may_collide_with():
    from omero_irods.admin.rules_files import exported_names

    with open("docs/deploy.md", encoding="utf-8") as handle:
        guide = handle.read()
    missing = [name for name in exported_names("rules/omero_irods_rules.py") if "`%s`" % name not in guide]
    assert missing == []


def _example_zone():
    from omero_irods.config import read_config

    return next(iter(read_config(EXAMPLE).zones.values()))


def test_a_landing_zone_others_may_write_is_a_problem_that_names_the_fix():
    from omero_irods.provisioning import landing_zone_problems

    zone = _example_zone()
    service = zone.service_account
    fine = [(service, "rodsuser", "own"), ("rods", "rodsadmin", "own"), ("public", "rodsgroup", "read_object"),
            ("bob", "rodsuser", "modify_metadata")]
    assert landing_zone_problems(zone, fine, inherits=True) == []
    (problem,) = landing_zone_problems(zone, fine + [("lab", "rodsgroup", "modify_object")], inherits=True)
    assert "lab (modify_object)" in problem and "every request pushed there is rejected" in problem
    assert "ichmod -M noinherit %s" % zone.landing_zone in problem
    (problem,) = landing_zone_problems(zone, fine + [("bob", "rodsuser", "own")], inherits=False)
    assert "bob (own)" in problem and "only the service account %s may write there" % service in problem


def test_provision_fails_when_the_landing_zone_it_leaves_lets_others_write(monkeypatch, capsys):
    from omero_irods.admin import cli as admin_cli

    class Apply(object):
        def __call__(self, operation):
            pass

        def landing_problems(self, zone):
            return ["the landing zone %s gives bob (modify_object) write" % zone.landing_zone]

    monkeypatch.setattr(admin_cli, "_prc_provisioner", lambda env_file: Apply())
    assert main(["admin", "provision", "alice", "--config", EXAMPLE]) == 1
    assert "gives bob (modify_object) write" in capsys.readouterr().err
