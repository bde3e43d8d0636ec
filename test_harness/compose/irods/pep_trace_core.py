"""TEST ONLY: a /etc/irods/core.py that logs every PEP the server asks for, then runs the real one.

Used by the compose stack (its entrypoint installs this as core.py when OMERO_IRODS_PEP_TRACE=1)
and by the real-server tier (test_harness/realzone/install.py), each with the deployed core.py
moved to omero_irods_traced_core.py. The Python rule engine plugin asks core for a rule of each
PEP's name (irods/irods_rule_engine_plugin_python src/main.cpp, rule_exists: `hasattr(core,
name)`); a module-level __getattr__ (PEP 562) answers for every `pep_api_*` and legacy `ac*` name
with a wrapper that writes `omero_irods.pep_trace NAME` to the serverLog and then calls
omero-irods' rule of that name, or returns RULE_ENGINE_CONTINUE where there is none, so the next
rule engine (core.re) runs as it would without this file (irods/irods
server/re/include/irods/irods_re_plugin.hpp: a continuation code passes the rule on). Network and
database PEPs are not traced: a writeLine in them breaks the agent's authentication (seen on the
kit's iRODS 5.0.2). Delayed and admin rules (omero_irods_*) pass through untraced. Logging goes
through writeLine because print() goes nowhere since 4.3.
"""

import irods_errors

import omero_irods_traced_core as traced

TRACE_PREFIX = "omero_irods.pep_trace "

#: The PEPs around a data object upload (irods/irods server/api/src/rsDataObjPut.cpp,
#: rsDataObjOpen.cpp, rsDataObjWrite.cpp, rsDataObjClose.cpp, rsReplicaClose.cpp): what the
#: compose stack's fidelity test compares for each client.
TRACED_PEPS = (
    "pep_api_data_obj_put_pre", "pep_api_data_obj_put_post",
    "pep_api_data_obj_create_pre", "pep_api_data_obj_create_post",
    "pep_api_data_obj_open_pre", "pep_api_data_obj_open_post",
    "pep_api_data_obj_write_pre", "pep_api_data_obj_write_post",
    "pep_api_data_obj_close_pre", "pep_api_data_obj_close_post",
    "pep_api_replica_close_pre", "pep_api_replica_close_post",
    "acPostProcForPut", "acPostProcForCreate",
)


def _traced_pep(name, rule):
    def pep(rule_args, callback, rei):
        callback.writeLine("serverLog", TRACE_PREFIX + name)
        if rule is None:
            return irods_errors.RULE_ENGINE_CONTINUE
        return rule(rule_args, callback, rei)

    pep.__name__ = name
    return pep


def __getattr__(name):
    rule = getattr(traced, name, None)
    if name.startswith("pep_api_") or name.startswith("ac"):
        return _traced_pep(name, rule)
    if rule is None:
        raise AttributeError(name)
    return rule
