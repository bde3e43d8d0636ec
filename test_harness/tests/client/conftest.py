"""Client tests run against the sandbox's python-irodsclient-shaped SandboxSession."""

import pytest

from sandbox_irods import LANDING, SandboxIrods


@pytest.fixture
def irods(tmp_path):
    return SandboxIrods(tmp_path)


@pytest.fixture
def session(irods):
    return irods.session


@pytest.fixture
def landing():
    return LANDING


@pytest.fixture
def run_dir(tmp_path):
    """An instrument's run folder: two files in a sub-folder and one at the top."""
    run = tmp_path / "run1"
    (run / "plate").mkdir(parents=True)
    (run / "plate" / "A1.tif").write_bytes(b"A1" * 1000)
    (run / "plate" / "B2.tif").write_bytes(b"")
    (run / "notes.txt").write_text("exposure 10 ms\n")
    return run
