"""The importer argv and the importer's answers.

Options: omero-py src/omero/plugins/import.py (login arguments, -T/--target, --transfer,
--output {ids,legacy,yaml}). Answers: ome/omero-blitz
src/main/java/ome/formats/importer/cli/LoggingImportMonitor.java (outputYamlResults,
outputImageOrPlateIds).
"""

import pytest

from omero_irods.config import ImportSettings
from omero_irods.errors import Transient
from omero_irods.omero_import import build_import_command, import_failure, parse_import_output

SETTINGS = ImportSettings(
    command=("/opt/omero/server/venv3/bin/omero", "import"),
    transfer="ln_s",
    server="omero.example.org",
    port=4064,
    sudo="root",
    extra_args=("--skip", "upgrade"),
    env={"OMERO_SESSIONDIR": "/var/lib/irods/.omero/sessions"},
    timeout_seconds=600,
)
VAULT = ["/var/lib/irods/Vault/home/alice/omero/ingest/2026-11-22/run1/a.tif"]


def test_argv_for_sudo_in_place_import_into_a_named_dataset():
    command = build_import_command(SETTINGS, "alice", "Lab of Imaging", VAULT, target="Dataset:name:run 1")
    assert command.argv == [
        "/opt/omero/server/venv3/bin/omero", "import",
        "-s", "omero.example.org", "-p", "4064",
        "--sudo", "root", "-u", "alice", "-g", "Lab of Imaging",
        "--transfer=ln_s",
        "-T", "Dataset:name:run 1",
        "--output=yaml",
        "--skip", "upgrade",
    ] + VAULT
    assert command.env == {"OMERO_SESSIONDIR": "/var/lib/irods/.omero/sessions"}
    assert command.timeout_seconds == 600


def test_argv_without_sudo_server_or_target():
    plain = SETTINGS._replace(server=None, port=None, sudo=None, extra_args=())
    argv = build_import_command(plain, "alice", "lab", VAULT, output="ids").argv
    assert argv == ["/opt/omero/server/venv3/bin/omero", "import", "-u", "alice", "-g", "lab",
                    "--transfer=ln_s", "--output=ids"] + VAULT


def test_hostile_names_stay_single_arguments():
    # No shell is involved: a name with spaces or ';' is one argv element, never a command.
    argv = build_import_command(SETTINGS, "al; rm -rf ~", "lab $(id)", VAULT).argv
    assert "al; rm -rf ~" in argv and "lab $(id)" in argv


@pytest.mark.parametrize("paths", [[], ["relative/a.tif"], ["-x"]])
def test_paths_must_be_given_and_absolute(paths):
    with pytest.raises(ValueError):
        build_import_command(SETTINGS, "alice", "lab", paths)


YAML_TWO_FILESETS = """---
- Fileset: 5
  Image: [7,8]
---
- Fileset: 6
  Plate: [3]
  Image: [9]
"""


def test_yaml_answer_gives_images_per_fileset():
    result = parse_import_output(YAML_TWO_FILESETS, "yaml")
    assert result.image_ids == (7, 8, 9)
    assert result.plate_ids == (3,)
    assert result.filesets[0] == {"Fileset": (5,), "Image": (7, 8)}
    assert result.ignored == ()


def test_yaml_answer_with_noise_keeps_results_and_reports_the_rest():
    result = parse_import_output("Using session abc\n" + YAML_TWO_FILESETS, "yaml")
    assert result.image_ids == (7, 8, 9)
    assert result.ignored == ("Using session abc",)


def test_empty_answer_means_nothing_was_imported():
    assert parse_import_output("", "yaml").image_ids == ()


def test_ids_answer():
    result = parse_import_output("Image:7,8\nPlate:3\n", "ids")
    assert result.image_ids == (7, 8) and result.plate_ids == (3,)


def test_unknown_output_style_is_refused():
    with pytest.raises(ValueError):
        parse_import_output("", "legacy")


def test_failed_run_becomes_a_transient_error_quoting_stderr():
    stderr = "line1\nline2\n\n" + "\n".join("detail %d" % i for i in range(10))
    error = import_failure(2, stderr)
    assert isinstance(error, Transient)
    assert "status 2" in error.message and "detail 9" in error.message and "line1" not in error.message
