"""Fixtures of the pipeline tests; the helpers they use live in pipeline_support.py (a name
no other test folder has, so `from pipeline_support import ...` is never another conftest)."""

import pytest

from pipeline_support import LiveZone


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
