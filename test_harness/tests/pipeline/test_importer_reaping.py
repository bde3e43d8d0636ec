"""The sandbox reaps the detached importers its rules start (test_harness/sandbox/processes.py),
as init does on a server, without changing what the check rule sees.

Sources: prctl(2) PR_SET_CHILD_SUBREAPER (orphans are reparented to the nearest living
subreaper ancestor), waitpid(2), proc(5) (/proc/PID/stat: state, ppid, session)."""

import os
import subprocess
import sys

from pipeline_support import avus_of
from test_detached_import import DRAIN, folder_of, started_import, wait_for_exit_status
from omero_irods import names
from omero_irods_sandbox import processes


def _stat(pid):
    return processes._stat(pid)


def _group_members(group):
    """Every process (zombies included) still in the importer's process group."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, encoding="ascii", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2:].split()[2]) == group:
                members.append(int(name))
    return members


def test_the_importer_is_adopted_by_the_sandbox_and_reaped_once_it_ended(tmp_path, live_zone):
    request_id = "20261122T101500Z-0000e001"
    zone, record, held, process = started_import(tmp_path, live_zone, request_id)
    waiter = _stat(process["pid"])
    assert waiter["ppid"] == os.getpid()  # adopted when the wrapper shell exited, not left to init
    held.release()
    wait_for_exit_status(folder_of(tmp_path, request_id))
    for _ in range(200):  # the waiter writes its exit status, then ends: a zombie until reaped
        if _stat(process["pid"]) is None or _stat(process["pid"])["state"] == "Z":
            break
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.05)"])
    zone.step(DRAIN)
    assert avus_of(zone.state(), record)[names.AVU_STATE] == names.IMPORTED  # a finished import is finished
    assert _group_members(process["group"]) == []  # nothing left, not even a zombie


def test_only_adopted_orphans_are_reaped_never_a_child_someone_waits_for(tmp_path):
    """A child the test process started (in its session, or a session of its own) keeps its
    exit status for its Popen; an orphan adopted from a dead session leader is reaped."""
    own = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    leader = subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"], start_new_session=True)
    with processes.adopting_orphans():
        # the orphan outlives its shell (else the shell may reap it first), as the importer does
        wrapper = subprocess.run(["/bin/sh", "-c", "(sleep 0.5; exit 5) </dev/null >/dev/null 2>&1 & echo $!"],
                                 stdout=subprocess.PIPE, start_new_session=True)
        orphan = int(wrapper.stdout.decode().strip())
        for _ in range(400):
            if all(_stat(pid) and _stat(pid)["state"] == "Z" for pid in (own.pid, leader.pid, orphan)):
                break
            subprocess.run(["sleep", "0.05"])
        assert _stat(orphan)["ppid"] == os.getpid()
    assert _stat(orphan) is None  # reaped when the rule ended
    assert own.wait() == 3 and leader.wait() == 4
