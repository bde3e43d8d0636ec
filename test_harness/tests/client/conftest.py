import pytest

from fake_irods import FakeSession

LANDING = "/tempZone/home/omero-svc/landing"


@pytest.fixture
def session():
    """The service account's session, with its landing zone provisioned."""
    fake = FakeSession()
    fake.collections.create(LANDING, recurse=True)
    return fake


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
