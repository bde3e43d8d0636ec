"""TEST STACK ONLY: a /etc/irods/core.py that logs every put-related PEP, then runs the real one.

The compose entrypoint installs this as core.py when OMERO_IRODS_PEP_TRACE=1, with the
deployed core.py moved to omero_irods_traced_core.py. Each traced PEP writes one serverLog
line `omero_irods.pep_trace <pep name>` and then calls omero-irods' rule of that name; where
omero-irods defines none it returns RULE_ENGINE_CONTINUE, so the next rule engine (core.re)
still runs as it would without this file (irods/irods server/re/include/irods/irods_re_plugin.hpp:
a continuation code passes the rule on to the next plugin). test_harness/tests/realstack
compares the logged sequence for iput and python-irodsclient puts with the sandbox's.

The Python rule engine plugin calls a rule when `core` has an attribute of its name
(irods/irods_rule_engine_plugin_python src/main.cpp, rule_exists), so the wrappers are
module attributes; logging goes through writeLine because print() goes nowhere since 4.3.
"""

import irods_errors

import omero_irods_traced_core as traced
from omero_irods_traced_core import *  # noqa: F401,F403  (delayed and admin rules unchanged)

TRACE_PREFIX = "omero_irods.pep_trace "

# The PEPs around a data object upload (irods/irods server/api/src/rsDataObjPut.cpp,
# rsDataObjOpen.cpp, rsDataObjWrite.cpp, rsDataObjClose.cpp, rsReplicaClose.cpp).
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


for _name in TRACED_PEPS:
    globals()[_name] = _traced_pep(_name, getattr(traced, _name, None))
