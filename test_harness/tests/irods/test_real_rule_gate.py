"""The rule-text gate on iRODS 5.0.2 (omero_irods.rule_gate): a rodsuser's irule that would
queue Python for the delay server is refused by pep_api_exec_my_rule_pre, so nothing runs as
the iRODS OS user; an admin's irule still runs. Before the gate this very rule ran: a
rodsuser's text executed as the OS user irods about a second later (the Python rule engine's
exec_rule_expression checks no privilege: irods/irods_rule_engine_plugin_python src/main.cpp)."""

import time

from realzone.zone import ZONE

PYTHON_INSTANCE = "irods_rule_engine_plugin-python-instance"
NATIVE_INSTANCE = "irods_rule_engine_plugin-irods_rule_language-instance"


def _delayed_python(home):
    body = "callback.msiModAVUMetadata('-C', '%s', 'add', 'gate_probe', str(__import__('os').getuid()), '')" % home
    return 'delay("<INST_NAME>%s</INST_NAME><PLUSET>1s</PLUSET>") { %s }' % (PYTHON_INSTANCE, body)


def test_a_rodsusers_irule_that_queues_python_is_refused_and_nothing_runs(tier):
    home = "/%s/home/alice" % ZONE
    mark = tier.zone.log_size()
    submitted = tier.zone.icommand("alice", "irule", "-r", NATIVE_INSTANCE, _delayed_python(home), "null", "null",
                                   check=False)
    assert submitted.returncode != 0
    assert "CAT_INSUFFICIENT_PRIVILEGE_LEVEL" in submitted.stdout + submitted.stderr
    queue = tier.zone.icommand("rods", "iqstat", "-a", check=False)
    assert "gate_probe" not in queue.stdout
    time.sleep(5)  # the tier's delay server polls every second: a queued rule would have run
    probe = tier.zone.icommand("alice", "imeta", "ls", "-C", home, "gate_probe", check=False)
    assert "value:" not in probe.stdout
    refusals = [entry.get("log_message", "") for entry in tier.zone.log_entries(mark)]
    assert any("refused irule" in line and "alice" in line for line in refusals), refusals


def test_an_admins_irule_still_runs(tier):
    done = tier.zone.icommand("rods", "irule", "-r", NATIVE_INSTANCE,
                              'writeLine("stdout", "gate lets admins through")', "null", "ruleExecOut", check=False)
    assert done.returncode == 0, done.stderr
    assert "gate lets admins through" in done.stdout
