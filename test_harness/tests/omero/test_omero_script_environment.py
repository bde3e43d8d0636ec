"""An OMERO.script finds the service account and the landing zone through HOME alone.

omero-py's processor builds each script's environment from a fixed allow list (omero-py
src/omero/processor.py ProcessI.make_env: HOME, PATH, PYTHONPATH, LANG...), so variables set
for the OMERO server ($IRODS_ENVIRONMENT_FILE, $OMERO_IRODS_LANDING_ZONE) never reach it.
"""

import json
import subprocess
import sys
import types

import pytest

pytest.importorskip("omero.processor")

pytestmark = pytest.mark.omero

RESOLVE = ("import json; from omero_irods.client import credentials; "
           "print(json.dumps(credentials.service_account()._asdict()))")


def script_environment(tmp_path, monkeypatch, home):
    """What the real ProcessI.make_env hands a script, from a server environment that sets
    the variables a script does not get."""
    import omero.processor
    from omero_ext.path import path

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("IRODS_ENVIRONMENT_FILE", str(tmp_path / "server-only" / "irods_environment.json"))
    monkeypatch.setenv("OMERO_IRODS_LANDING_ZONE", "/tempZone/server-only/landing")
    omero_home = tmp_path / "OMERO.server"
    (omero_home / "lib" / "server").mkdir(parents=True)
    process = types.SimpleNamespace(omero_home=path(str(omero_home)), config_path=path(str(tmp_path / "config")))
    omero.processor.ProcessI.make_env(process)
    return process.env()


def test_a_script_resolves_the_service_account_and_landing_zone_from_home(tmp_path, monkeypatch):
    home = tmp_path / "omero-server-home"
    irods_dir = home / ".irods"
    irods_dir.mkdir(parents=True)
    (irods_dir / ".irodsA").write_text("scrambled")
    (irods_dir / ".irodsA").chmod(0o600)
    (irods_dir / "irods_environment.json").write_text(json.dumps({
        "irods_host": "irods", "irods_port": 1247, "irods_user_name": "omero-svc",
        "irods_zone_name": "tempZone", "omero_irods_landing_zone": "/tempZone/omero/landing"}))
    env = script_environment(tmp_path, monkeypatch, home)
    assert env["HOME"] == str(home)
    assert "IRODS_ENVIRONMENT_FILE" not in env and "OMERO_IRODS_LANDING_ZONE" not in env

    done = subprocess.run([sys.executable, "-c", RESOLVE], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"env_path": str(irods_dir / "irods_environment.json"),
                                       "landing_zone": "/tempZone/omero/landing",
                                       "mark_key": None}  # no integrity key named: payloads go unmarked


def test_a_script_without_a_home_environment_file_is_told_where_to_put_it(tmp_path, monkeypatch):
    env = script_environment(tmp_path, monkeypatch, tmp_path / "empty-home")
    done = subprocess.run([sys.executable, "-c", RESOLVE], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert ("%s: iRODS environment file not found" % (tmp_path / "empty-home" / ".irods" / "irods_environment.json")
            in done.stderr)
    assert "the OMERO.scripts read only ~/.irods/irods_environment.json" in done.stderr
