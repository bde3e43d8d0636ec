"""A request is imported into OMERO once: an import that may have created images is never
run again by itself, and a stopped import stops the Java importer too.

Sources: `omero import` exits with the Java importer's code, 2 when an import failed, and
prints each fileset's images as it is done (ome/omero-blitz CommandLineImporter.java,
LoggingImportMonitor.java); omero-py's `omero import` starts that Java process as a child
(src/omero/plugins/import.py), so only killing the process group stops both (killpg(2)).
"""

import os
import sys
import textwrap
import time

from pipeline_support import (DRAIN_FAILURES, UNTIL_IDLE, Request, avu_values, avus_of, base_scenario, claims,
                              image_ids_of, links_of, queued, record_of)
from omero_irods import names
from omero_irods.adapters.importer_process import DetachedImporter
from omero_irods.omero_import import ImportCommand

FILES = {"run1/a.tif": b"A" * 10, "run1/b.tif": b"B" * 10}
RETRY = {"retry": {"attempts": 3, "backoff_seconds": 30, "factor": 2, "max_seconds": 3600}}


def use_fake_importer(zone, tmp_path, stdout, exit_code):
    """The policy config's importer becomes a script that prints `stdout` and exits."""
    import json

    script = tmp_path / "fake_omero.py"
    script.write_text("import sys\nsys.stdout.write(%r)\nsys.stderr.write('Import failed: 1 error\\n')\n"
                      "sys.exit(%d)\n" % (stdout, exit_code))
    with open(zone._run.config_file, encoding="utf-8") as handle:
        config = json.load(handle)
    config["omero_import"]["command"] = [sys.executable, str(script)]
    with open(zone._run.config_file, "w", encoding="utf-8") as handle:
        json.dump(config, handle)


def placed_request(tmp_path, live_zone, request_id):
    """A placed ingest whose import rule has not run yet."""
    request = Request(tmp_path, request_id, FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}],
                                   config=RETRY))
    record = record_of(zone.state(), request_id)
    assert avus_of(zone.state(), record)[names.AVU_STATE] == names.IMPORT_QUEUED
    return zone, record


def test_an_import_that_failed_after_creating_images_is_not_repeated(tmp_path, live_zone):
    zone, record = placed_request(tmp_path, live_zone, "20261122T101500Z-0000x001")
    use_fake_importer(zone, tmp_path, "---\n- Fileset: 7\n  Image: [70]\n", exit_code=2)
    zone.step(DRAIN_FAILURES)
    state = zone.state()
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert image_ids_of(state, record) == [70]
    assert image_ids_of(state, avus[names.AVU_IMPORT_ROOT]) == [70]  # for people
    assert links_of(state, "20261122T101500Z-0000x001") == [(avus[names.AVU_IMPORT_ROOT], "alice")]  # guarded
    assert "after creating images 70" in avus[names.AVU_ERROR] and "Check OMERO before reprocessing" in avus[names.AVU_ERROR]
    assert claims(state, "20261122T101500Z-0000x001", "import-") == [1]  # no automatic second run
    assert queued(state) == ['callback.%s("%s")' % (names.RULE_WATCH, record)]


def test_an_import_that_succeeds_without_images_is_a_failure(tmp_path, live_zone):
    zone, record = placed_request(tmp_path, live_zone, "20261122T101500Z-0000x002")
    use_fake_importer(zone, tmp_path, "", exit_code=0)
    zone.step(DRAIN_FAILURES)
    avus = avus_of(zone.state(), record)
    assert avus[names.AVU_STATE] == names.FAILED and "reported no images" in avus[names.AVU_ERROR]
    assert claims(zone.state(), "20261122T101500Z-0000x002", "import-") == [1]
    assert links_of(zone.state(), "20261122T101500Z-0000x002")  # it may have linked something


def test_an_import_that_created_nothing_is_retried(tmp_path, live_zone):
    zone, record = placed_request(tmp_path, live_zone, "20261122T101500Z-0000x003")
    use_fake_importer(zone, tmp_path, "", exit_code=2)
    zone.step(DRAIN_FAILURES)
    state = zone.state()
    assert avus_of(state, record)[names.AVU_STATE] == names.FAILED
    assert claims(state, "20261122T101500Z-0000x003", "import-") == [1, 2, 3]
    assert links_of(state, "20261122T101500Z-0000x003") == []  # nothing linked: nothing guarded


def test_each_import_attempt_runs_once_however_often_it_is_queued(tmp_path, live_zone):
    zone, record = placed_request(tmp_path, live_zone, "20261122T101500Z-0000x004")
    zone.schedule(names.RULE_IMPORT, record, "1")  # a duplicate of the queued attempt
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert len(state["imports"]) == 1
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED


def test_an_import_over_the_admin_limit_is_stopped_with_everything_it_started(tmp_path):
    child_pid_file = tmp_path / "child.pid"
    script = textwrap.dedent("""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open(%r, "w").write(str(child.pid))
        print("---\\n- Fileset: 1\\n  Image: [5]", flush=True)
        time.sleep(60)
    """ % str(child_pid_file))
    importer = DetachedImporter(wait_seconds=0)
    folder = str(tmp_path / "imports" / "r1" / "import-1")
    process = importer.start(ImportCommand([sys.executable, "-c", script], {}, 1), folder)
    for _ in range(200):  # the script has started its child and printed its image
        if child_pid_file.exists() and "Image" in (tmp_path / "imports/r1/import-1/stdout.log").read_text():
            break
        time.sleep(0.05)
    assert importer.status(folder, process).state == "running"
    importer.stop(folder, process)
    status = DetachedImporter(wait_seconds=30).status(folder, process)
    assert status.state == "finished" and status.run.timed_out and "Image: [5]" in status.run.stdout
    child = int(child_pid_file.read_text())
    for _ in range(50):  # the kill is delivered; the child is gone once reaped by init
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child), "the importer's child %d still runs" % child


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent counts as stopped
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
