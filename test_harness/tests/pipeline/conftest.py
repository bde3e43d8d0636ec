"""Fixtures of the pipeline tests; the helpers they use live in pipeline_support.py (a name
no other test folder has, so `from pipeline_support import ...` is never another conftest)."""

import os

import pytest

import pipeline_support
from pipeline_support import LiveZone

#: Every pipeline test runs on both server versions the sandbox emulates (docs/sandbox.md,
#: "Server versions"); the suites where concurrency matters also run with the delay server's
#: default of 4 executors (irods/irods server/delay_server/src/irodsDelayServer.cpp,
#: number_of_concurrent_delay_rule_executors), interleaving at every microservice call.
VERSIONS = ("4.3", "5.0")
CONCURRENT_SUITES = ("test_duplicates", "test_failures_and_admin", "test_admin_rules_irule",
                     "test_lost_requests", "test_import_exactly_once")
CONCURRENT_EXECUTORS = 4
#: OMERO_IRODS_VARIANTS=5.0 (ids, comma separated) keeps only those variants: `make test-py39`
#: runs the suites once, on 5.0, to prove the policy on Python 3.9 without tripling its time.
ONLY = [v for v in os.environ.get("OMERO_IRODS_VARIANTS", "").split(",") if v]


def pytest_generate_tests(metafunc):
    if "zone_variant" not in metafunc.fixturenames:
        return
    # a module may run on fewer versions (SERVER_VERSIONS): a costly test whose subject is the same on both
    versions = getattr(metafunc.module, "SERVER_VERSIONS", VERSIONS)
    variants = [pytest.param({"version": version}, id=version) for version in versions]
    if metafunc.module.__name__.rsplit(".", 1)[-1] in CONCURRENT_SUITES:
        variants.append(pytest.param({"version": "5.0",
                                      "number_of_concurrent_delay_rule_executors": CONCURRENT_EXECUTORS},
                                     id="5.0-x%d" % CONCURRENT_EXECUTORS))
    metafunc.parametrize("zone_variant", [v for v in variants if not ONLY or v.id in ONLY], indirect=True)


@pytest.fixture(autouse=True)
def zone_variant(request):
    """The emulated server of this test's zones (pipeline_support.SERVER)."""
    variant = getattr(request, "param", {})
    pipeline_support.SERVER = dict(variant)
    yield variant
    pipeline_support.SERVER = {}


@pytest.fixture
def run_scenario(tmp_path):
    """Run a scenario dict in the sandbox with the real rules/; returns the dump.

    Every client step must succeed (puts never fail for omero-irods' reasons)."""

    def run(data):
        return LiveZone(tmp_path, data).state()

    return run


@pytest.fixture
def live_zone(tmp_path):
    """LiveZone(data): a run that the test continues step by step."""
    return lambda data: LiveZone(tmp_path, data)
