"""Fidelity cross-check: the PEPs a real server fires for an upload match the sandbox's.

The sandbox (test_harness/sandbox/clients.py) emulates which PEPs fire, in which order, for
`iput` and for python-irodsclient uploads; every policy test leans on that. Here the same two
uploads run against the real server of the compose stack, whose core.py logs every PEP (the
put-related ones, TRACED_PEPS, are compared: test_harness/compose/irods/pep_trace_core.py), and
the two sequences must be equal.
The uploads go outside the landing zone, so omero-irods ignores them and no delayed rule
adds PEPs of its own.
"""

import json
import os
import re
import subprocess
import sys
import types

import pytest

from realstack_support import (REPO_ROOT, SERVICE_ACCOUNT, SERVICE_PASSWORD, ZONE,
                               load_pep_tracer)

pytestmark = pytest.mark.docker

TRACE_LINE = re.compile(r"omero_irods\.pep_trace (MARK )?([A-Za-z0-9_.-]+)")
TRACE_FOLDER = "/%s/home/%s/pep-trace" % (ZONE, SERVICE_ACCOUNT)
UPLOAD_SIZE = 1000  # one buffer, one write, for every client
TRACED_PEPS = load_pep_tracer(types.ModuleType("omero_irods_traced_core")).TRACED_PEPS


def _mark(stack, label):
    """A line in the server log that brackets one upload (native rule language writeLine)."""
    stack.exec_irods("irule -r irods_rule_engine_plugin-irods_rule_language-instance "
                     "'writeLine(\"serverLog\", \"omero_irods.pep_trace MARK %s\")' null ruleExecOut" % label)


def _real_sequences(stack, labels):
    """{label: [PEP names]} between `MARK label` and the next mark, from the server log."""
    sequences, current = {}, None
    for line in stack.logs("irods").splitlines():
        match = TRACE_LINE.search(line)
        if not match:
            continue
        if match.group(1):
            current = match.group(2) if match.group(2) in labels else None
            if current:
                sequences[current] = []
        elif current and match.group(2) in TRACED_PEPS:  # the tracer logs every PEP; compare the upload's
            sequences[current].append(match.group(2))
    missing = [label for label in labels if label not in sequences]
    assert not missing, "no trace for %s in the iRODS log: is OMERO_IRODS_PEP_TRACE=1 set?" % missing
    return sequences


def _iput_as_service_account(stack, logical_path):
    # iCommands read the user from IRODS_USER_NAME and the password from iinit's stdin.
    stack.exec_irods(
        "set -e; export IRODS_AUTHENTICATION_FILE=$(mktemp); iinit >/dev/null; "
        "head -c %d /dev/urandom > /tmp/pep-trace.bin; iput /tmp/pep-trace.bin %s"
        % (UPLOAD_SIZE, logical_path),
        env=[("IRODS_USER_NAME", SERVICE_ACCOUNT)], input_text=SERVICE_PASSWORD + "\n")


def _prc_put_as_service_account(service_account_env, local_file, logical_path):
    from omero_irods.adapters import prc

    session = prc.open_session(*service_account_env)
    try:
        session.data_objects.put(local_file, logical_path)
    finally:
        prc.close_session(session)


def _sandbox_sequence(tmp_path, client):
    """The PEP names the sandbox fires for the same upload by the same user."""
    (tmp_path / "upload.bin").write_bytes(os.urandom(UPLOAD_SIZE))
    scenario = {
        "zone": ZONE,
        "config_file": os.path.join(REPO_ROOT, "irods_config", "omero_irods.example.json"),
        "users": [{"name": SERVICE_ACCOUNT, "type": "rodsuser"}],
        "steps": [
            {"mkdir": {"as": SERVICE_ACCOUNT, "path": TRACE_FOLDER}},
            {"put": {"as": SERVICE_ACCOUNT, "file": "upload.bin", "client": client,
                     "to": TRACE_FOLDER + "/" + client + ".bin"}},
        ],
    }
    scenario_file = tmp_path / ("%s.json" % client)
    dump_file = tmp_path / ("%s.dump.json" % client)
    scenario_file.write_text(json.dumps(scenario))
    subprocess.run([sys.executable, "-m", "omero_irods.cli", "sandbox", "run", str(scenario_file),
                    "--dump", str(dump_file)], check=True, capture_output=True, text=True)
    dump = json.loads(dump_file.read_text())
    assert "pep_points" in dump, "the sandbox dump lists no pep_points (every PEP fired)"
    return [point["name"] for point in dump["pep_points"] if point["name"] in TRACED_PEPS]


def test_upload_peps_of_the_real_server_match_the_sandbox(stack, service_account_env, tmp_path):
    local_file = tmp_path / "prc-upload.bin"
    local_file.write_bytes(os.urandom(UPLOAD_SIZE))
    stack.exec_irods("imkdir -p %s && ichmod own %s %s" % (TRACE_FOLDER, SERVICE_ACCOUNT, TRACE_FOLDER))

    _mark(stack, "iput")
    _iput_as_service_account(stack, TRACE_FOLDER + "/iput.bin")
    _mark(stack, "prc")
    _prc_put_as_service_account(service_account_env, str(local_file), TRACE_FOLDER + "/prc.bin")
    _mark(stack, "end")
    real = _real_sequences(stack, ("iput", "prc"))

    for client in ("iput", "prc"):
        client_dir = tmp_path / client
        client_dir.mkdir()
        assert real[client] == _sandbox_sequence(client_dir, client), (
            "%s: the real server fired %s" % (client, real[client]))
