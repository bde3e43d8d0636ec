"""Emulation of the plugin's built-in `irods_errors` module: every iRODS error name -> int.

Source: irods/irods_rule_engine_plugin_python `src/irods_errors.cpp` sets one module attribute
per entry of the server's error table and state table (fill_error_constants,
fill_state_constants), so RULE_ENGINE_CONTINUE / RULE_ENGINE_SKIP_OPERATION are here too.
The numbers come from the sandbox's single table, `omero_irods_sandbox.error_codes`.
"""

from omero_irods_sandbox import error_codes as _error_codes

globals().update(_error_codes.names())

del _error_codes
