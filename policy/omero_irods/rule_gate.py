"""Who may hand the server rule text to run: only iRODS admins, once this package is installed.

The Python rule engine plugin runs rule text as Python inside the agent, as the iRODS OS user,
with no sandbox: whoever can do that reads the server's config (the catalog's password), the
policy's integrity key and the OMERO login, and writes every vault file. The plugin refuses it
to unprivileged users only on one of its two ways in (irods/irods_rule_engine_plugin_python
src/main.cpp): `exec_rule_text` (irule's own Python text) demands client and proxy authFlag >=
REMOTE_PRIV_USER_AUTH, but `exec_rule_expression`, what the delay server runs, checks nothing.
A rodsuser reaches it in two ways, both seen or read for iRODS 5.0.2:

- irule (EXEC_MY_RULE_AN, open to every user: irods/irods lib/api/include/irods/apiTable.hpp)
  with another language's `delay("<INST_NAME>...python-instance</INST_NAME>") { text }`: the
  native rule engine queues the text (server/re/src/nre.systemMS.cpp _delayExec calls
  rsRuleExecSubmit directly, so no API PEP sees the submission) and the delay server later runs
  it as Python (seen on 5.0.2: a rodsuser's text ran as the OS user irods). The instance name
  in the hint is an expression of that language, so no test of the text can spot it;
- EXEC_RULE_EXPRESSION_AN itself, which apiTable.hpp opens to LOCAL_USER_AUTH: a client that
  packs its own request runs Python at once (server/api/src/rsExecRuleExpression.cpp checks no
  privilege).

Both APIs fire their pre-PEPs before anything runs (lib/core/include/irods/apiHandler.hpp), and
a failing pre-PEP fails the call. So the policy refuses both to any caller whose client or proxy
is below REMOTE_PRIV_USER_AUTH, the plugin's own bar for Python. Admins keep irule (the admin
rules of omero_irods.admin_rules), and the delay server's own connection is the zone's admin
(seen on 5.0.2: client and proxy `rods`, privilege level 5), so delayed rules still run. Users
lose irule: on a zone with the Python rule engine there is no way to give them irule without
giving them the iRODS OS user.

Pure logic: the adapter (adapters/prep.py) reads the names and privilege levels from the
plugin's session variables and returns the refusal's error code.
"""

#: irods/irods lib/core/include/irods/rodsUser.h: the lowest authFlag the plugin lets run Python.
REMOTE_PRIV_USER_AUTH = 4

#: The APIs whose pre-PEPs are gated, with what each lets a caller do.
GATED_APIS = {
    "exec_my_rule": "irule (its delay() would run as Python in the delay server)",
    "exec_rule_expression": "rule text the server runs at once as Python",
}

#: What the client is told (irods/irods lib/core/include/irods/rodsErrorTable.h).
REFUSAL_ERROR = "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"


def refusal(api, client, proxy):
    """Why (client, proxy) may not call `api`, or None. client and proxy: (name, level)."""
    low = [(name, level) for name, level in (client, proxy) if level < REMOTE_PRIV_USER_AUTH]
    if not low:
        return None
    who = "%s (proxy %s)" % (client[0], proxy[0]) if client[0] != proxy[0] else client[0]
    return ("omero-irods: refused %s to %s: only iRODS admins may hand this zone rule text, since the "
            "Python rule engine runs it as the iRODS OS user" % (GATED_APIS[api], who))
