"""config.allowed_roots: the guard's light read of one setting (no schema, no user maps)."""

import json
import os

import pytest

from omero_irods.config import allowed_roots
from omero_irods.errors import ConfigError


def _write(path, document):
    path.write_text(json.dumps(document))
    os.utime(str(path), None)


def test_roots_of_the_shipped_example():
    assert allowed_roots("tempZone", "irods_config/omero_irods.example.json") == ("/tempZone/home",)


def test_a_zone_not_in_the_config_has_no_roots(tmp_path):
    config = tmp_path / "c.json"
    _write(config, {"zones": {"tempZone": {"allowed_roots": ["/tempZone/home"]}}})
    assert allowed_roots("otherZone", str(config)) == ()


def test_a_changed_file_is_read_again(tmp_path):
    config = tmp_path / "c.json"
    _write(config, {"zones": {"z": {"allowed_roots": ["/z/home"]}}})
    assert allowed_roots("z", str(config)) == ("/z/home",)
    _write(config, {"zones": {"z": {"allowed_roots": ["/z/home", "/z/projects/imaging"]}}})
    assert allowed_roots("z", str(config)) == ("/z/home", "/z/projects/imaging")


@pytest.mark.parametrize("document, problem", [
    ({"zones": {"z": {"allowed_roots": ["relative/path"]}}}, "absolute paths"),
    ({"zones": {"z": {"allowed_roots": "/z/home"}}}, "absolute paths"),
])
def test_roots_that_are_not_absolute_paths_are_refused(tmp_path, document, problem):
    config = tmp_path / "c.json"
    _write(config, document)
    with pytest.raises(ConfigError) as raised:
        allowed_roots("z", str(config))
    assert problem in str(raised.value) and "/zones/z/allowed_roots" in str(raised.value)


def test_unreadable_and_broken_files_name_the_file(tmp_path):
    with pytest.raises(ConfigError) as missing:
        allowed_roots("z", str(tmp_path / "absent.json"))
    assert "absent.json" in str(missing.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{zones:")
    with pytest.raises(ConfigError) as invalid:
        allowed_roots("z", str(broken))
    assert "not valid JSON" in str(invalid.value)
