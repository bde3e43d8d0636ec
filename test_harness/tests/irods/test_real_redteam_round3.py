"""Red-team round 3 on the real server: what a rodsuser's delayed rule can do, the root of
findings R3-1..R3-3 (test_harness/tests/pipeline/test_redteam_round3.py).

irods/irods_rule_engine_plugin_python src/main.cpp: `exec_rule_text` (irule) refuses a client or
proxy below REMOTE_PRIV_USER_AUTH, `exec_rule_expression` (what the delay server runs) checks
nothing. A rodsuser reaches it through a native-language `delay()` naming the Python instance.

Seen on iRODS 5.0.2 with this test: `irule` as alice exits 0, the delay server runs the text
about a second later as the OS user irods (uid 999), writing alice's AVU as alice; the serverLog
entry of its writeLine names EXEC_RULE_EXPRESSION_AN with request_client_user and
request_proxy_user `rods` (the delay server's own connection), not alice.
"""

import pytest

from realzone.zone import ZONE

PYTHON_INSTANCE = "irods_rule_engine_plugin-python-instance"
NATIVE_INSTANCE = "irods_rule_engine_plugin-irods_rule_language-instance"


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-1 (critical): a rodsuser's delayed rule runs Python in the delay server as the iRODS OS user "
    "(here: it reports os.getuid() of the delay server into an AVU; seen on iRODS 5.0.2: uid 999, the irods "
    "account, which reads the integrity key, the OMERO credentials file and every vault file)"))
def test_a_rodsusers_delayed_rule_runs_no_python_as_the_irods_os_user(tier):
    home = "/%s/home/alice" % ZONE
    body = ("callback.msiModAVUMetadata('-C', '%s', 'add', 'redteam_uid', str(__import__('os').getuid()), '');"
            " callback.writeLine('serverLog', 'redteam-round3 python ran')" % home)
    mark = tier.zone.log_size()
    rule = 'delay("<INST_NAME>%s</INST_NAME><PLUSET>1s</PLUSET>") { %s }' % (PYTHON_INSTANCE, body)
    submitted = tier.zone.icommand("alice", "irule", "-r", NATIVE_INSTANCE, rule, "null", "null", check=False)
    print("irule:", submitted.returncode, submitted.stdout, submitted.stderr)

    def ran():
        result = tier.zone.icommand("alice", "imeta", "ls", "-C", home, "redteam_uid", check=False)
        return "value:" in result.stdout and result.stdout

    try:
        seen = tier.zone.wait_for(ran, timeout=60, what="alice's delayed Python rule")
    except Exception:
        seen = None
    print("imeta:", seen)
    # which API ran it, as whom: where a pre-PEP could refuse it (pep_api_exec_rule_expression_pre?)
    for entry in tier.zone.log_entries(mark):
        if "redteam-round3" in entry.get("log_message", ""):
            print("log entry:", {key: entry.get(key) for key in ("request_api_name", "request_client_user",
                                                                  "request_proxy_user", "log_message")})
    assert not seen, "alice's delayed Python ran as OS uid: %s" % seen
