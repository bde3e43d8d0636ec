"""TEST TIER ONLY: a core.py that records every PEP the server asks for, then runs the rules.

The real-server tier installs this as /etc/irods/core.py and the deployed core.py as
omero_irods_deployed_core.py. The Python rule engine plugin asks core for a rule of each PEP's
name (irods/irods_rule_engine_plugin_python src/main.cpp, rule_exists: `hasattr(core, name)`);
a module-level __getattr__ (PEP 562) answers for every `pep_api_*` and legacy `ac*` name with
a wrapper that writes `omero_irods.pep_trace NAME` to the serverLog and then calls the deployed
rule of that name, or returns RULE_ENGINE_CONTINUE where there is none, so the next rule engine
runs as it would without this file. Network and database PEPs are not traced: a writeLine in
them breaks the agent's authentication (seen on the kit's iRODS 5.0.2).
Delayed and admin rules (omero_irods_*) pass through untraced.
"""

import irods_errors

import omero_irods_deployed_core as deployed

TRACE_PREFIX = "omero_irods.pep_trace "


def _traced(name, rule):
    def pep(rule_args, callback, rei):
        callback.writeLine("serverLog", TRACE_PREFIX + name)
        if rule is None:
            return irods_errors.RULE_ENGINE_CONTINUE
        return rule(rule_args, callback, rei)

    pep.__name__ = name
    return pep


def __getattr__(name):
    rule = getattr(deployed, name, None)
    if name.startswith("pep_api_") or name.startswith("ac"):
        return _traced(name, rule)
    if rule is None:
        raise AttributeError(name)
    return rule
