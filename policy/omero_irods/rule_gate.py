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

Both APIs fire their pre-PEPs before anything runs (lib/core/include/irods/apiHandler.hpp), with
the levels of the authenticated connection, and a failing pre-PEP fails the call. The bar is
LOCAL_PRIV_USER_AUTH, this zone's own admins: PREP's own REMOTE_PRIV_USER_AUTH would let a
federated zone's rodsadmin in (plugins/api/src/switch_user.cpp gives them that level).

- irule: client AND proxy must be this zone's admins. Admins keep irule; users lose it, since
  on a zone with the Python rule engine irule cannot be given to them without giving them the
  iRODS OS user.
- EXEC_RULE_EXPRESSION: the PROXY must be this zone's admin. The delay server always connects
  with the local admin as proxy; with `advanced_settings.delay_rule_executors` set it connects
  as proxy for the rule's owner, so the client is then the service account, a plain rodsuser
  (server/delay_server/src/irodsDelayServer.cpp). A user who calls the API is their own proxy.

Every iRODS server of the zone must refuse irule this way: a server without these rules queues
a user's delay() for the provider's delay server (rsRuleExecSubmit.cpp forwards it as that
server's admin), and the delay server runs it (docs/deploy.md, section 3).

Pure logic: the adapter (adapters/prep.py) reads the names and privilege levels from the
plugin's session variables and returns the refusal's error code.
"""

#: irods/irods lib/core/include/irods/rodsUser.h: a rodsadmin of this zone.
LOCAL_PRIV_USER_AUTH = 5

#: The APIs whose pre-PEPs are gated, with what each lets a caller do.
GATED_APIS = {
    "exec_my_rule": "irule (its delay() would run as Python in the delay server)",
    "exec_rule_expression": "rule text the server runs at once as Python",
}

#: What the client is told (irods/irods lib/core/include/irods/rodsErrorTable.h).
REFUSAL_ERROR = "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"


def refusal(api, client, proxy):
    """Why (client, proxy) may not call `api`, or None. client and proxy: (name, level)."""
    checked = (proxy,) if api == "exec_rule_expression" else (client, proxy)
    if all(level >= LOCAL_PRIV_USER_AUTH for _name, level in checked):
        return None
    who = "%s (proxy %s)" % (client[0], proxy[0]) if client[0] != proxy[0] else client[0]
    return ("omero-irods: refused %s to %s: only this zone's iRODS admins may hand it rule text, since the "
            "Python rule engine runs it as the iRODS OS user" % (GATED_APIS[api], who))
