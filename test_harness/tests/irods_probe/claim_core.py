"""core.py for the exclusive-create claim probe (claim_probe.sh): 8 delayed rules claim one name.

`probe_submit` (irule, as rods) queues N delayed rules at the same moment; each runs
`probe_claim`, which creates the claim collection without parents (msiCollCreate flag 0,
irods/irods server/re/src/reDataObjOpr.cpp msiCollCreate -> rsCollCreate ->
db_plugin.cpp db_reg_coll_op: an INSERT into R_COLL_MAIN, whose coll_name is unique,
irods/irods scripts/irods/database/icatSysTables.sql idx_coll_main2) and logs whether it won.
"""

HINTS = ("<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME>"
         "<PLUSET>2s</PLUSET>")


def probe_submit(rule_args, callback, rei):
    # called by name from irule: the INPUT variables arrive, quoted, in irods_rule_vars
    import builtins

    inputs = {key: str(value).strip('"') for key, value in builtins.irods_rule_vars.items()}
    name, count = inputs["*name"], int(inputs["*count"])
    for tag in range(count):
        callback.delayExec(HINTS, "callback.probe_claim(%r, %r)" % (name, str(tag)), "")


def probe_claim(rule_args, callback, rei):
    name, tag = str(rule_args[0]), str(rule_args[1])
    try:
        callback.msiCollCreate(name, 0, 0)
        outcome = "WON"
    except RuntimeError as error:
        outcome = "LOST (%s)" % str(error).split("\n")[0][:120]
    callback.writeLine("serverLog", "CLAIM-PROBE %s %s %s" % (name, tag, outcome))
