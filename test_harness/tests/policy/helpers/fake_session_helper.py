"""Stands in for omero_irods.adapters.omero_session_helper (which needs omero-py) in the
runner's tests: records what it was given (argv, stdin, the session folder and its mode) in
$FAKE_HELPER_LOG, one JSON line per call, and fails when $FAKE_HELPER_FAIL names the action."""

import json
import os
import stat
import sys

action = sys.argv[1]
folder = os.environ.get("OMERO_SESSIONDIR", "")
with open(os.environ["FAKE_HELPER_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "stdin": sys.stdin.read(), "folder": folder,
                          "mode": stat.S_IMODE(os.stat(folder).st_mode) if folder else None,
                          "env_has_password": any("s3cret" in v for v in os.environ.values())}) + "\n")
if os.environ.get("FAKE_HELPER_FAIL") == action:
    sys.stderr.write("omero_session_helper: OMERO refused: SecurityViolation: not an admin\n")
    sys.exit(3)
if action == "open":
    with open(os.path.join(folder, "session"), "w") as handle:
        handle.write("uuid")
