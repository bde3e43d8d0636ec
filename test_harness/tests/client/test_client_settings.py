"""Where requests go: the landing zone, from an option, $OMERO_IRODS_LANDING_ZONE, or the
service account's irods_environment.json (the only place the OMERO.scripts can read: omero-py
src/omero/processor.py ProcessI.make_env passes them HOME, PATH, PYTHONPATH... only)."""

import json

import pytest

from omero_irods.client import credentials, settings
from omero_irods.client.settings import SettingsError

ENV = {"irods_host": "irods.example.org", "irods_port": 1247, "irods_user_name": "omero-svc",
       "irods_zone_name": "tempZone"}


@pytest.fixture
def no_env_variables(monkeypatch):
    for name in ("IRODS_ENVIRONMENT_FILE", "IRODS_AUTHENTICATION_FILE", settings.LANDING_ZONE_ENV):
        monkeypatch.delenv(name, raising=False)


def test_the_order_is_option_then_variable_then_environment_file_then_default(no_env_variables, monkeypatch):
    env = {settings.LANDING_ZONE_KEY: "/tempZone/omero/from-file"}
    assert settings.landing_zone("tempZone", "omero-svc") == "/tempZone/home/omero-svc/landing"
    assert settings.landing_zone("tempZone", "omero-svc", env=env) == "/tempZone/omero/from-file"
    monkeypatch.setenv(settings.LANDING_ZONE_ENV, "/tempZone/omero/from-variable")
    assert settings.landing_zone("tempZone", "omero-svc", env=env) == "/tempZone/omero/from-variable"
    assert settings.landing_zone("tempZone", "omero-svc", "/tempZone/x/", env=env) == "/tempZone/x"


@pytest.mark.parametrize("value", ["relative/landing", "/tempZone/../etc", "/tempZone//x", 5])
def test_a_bad_landing_zone_in_the_environment_file_is_named_with_its_file(no_env_variables, value):
    with pytest.raises(SettingsError) as raised:
        settings.landing_zone("tempZone", "omero-svc", env={settings.LANDING_ZONE_KEY: value},
                              env_path="/home/omero/.irods/irods_environment.json")
    assert "(from omero_irods_landing_zone in /home/omero/.irods/irods_environment.json)" in str(raised.value)


def test_with_only_HOME_the_service_account_and_landing_zone_come_from_home(no_env_variables, tmp_path, monkeypatch):
    """What an OMERO.script process sees: HOME, no IRODS_* or OMERO_IRODS_* variables."""
    irods_dir = tmp_path / ".irods"
    irods_dir.mkdir()
    (irods_dir / ".irodsA").write_text("scrambled")
    (irods_dir / ".irodsA").chmod(0o600)
    (irods_dir / "irods_environment.json").write_text(json.dumps(
        dict(ENV, omero_irods_landing_zone="/tempZone/omero/landing")))
    monkeypatch.setenv("HOME", str(tmp_path))
    account = credentials.service_account()
    assert account == credentials.ServiceAccount(str(irods_dir / "irods_environment.json"),
                                                 "/tempZone/omero/landing")


def test_python_irodsclient_accepts_an_environment_file_with_the_landing_zone_key(tmp_path):
    """PRC keeps unknown keys as attributes of its account (irods/account.py iRODSAccount)."""
    session_module = pytest.importorskip("irods.session")
    auth = tmp_path / "irodsA"
    auth.write_text(pytest.importorskip("irods.password_obfuscation").encode("s3cret"))
    env_file = tmp_path / "irods_environment.json"
    env_file.write_text(json.dumps(dict(ENV, irods_authentication_file=str(auth),
                                        omero_irods_landing_zone="/tempZone/omero/landing")))
    session = session_module.iRODSSession(irods_env_file=str(env_file))
    try:
        assert (session.username, session.pool.account.password) == ("omero-svc", "s3cret")
    finally:
        session.cleanup()
