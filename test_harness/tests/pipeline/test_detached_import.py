"""The importer runs detached: the import rule starts it and returns, a short check rule polls it.

A long import must not hold a delay executor (the delay server runs 4 rules at a time by
default: irods/irods server/delay_server/src/main.cpp, `number_of_concurrent_delay_rule_executors`
in server_config.json); a lost importer ends in `failed`, never in a second import; duplicated
check rules record the result once.

Process identity: proc(5) (/proc/PID/stat field 22 `starttime`, /proc/sys/kernel/random/boot_id).
"""

import json
import os
import signal
import sys
import textwrap
import time

from pipeline_support import Request, avu_values, avus_of, base_scenario, claims, image_ids_of, ours, queued, record_of
from omero_irods import names, records
from omero_irods.adapters.importer_process import DetachedImporter
from omero_irods.omero_import import ImportCommand
from omero_irods.watch import next_attempt

FILES = {"run1/a.tif": b"A" * 10, "run1/b.tif": b"B" * 10}
DRAIN = {"run_delay_queue": {"until_idle": True, "max_seconds": 300}}
#: Checks never wait for the importer here: each one sees it running or ended.
CONFIG = {"omero_import": {"check_wait_seconds": 0, "check_seconds": 30}}


class HeldImporter(object):
    """An importer whose first run waits for `release()`; later runs answer at once. Each prints
    one fileset with one image numbered by its pid (`omero import --output yaml`)."""

    def __init__(self, folder):
        self.hold, self.release_file = folder / "hold", folder / "release"
        self.hold.write_text("")
        self.script = folder / "held_omero.py"
        self.script.write_text(textwrap.dedent("""
            import os, sys, time
            try:
                os.rename(%(hold)r, %(hold)r + ".taken")
                held = True
            except OSError:
                held = False
            deadline = time.time() + 120
            while held and not os.path.exists(%(release)r) and time.time() < deadline:
                time.sleep(0.05)
            sys.stdout.write("---\\n- Fileset: 1\\n  Image: [%%d]\\n" %% os.getpid())
        """ % {"hold": str(self.hold), "release": str(self.release_file)}))

    def install(self, zone):
        with open(zone._run.config_file, encoding="utf-8") as handle:
            config = json.load(handle)
        config["omero_import"]["command"] = [sys.executable, str(self.script)]
        with open(zone._run.config_file, "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    def release(self):
        self.release_file.write_text("")


def started_import(tmp_path, live_zone, request_id):
    """A request whose (held) importer runs detached: (zone, record, importer, process)."""
    request = Request(tmp_path, request_id, FILES)
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}],
                                   config=CONFIG))
    held = HeldImporter(tmp_path)
    held.install(zone)
    zone.step(DRAIN)
    record = record_of(zone.state(), request_id)
    avus = avus_of(zone.state(), record)
    assert avus[names.AVU_STATE] == names.IMPORTING, ours(zone.state()["log"])
    return zone, record, held, json.loads(avus[names.AVU_IMPORTER])


def folder_of(tmp_path, request_id, attempt=1):
    return tmp_path / "work" / "imports" / request_id / ("import-%d" % attempt)


def wait_for_exit_status(folder):
    """The detached importer runs in wall time; the zone clock does not wait for it."""
    for _ in range(1200):
        if (folder / "exit-status").exists():
            return
        time.sleep(0.05)
    raise AssertionError("the importer in %s never ended" % folder)


def test_a_long_import_does_not_hold_the_delay_queue(tmp_path, live_zone):
    zone, record, held, process = started_import(tmp_path, live_zone, "20261122T101500Z-0000d001")
    assert DetachedImporter().status(str(folder_of(tmp_path, "20261122T101500Z-0000d001")), process).state == "running"
    other = Request(tmp_path, "20261122T101500Z-0000d002", FILES)
    for step in other.steps() + [DRAIN]:
        zone.step(step)
    state = zone.state()
    assert avus_of(state, record_of(state, other.request_id))[names.AVU_STATE] == names.IMPORTED
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTING  # still running, checked on
    assert 'callback.%s("%s", "1")' % (names.RULE_IMPORT_CHECK, record) in queued(state)
    held.release()
    wait_for_exit_status(folder_of(tmp_path, "20261122T101500Z-0000d001"))
    zone.step(DRAIN)
    state = zone.state()
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.IMPORTED
    assert image_ids_of(state, record) and claims(state, "20261122T101500Z-0000d001", "import-") == [1]
    assert not [rule for rule in queued(state) if names.RULE_IMPORT_CHECK in rule]  # the check chain stopped


def test_the_importer_runs_in_its_own_session_with_private_logs(tmp_path, live_zone):
    zone, record, held, process = started_import(tmp_path, live_zone, "20261122T101500Z-0000d003")
    folder = folder_of(tmp_path, "20261122T101500Z-0000d003")
    assert os.stat(str(folder)).st_mode & 0o777 == 0o700
    assert os.stat(str(folder.parent.parent)).st_mode & 0o777 == 0o700  # the log folder itself
    assert os.stat(str(folder / "stdout.log")).st_mode & 0o077 == 0
    assert os.getsid(process["pid"]) != os.getsid(0)  # not in the delay server's session
    assert process["attempt"] == 1 and process["start"] and process["boot"]
    held.release()
    wait_for_exit_status(folder)
    zone.step(DRAIN)
    images = image_ids_of(zone.state(), record)
    assert "Image: [%s]" % images[0] in (folder / "stdout.log").read_text()  # what OMERO said, kept for the admin


def test_a_lost_importer_ends_failed_and_is_never_started_again(tmp_path, live_zone):
    zone, record, held, process = started_import(tmp_path, live_zone, "20261122T101500Z-0000d004")
    os.killpg(process["group"], signal.SIGKILL)  # what a server restart does to it
    for _ in range(200):
        if DetachedImporter().status(str(folder_of(tmp_path, "20261122T101500Z-0000d004")), process).state != "running":
            break
        time.sleep(0.05)
    zone.step({"run_delay_queue": {"until_idle": True, "max_seconds": 3600}})
    state = zone.state()
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert "ended without an exit status" in avus[names.AVU_ERROR]
    assert str(folder_of(tmp_path, "20261122T101500Z-0000d004")) in avus[names.AVU_ERROR]
    assert "Check OMERO before reprocessing" in avus[names.AVU_ERROR]
    assert claims(state, "20261122T101500Z-0000d004", "import-") == [1]  # no second import
    assert queued(state) == ['callback.%s("%s")' % (names.RULE_WATCH, record)]


def test_duplicate_check_rules_record_the_result_once(tmp_path, live_zone):
    zone, record, held, process = started_import(tmp_path, live_zone, "20261122T101500Z-0000d005")
    held.release()
    wait_for_exit_status(folder_of(tmp_path, "20261122T101500Z-0000d005"))
    for _ in range(3):
        zone.schedule(names.RULE_IMPORT_CHECK, record, "1")
    zone.step(DRAIN)
    state = zone.state()
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED
    assert len(image_ids_of(state, record)) == 1
    assert claims(state, "20261122T101500Z-0000d005", "checked-") == [1]
    assert len([line for line in ours(state["log"]) if "imported " in line]) == 1


def test_a_check_of_another_attempt_does_nothing(tmp_path, live_zone):
    zone, record, held, process = started_import(tmp_path, live_zone, "20261122T101500Z-0000d006")
    zone.schedule(names.RULE_IMPORT_CHECK, record, "2")  # forged or stale: attempt 2 never started
    zone.step({"run_delay_queue": {}})
    state = zone.state()
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTING
    assert claims(state, "20261122T101500Z-0000d006", "checked-") == []
    held.release()


def test_a_reused_pid_or_a_reboot_is_not_taken_for_the_importer(tmp_path):
    folder = tmp_path / "imports" / "r1" / "import-1"
    importer = DetachedImporter()
    process = importer.start(ImportCommand([sys.executable, "-c", "import time; time.sleep(30)"], {}, 1), str(folder))
    assert importer.status(str(folder), process).state == "running"
    reused = dict(process, start=str(int(process["start"]) + 1))  # same pid, another process
    assert importer.status(str(folder), reused).state == "lost"
    rebooted = dict(process, boot="00000000-0000-0000-0000-000000000000")
    status = importer.status(str(folder), rebooted)
    assert status.state == "lost" and "server restarted" in status.reason
    os.killpg(process["group"], signal.SIGKILL)


def test_an_importer_that_is_not_installed_is_retried_without_a_link(tmp_path):
    from omero_irods.errors import Transient
    import pytest

    with pytest.raises(Transient, match="not installed"):
        DetachedImporter().start(ImportCommand(["/nonexistent/omero", "import"], {}, 1), str(tmp_path / "f"))
    assert not (tmp_path / "f").exists()


def test_a_request_still_importing_is_checked_again_never_imported_again():
    avus = [(names.AVU_STATE, names.IMPORTING, ""), (names.AVU_IMPORT_ROOT, "/z/home/alice/data", "")]
    entries = [records.IMPORT_ATTEMPT + "1", records.IMPORT_ATTEMPT + "2", records.ATTEMPT + "1"]
    assert next_attempt(avus, entries) == (names.RULE_IMPORT_CHECK, 2)
    failed = [(names.AVU_STATE, names.FAILED, "")] + avus[1:]
    assert next_attempt(failed, entries) == (names.RULE_IMPORT, 3)


def test_only_the_admins_limit_stops_a_long_import(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000d007", FILES)
    config = {"omero_import": {"check_wait_seconds": 0, "check_seconds": 30, "max_seconds": 120}}
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}],
                                   config=config))
    HeldImporter(tmp_path).install(zone)  # never released: runs until it is stopped
    zone.step({"run_delay_queue": {"until_idle": True, "max_seconds": 90}})
    record = record_of(zone.state(), request.request_id)
    assert avus_of(zone.state(), record)[names.AVU_STATE] == names.IMPORTING  # within the limit: left alone
    process = json.loads(avus_of(zone.state(), record)[names.AVU_IMPORTER])
    zone.step({"run_delay_queue": {"until_idle": True, "max_seconds": 3600}})
    state = zone.state()
    avus = avus_of(state, record)
    assert avus[names.AVU_STATE] == names.FAILED
    assert "longer than omero_import.max_seconds (120s) and was stopped" in avus[names.AVU_ERROR]
    assert DetachedImporter().status(str(folder_of(tmp_path, request.request_id)), process).state == "finished"
    assert claims(state, request.request_id, "import-") == [1]


def test_the_sweep_checks_again_an_import_whose_check_rule_was_lost(tmp_path, live_zone):
    request = Request(tmp_path, "20261122T101500Z-0000d008", FILES)
    config = dict(CONFIG, sweep={"interval_seconds": 3600})
    zone = live_zone(base_scenario(tmp_path, request.steps() + [{"advance_clock": "1s"}, {"run_delay_queue": {}}],
                                   config=config))
    held = HeldImporter(tmp_path)
    held.install(zone)
    zone.step(DRAIN)
    record = record_of(zone.state(), request.request_id)
    queue = zone.runtime.delay_queue._rules
    queue[:] = [rule for rule in queue if names.RULE_IMPORT_CHECK not in rule.body]  # an admin's iqdel
    held.release()
    wait_for_exit_status(folder_of(tmp_path, request.request_id))
    zone.step({"run_delay_queue": {"until_idle": True, "max_seconds": 4 * 86400}})
    state = zone.state()
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED
    assert claims(state, request.request_id, "import-") == [1] and claims(state, request.request_id, "checked-") == [1]
