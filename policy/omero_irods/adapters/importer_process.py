"""Run the OMERO importer as a process of its own: the only code here that starts one.

The delayed import rule (pipeline.run_import) hands over an `omero_import.ImportCommand`
and gets an `omero_import.ImportRun` back; no shell is ever involved.
"""

import os
import signal
import subprocess

from omero_irods.errors import Transient
from omero_irods.omero_import import ImportRun


def run_import_command(command):
    """Run the importer with a fixed argv (no shell) -> omero_import.ImportRun.

    It runs in a session (and process group) of its own: `omero import` starts a Java
    importer as its child, and on a timeout the whole group is killed, not only the wrapper
    (killing the wrapper alone leaves the Java process importing). What it printed until
    then is kept: it names the images it created."""
    from omero_irods.adapters.importer_login import importer_session

    env = dict(os.environ)
    env.update(command.env)
    with importer_session(command.login, env) as env:  # the OMERO session, when the config has a login
        return _run_importer(command, env)


def _run_importer(command, env):
    try:
        process = subprocess.Popen(command.argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   encoding="utf-8", errors="replace", start_new_session=True)
    except FileNotFoundError:
        raise Transient("the import command %r is not installed on this server" % command.argv[0])
    try:
        stdout, stderr = process.communicate(timeout=command.timeout_seconds)
        return ImportRun(process.returncode, stdout, stderr, False)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        stdout, stderr = process.communicate()
        return ImportRun(process.returncode, stdout, stderr, True)


def _kill_group(process_group):
    try:
        os.killpg(process_group, signal.SIGKILL)
    except ProcessLookupError:  # ended just now
        pass
