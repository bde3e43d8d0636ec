"""The sandbox's "OMERO Python": what `omero_import.login.python` names in a sandbox run.

    python -m omero_irods_sandbox.omero_python -m omero_irods.adapters.omero_session_helper open|close

The runner (adapters/importer_login.py) runs `LOGIN_PYTHON -m omero_irods.adapters.
omero_session_helper ACTION` with the light admin's credentials on stdin. In production that
Python is OMERO's own, with omero-py. Here a launcher script (`write_launcher`) runs this
module, which puts the sandbox's stand-in for omero-py (omero_py/) first on sys.path and runs
the project's REAL helper module: the request parsing, the lifetimes it refuses, the session
store it writes and the exit codes are the production code's; only omero.client talks to the
emulated server (omero_server.py) named by $OMERO_IRODS_SANDBOX_OMERO.
"""

import os
import runpy
import stat
import sys

HELPER_MODULE = "omero_irods.adapters.omero_session_helper"
STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "omero_py")


def write_launcher(path, server_file, python=None):
    """An executable at `path` that runs this module with the emulated server `server_file`."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\nOMERO_IRODS_SANDBOX_OMERO=%s exec %s -m omero_irods_sandbox.omero_python \"$@\"\n"
                     % (_quote(server_file), _quote(python or sys.executable)))
    os.chmod(path, stat.S_IRWXU)


def _quote(text):
    return "'" + str(text).replace("'", "'\\''") + "'"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] != ["-m", HELPER_MODULE]:
        sys.stderr.write("the sandbox's OMERO Python runs only -m %s\n" % HELPER_MODULE)
        return 2
    sys.path.insert(0, STAND_IN)
    sys.argv = [HELPER_MODULE] + argv[2:]
    try:
        runpy.run_module(HELPER_MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        return done.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
