"""Run the OMERO importer as a detached process: the only code here that starts one.

The import rule (pipeline.run_import) starts it and returns at once, so an import of any length
never holds a delay executor; the check rule (pipeline.check_import) polls it. The importer is
not the rule's child for long: a tiny /bin/sh wrapper, in a session (and process group) of its
own, forks the importer's waiter into the background and exits, so the waiter belongs to init
and no zombie is left in the agent. The waiter runs the fixed argv (no shell parses it: it
is passed as "$@"), with output to files, and writes the exit status to a file when it ends,
since only a parent can read a process' exit status.

Each attempt has a private folder (mode 0700) `<omero_import.log_folder>/<request id>/import-N`:
    stdout.log, stderr.log   what the importer printed (stdout names the images it created)
    exit-status              its exit code, written (by rename) when it ended
    stopped                  written when the admin's limit (max_seconds) stopped it (the
                             whole group is killed, the waiter too: no exit-status then)
    session/, login.json     the OMERO session (with omero_import.login) and how to close it
The process is named by pid, process group, start time (clock ticks since boot, /proc/PID/stat
field 22) and boot id (/proc/sys/kernel/random/boot_id): a pid reused after the importer ended,
or after a reboot, is never taken for it (proc(5)).
"""

import json
import os
import shutil
import signal
import subprocess
import time
from collections import namedtuple

from omero_irods.errors import Transient
from omero_irods.omero_import import ImportRun, ImporterLogin

RUNNING, FINISHED, LOST = "running", "finished", "lost"

#: What a check found: `state` RUNNING, FINISHED (with `run`, an omero_import.ImportRun) or
#: LOST (the process is gone without an exit status: `reason` says so for the admin).
ImportStatus = namedtuple("ImportStatus", "state run reason", defaults=(None, None))

#: The importer's stdout lists each fileset's images: a plate's is a few KiB; more is cut off.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
_POLL_SECONDS = 0.05

# "$1" is the folder, the rest the importer's argv; the logs are the service account's only. The subshell runs in the background and is
# what the pid names; the outer shell prints its pid and exits at once.
_WRAPPER = ('umask 077; folder=$1; shift; '
            '( "$@" >"$folder/stdout.log" 2>"$folder/stderr.log" </dev/null; '
            'echo $? >"$folder/exit-status.tmp" && mv "$folder/exit-status.tmp" "$folder/exit-status" ) '
            '</dev/null >/dev/null 2>&1 & echo $!')


class DetachedImporter(object):
    """The pipeline's importer port: start / status / stop / finish (see the module)."""

    def __init__(self, wait_seconds=0):
        #: How long status() waits for a running importer to end before it answers RUNNING.
        self.wait_seconds = wait_seconds

    def start(self, command, folder):
        """Start `command` (an omero_import.ImportCommand) detached; its process as a dict
        {pid, group, start, boot} to record. Transient when it cannot start."""
        _check_installed(command.argv[0])
        _make_private_folder(folder)
        env = dict(os.environ)
        env.update(command.env)
        if command.login is not None:
            from omero_irods.adapters.importer_login import open_session

            session = os.path.join(folder, "session")
            os.mkdir(session, 0o700)
            _write_json(os.path.join(folder, "login.json"), command.login._asdict())  # no secret in it
            env = open_session(command.login, env, session)
        try:
            wrapper = subprocess.run(["/bin/sh", "-c", _WRAPPER, "omero-irods-importer", folder] + list(command.argv),
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True, timeout=60)
            pid = int(wrapper.stdout.decode("ascii", "replace").strip())
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            self.finish(folder)
            raise Transient("the importer could not be started: %s" % error)
        return {"pid": pid, "group": _process_group(pid), "start": _start_ticks(pid), "boot": _boot_id()}

    def status(self, folder, process):
        """ImportStatus of the importer started in `folder` as `process` (start()'s dict)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            alive = _is_alive(process)
            code = _exit_code(folder)  # written before the process ends: read after the liveness
            stopped = os.path.exists(os.path.join(folder, "stopped"))
            if code is not None or (stopped and not alive):  # the kill took the waiter too
                return ImportStatus(FINISHED, ImportRun(code if code is not None else -signal.SIGKILL,
                                                        _read(folder, "stdout.log"), _read(folder, "stderr.log"),
                                                        stopped))
            if not alive:
                return ImportStatus(LOST, reason=_lost_reason(process))
            if time.monotonic() >= deadline:
                return ImportStatus(RUNNING)
            time.sleep(_POLL_SECONDS)

    def stop(self, folder, process):
        """Kill the importer's whole process group (omero-py's Java child included)."""
        if not _is_alive(process):
            return
        with open(os.path.join(folder, "stopped"), "w", encoding="ascii") as handle:
            handle.write("stopped\n")
        try:
            os.killpg(process["group"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError, TypeError):
            pass  # ended just now

    def finish(self, folder):
        """Close the OMERO session the import used (if any); the logs stay for the admin."""
        session = os.path.join(folder, "session")
        if not os.path.isdir(session):
            return
        try:
            with open(os.path.join(folder, "login.json"), encoding="utf-8") as handle:
                login = ImporterLogin(**json.load(handle))
        except (OSError, ValueError, TypeError):
            shutil.rmtree(session, ignore_errors=True)
            return
        from omero_irods.adapters.importer_login import close_session

        close_session(login, dict(os.environ), session)


def _check_installed(program):
    found = shutil.which(program) if os.sep not in program else (program if os.access(program, os.X_OK) else None)
    if not found:
        raise Transient("the import command %r is not installed on this server" % program)


def _make_private_folder(folder):
    """Create `folder` (0700) and the parents it lacks (0700 too): only this account reads the
    logs, which name users' files, nor the session folder. An existing folder is refused: each
    attempt is claimed once (import-N), so one there is another run's."""
    request_folder = os.path.dirname(folder)
    try:
        for path in (os.path.dirname(request_folder), request_folder):  # makedirs' mode is the leaf's only
            if not os.path.isdir(path):
                os.makedirs(path, mode=0o700, exist_ok=True)
                os.chmod(path, 0o700)  # whatever the umask
        os.mkdir(folder, 0o700)
        os.chmod(folder, 0o700)
    except FileExistsError:
        raise Transient("the import folder %s already exists: another run used it; an admin must check it" % folder)
    except OSError as error:
        raise Transient("the import folder %s cannot be created (omero_import.log_folder): %s"
                        % (folder, error.strerror or error))


def _write_json(path, document):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream)


def _stat_fields(pid):
    """/proc/PID/stat fields after the command (which may hold spaces and parentheses)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except (OSError, TypeError):
        return None
    return text[text.rindex(")") + 2:].split()  # fields 3.. (state first)


def _start_ticks(pid):
    fields = _stat_fields(pid)
    return fields[19] if fields else None  # field 22: starttime


def _process_group(pid):
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else pid  # field 5: pgrp; the wrapper's session leader otherwise


def _boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _is_alive(process):
    if process.get("boot") and process["boot"] != _boot_id():
        return False  # the server rebooted since
    fields = _stat_fields(process["pid"])
    if fields is None:
        return False
    if fields[0] == "Z":
        return False
    return process.get("start") is None or fields[19] == process["start"]


def _exit_code(folder):
    try:
        with open(os.path.join(folder, "exit-status"), encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _read(folder, name):
    try:
        with open(os.path.join(folder, name), "rb") as handle:
            return handle.read(MAX_OUTPUT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def _lost_reason(process):
    if process.get("boot") and process["boot"] != _boot_id():
        return "the server restarted while the importer (pid %s) was running" % process["pid"]
    return "the importer (pid %s) ended without an exit status (killed, or its server stopped)" % process["pid"]
