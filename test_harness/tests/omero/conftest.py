"""OMERO-side tests: need omero-py (zeroc-ice 3.6.5; `make test-omero` builds that venv).

Without omero-py the folder is not collected at all; each test module is marked `omero`.
BlitzGateway is replaced by fake_gateway.FakeGateway (exactly the calls the code makes); iRODS
is the sandbox's SandboxSession, as in the client tests (helpers shared from ../client).
"""

import json
import os
import sys

import pytest

try:
    import omero.gateway  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "client"))

from sandbox_irods import LANDING, SandboxIrods  # noqa: E402


@pytest.fixture
def irods(tmp_path, monkeypatch):
    """The sandbox zone, reached through the real credentials code: a private environment
    file for the service account, and python-irodsclient's session swapped for the sandbox's."""
    from omero_irods.adapters import prc

    zone = SandboxIrods(tmp_path)
    auth = tmp_path / "irodsA"
    auth.write_text("scrambled")
    auth.chmod(0o600)
    env = tmp_path / "irods_environment.json"
    env.write_text(json.dumps({"irods_host": "irods", "irods_port": 1247,
                               "irods_user_name": "omero-svc", "irods_zone_name": "tempZone",
                               "irods_authentication_file": str(auth)}))
    monkeypatch.setenv("IRODS_ENVIRONMENT_FILE", str(env))
    monkeypatch.delenv("OMERO_IRODS_LANDING_ZONE", raising=False)
    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: zone.session)
    return zone


@pytest.fixture
def landing():
    return LANDING
