"""Fixtures: the real stack (test_harness/compose) for tests marked `docker`.

Tests marked `docker` need a running Docker engine with the compose v2 plugin; without one
they skip, saying which is missing (`docker info` must succeed: a client alone is not enough).
Collection never touches Docker, so `pytest -m 'not omero'` collects this folder anywhere.

The `stack` fixture brings the stack up once per session under its own compose project name,
with PEP tracing on and free local ports, and removes it (volumes too) afterwards; set
OMERO_IRODS_KEEP_STACK=1 to leave it running for a look, OMERO_IRODS_REALSTACK_IRODS=5 to test
iRODS 5.0.x instead of 4.3.x. The first build downloads packages and takes several minutes.
"""

import json
import os

import pytest

from realstack_support import SERVICE_ACCOUNT, SERVICE_PASSWORD, ZONE, Stack, docker_unavailable_reason


@pytest.fixture(scope="session")
def stack():
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    running = Stack()
    try:
        running.up()
        yield running
    finally:
        if os.environ.get("OMERO_IRODS_KEEP_STACK") != "1":
            running.down()


@pytest.fixture(scope="session")
def service_account_env(stack, tmp_path_factory):
    """irods_environment.json + .irodsA of the service account, as an OMERO host holds them."""
    pytest.importorskip("irods", reason="python-irodsclient is needed to talk to the real zone")
    from irods.password_obfuscation import encode

    folder = tmp_path_factory.mktemp("irods-env")
    env_file = folder / "irods_environment.json"
    auth_file = folder / ".irodsA"
    env_file.write_text(json.dumps({
        "irods_host": "127.0.0.1", "irods_port": stack.irods_port,
        "irods_user_name": SERVICE_ACCOUNT, "irods_zone_name": ZONE,
        "irods_authentication_file": str(auth_file),
    }))
    auth_file.write_text(encode(SERVICE_PASSWORD))
    os.chmod(str(auth_file), 0o600)
    return str(env_file), str(auth_file)
