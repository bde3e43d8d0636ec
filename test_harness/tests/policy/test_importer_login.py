"""The importer's login (adapters.importer_login): the light admin's credentials file is read
only when private, its secret reaches the helper on stdin only (never argv or environment), the
session lives in a private folder named by OMERO_SESSIONDIR for the import alone, and it is
closed and removed whatever the import did. The helper itself, with real omero-py, is tested
in test_harness/tests/omero/test_importer_login_omero.py."""

import json
import os
import sys

import pytest

from omero_irods.adapters import importer_login
from omero_irods.errors import Transient
from omero_irods.omero_import import ImporterLogin

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers")


@pytest.fixture
def credentials(tmp_path):
    path = tmp_path / "omero_importer.json"
    path.write_text(json.dumps({"user": "importer", "password": "s3cret"}))
    path.chmod(0o600)
    return path


@pytest.fixture
def helper(tmp_path, monkeypatch):
    log = tmp_path / "helper.jsonl"
    monkeypatch.setattr(importer_login, "HELPER_MODULE", "fake_session_helper")
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": HELPERS, "FAKE_HELPER_LOG": str(log)}
    return log, environ


def _login(credentials):
    return ImporterLogin(str(credentials), sys.executable, "omero.example.org", 4064, "alice", "lab", 0, 600)


def _calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_secret_goes_to_the_helper_on_stdin_and_the_import_gets_only_the_session_folder(credentials, helper):
    log, environ = helper
    with importer_login.importer_session(_login(credentials), environ) as env:
        folder = env["OMERO_SESSIONDIR"]
        assert os.path.isfile(os.path.join(folder, "session"))
        assert "s3cret" not in json.dumps(env)
    opened, closed = _calls(log)
    assert opened["argv"] == ["open"] and closed["argv"] == ["close"]
    assert json.loads(opened["stdin"]) == {"server": "omero.example.org", "port": 4064, "admin": "importer",
                                           "password": "s3cret", "user": "alice", "group": "lab",
                                           "ttl_seconds": 0, "idle_seconds": 600}
    assert "s3cret" not in closed["stdin"] and not opened["env_has_password"]
    assert opened["folder"] == folder and opened["mode"] == 0o700
    assert not os.path.exists(folder)


def test_the_session_is_closed_and_removed_when_the_import_fails(credentials, helper):
    log, environ = helper
    with pytest.raises(RuntimeError):
        with importer_login.importer_session(_login(credentials), environ) as env:
            folder = env["OMERO_SESSIONDIR"]
            raise RuntimeError("importer crashed")
    assert [call["argv"] for call in _calls(log)] == [["open"], ["close"]]
    assert not os.path.exists(folder)


def test_a_refused_login_is_transient_and_names_omero_s_answer_not_the_secret(credentials, helper):
    log, environ = helper
    environ["FAKE_HELPER_FAIL"] = "open"
    with pytest.raises(Transient) as raised:
        with importer_login.importer_session(_login(credentials), environ):
            pytest.fail("the import must not run without a session")
    message = str(raised.value)
    assert "could not open the OMERO session of alice (group lab)" in message
    assert "SecurityViolation: not an admin" in message and "s3cret" not in message


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_credentials_file_others_can_read_is_refused_before_anything_runs(credentials, helper, mode):
    log, environ = helper
    credentials.chmod(mode)
    with pytest.raises(Transient) as raised:
        with importer_login.importer_session(_login(credentials), environ):
            pytest.fail("no import without private credentials")
    assert "chmod 600" in str(raised.value) and "s3cret" not in str(raised.value)
    assert not log.exists()


@pytest.mark.parametrize("content", ["", "not json", '{"user": "importer"}', '{"user": "", "password": "x"}',
                                     '["importer", "s3cret"]'])
def test_a_malformed_credentials_file_is_named_without_its_content(credentials, content):
    credentials.write_text(content)
    with pytest.raises(Transient) as raised:
        importer_login.read_credentials(str(credentials))
    assert str(credentials) in str(raised.value) and "s3cret" not in str(raised.value)


def test_a_symlinked_or_missing_credentials_file_is_refused(credentials, tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(credentials)
    for path in (link, tmp_path / "missing.json"):
        with pytest.raises(Transient):
            importer_login.read_credentials(str(path))


def test_without_a_login_the_environment_is_passed_on_as_it_is():
    environ = {"PATH": "/usr/bin"}
    with importer_login.importer_session(None, environ) as env:
        assert env is environ
