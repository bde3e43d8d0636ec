"""The emulated `omero import`.

Sources: ome/omero-py src/omero/plugins/import.py (options), ome/omero-documentation
omero/users/cli/import-target.rst (-T forms), ome/openmicroscopy
components/blitz/src/ome/formats/importer/cli/LoggingImportMonitor.java (--output yaml / ids
answers, the summary) and CommandLineImporter.java (exit 0 / 2, "No imports found" + exit 1).
"""

import io
import json
import subprocess
import sys

import pytest

from omero_irods_sandbox import omero_importer


def _run(tmp_path, args, mode="succeed"):
    out, err = io.StringIO(), io.StringIO()
    log = tmp_path / "imports.jsonl"
    code = omero_importer.main(["--sandbox-log", str(log), "--sandbox-mode", mode, "import"] + args,
                               out=out, err=err)
    return code, out.getvalue(), err.getvalue(), omero_importer.read_imports(str(log))


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "vault" / "a.tif"
    path.parent.mkdir()
    path.write_bytes(b"II*\0")
    return str(path)


def test_yaml_answer_has_fileset_and_image_ids(tmp_path, image):
    code, out, err, calls = _run(tmp_path, ["--transfer=ln_s", "--output", "yaml", "-T",
                                            "Dataset:name:run1", image])
    assert code == 0
    assert out == "---\n- Fileset: 1\n  Image: [1]\n"
    assert "Imported objects:" in err and "1 image imported, 0 errors" in err
    assert calls[0]["argv"][-1] == image and calls[0]["images"] == [1]


def test_ids_answer_is_the_default_and_ids_never_repeat(tmp_path, image):
    _run(tmp_path, [image])
    code, out, _, calls = _run(tmp_path, ["--output", "ids", image, image])
    assert code == 0 and out == "Image:2\nImage:3\n"
    assert [call["images"] for call in calls] == [[1], [2, 3]]


def test_missing_file_fails_with_exit_1_and_names_the_file(tmp_path):
    missing = str(tmp_path / "nowhere.tif")
    code, out, err, calls = _run(tmp_path, ["--transfer=ln_s", missing])
    assert code == 1 and out == ""
    assert missing in err and "No imports found" in err
    assert calls[0]["missing"] == [missing]


def test_fail_mode_exits_2_with_an_error_summary(tmp_path, image):
    code, out, err, _ = _run(tmp_path, [image], mode="fail")
    assert code == 2 and out == ""
    assert "0 images imported, 1 error" in err


def test_fail_times_fails_the_first_calls_then_succeeds(tmp_path, image):
    codes = [_run(tmp_path, [image], mode="fail_times:2")[0] for _ in range(3)]
    assert codes == [2, 2, 0]


def test_bad_target_is_a_usage_error(tmp_path, image):
    with pytest.raises(SystemExit) as caught:
        _run(tmp_path, ["-T", "Dataset:abc", image])  # the id discriminator needs a number
    assert caught.value.code == 2


def test_unknown_option_is_a_usage_error(tmp_path, image):
    with pytest.raises(SystemExit) as caught:
        _run(tmp_path, ["--no-such-option", image])
    assert caught.value.code == 2


def test_sudo_user_group_options_are_recorded_as_given(tmp_path, image):
    args = ["-s", "localhost", "-p", "4064", "--sudo", "root", "-u", "alice", "-g", "lab",
            "--transfer=ln_s", "--output", "yaml", image]
    code, _, _, calls = _run(tmp_path, args)
    assert code == 0 and calls[0]["argv"] == ["import"] + args


def test_runs_as_a_module_like_the_configured_command(tmp_path, image):
    log = tmp_path / "log.jsonl"
    argv = omero_importer.command_prefix(log, "succeed") + ["import", "--output", "yaml", image]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Image: [1]" in done.stdout
    assert json.loads(log.read_text().splitlines()[0])["exit"] == 0


def test_without_a_log_it_refuses_and_says_how_to_fix_it(monkeypatch):
    monkeypatch.delenv(omero_importer.LOG_ENV, raising=False)
    err = io.StringIO()
    assert omero_importer.main(["import", "x"], out=io.StringIO(), err=err) == 1
    assert "--sandbox-log" in err.getvalue()


def test_mode_text_for_scenario_values():
    assert omero_importer.mode_text({"fail_times": 2}) == "fail_times:2"
    assert omero_importer.parse_mode("fail_times:2") == ("fail_times", 2)
    with pytest.raises(omero_importer.ImporterUsageError):
        omero_importer.parse_mode("sometimes")
    assert sys.executable in omero_importer.command_prefix("x", "succeed")
