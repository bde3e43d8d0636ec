# Example /etc/irods/core.py for the iRODS Python rule engine plugin.
#
# The plugin imports this module (`import core`, with /etc/irods on sys.path) and
# calls its functions as rules and policy enforcement points.
#
# If you already have a core.py: add the import line below to it. If your core.py
# defines a PEP of the same name (see omero_irods_rules.__all__), keep yours and call
# ours from it, e.g.
#     def acPostProcForPut(rule_args, callback, rei):
#         your_policy(...)
#         return omero_irods_rules.acPostProcForPut(rule_args, callback, rei)

from omero_irods_rules import *  # noqa: F401,F403  (the PEPs and rules of omero-irods)
