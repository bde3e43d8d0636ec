"""The real-server tier: tests against a real iRODS 5.0.2 zone started from the kit.

Tests that need a zone (the `tier` and `tier_setup` fixtures) run with `make test-irods` (OMERO_IRODS_TIER=1; `make test-irods-long` adds the long
runs with OMERO_IRODS_TIER=long) and skip otherwise, so a plain `pytest` never starts a server.
Without the kit (../shared/irods beside the checkout, or IRODS_KIT=DIR) or without root they
skip with that reason.

One zone serves the session (`tier`): started in a folder under /var/tmp, stopped by pid in a
finalizer whatever happens (the Makefile's trap stops it too if pytest itself dies); set
OMERO_IRODS_KEEP_ZONE=1 to leave it running for a look.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..", "..")))  # test_harness/realzone

from realzone import install, kit  # noqa: E402
from realzone.tier import Tier, tier_base_dir  # noqa: E402

TIER_ENV = "OMERO_IRODS_TIER"


def pytest_collection_modifyitems(config, items):
    mode = os.environ.get(TIER_ENV)
    for item in items:
        if not str(item.fspath).startswith(HERE):
            continue
        if not {"tier", "tier_setup"} & set(getattr(item, "fixturenames", ())):
            continue  # the tier's own helpers, tested without a server
        if not mode:
            item.add_marker(pytest.mark.skip(reason="the real-server tier runs with `make test-irods` (%s=1)" % TIER_ENV))
        elif item.get_closest_marker("irods_long") and mode != "long":
            item.add_marker(pytest.mark.skip(reason="long real-server run: `make test-irods-long`"))


def pytest_configure(config):
    config.addinivalue_line("markers", "irods_long: long or large real-server runs (make test-irods-long)")


@pytest.fixture(scope="session")
def tier_setup():
    """(kit, base folder, python folder) or skip with the reason."""
    kit_path, reason = kit.kit_dir()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("irods", reason="python-irodsclient is needed to talk to the real zone")
    base = tier_base_dir()
    python_dir = install.prepare_python_dir(os.path.join(base, "python"))
    return kit_path, base, python_dir


@pytest.fixture(scope="session")
def tier(request, tier_setup):
    kit_path, base, python_dir = tier_setup
    started = Tier.start(kit_path, base, kit.pick_port(), python_dir, name="zone")
    request.addfinalizer(lambda: _finish(started.zone))
    return started


def _finish(zone):
    if os.environ.get("OMERO_IRODS_KEEP_ZONE") == "1":
        print("\nreal zone kept at %s (port %d): bash %s/stop-zone.sh %s"
              % (zone.workdir, zone.port, zone.kit, zone.workdir))
        return
    zone.stop()


@pytest.fixture
def log_mark(tier):
    """The server log's size now: tests read only what came after."""
    return tier.zone.log_size()
