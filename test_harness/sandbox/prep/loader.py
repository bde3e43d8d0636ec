"""Load a rule base as the Python rule engine plugin does, one isolated copy per zone.

The plugin (irods/irods_rule_engine_plugin_python `src/main.cpp`, start / exec_rule):
- appends the config dir (/etc/irods) to `sys.path` and registers `irods_types` and
  `irods_errors` as built-in modules (importable from any module);
- runs `import core` on every rule call (a cached import; a failing import is retried on the
  next call and logged each time);
- injects `irods_types` / `irods_errors` into core's namespace before each call, so core may
  use them without importing (but not at import time);
- `genquery.py` and `session_vars.py` ship in /etc/irods next to core.py.

A real agent holds one interpreter per zone; a test process may hold several zones. A
`RuleBase` therefore keeps its own `core`, `genquery`, `session_vars` and every module loaded
from its etc dir, and swaps them into `sys.modules` only while one of its rules runs.

Each agent is a process of its own on a real server (irods/irods server/main_server: a forked
agent per client connection, and one per delayed rule), so nothing a module keeps at module
level survives from one connection to the next. The policy package `omero_irods` is therefore
the agent's too: imported afresh by the first rule of each agent (`reset`), never shared with
the test process or another agent, so state that only works because it outlives its agent
fails here as it would on the server.
"""

import contextlib
import importlib
import importlib.util
import os
import sys

from omero_irods_sandbox.prep import irods_errors, irods_types

#: Modules the plugin package installs in /etc/irods (used when the etc dir lacks them).
SHIPPED_MODULES = ("genquery", "session_vars")
_SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))


class RuleBase(object):
    """The rule modules of one zone's etc dir (its `core` and what core imports from there)."""

    def __init__(self, etc_dir):
        self.etc_dir = os.path.abspath(str(etc_dir))
        if not os.path.isdir(self.etc_dir):
            raise FileNotFoundError("rule engine config dir %s does not exist" % self.etc_dir)
        self._modules = {}  # this zone's modules, out of sys.modules between calls
        self._owned_files = {}  # module file -> is it in etc_dir (asked for every module, every call)
        #: Callables run once per agent, after its `import core`, with its modules importable:
        #: how a test changes the policy an agent runs (each agent imports it afresh).
        self.agent_hooks = []
        self._hooks_ran = False

    @contextlib.contextmanager
    def active(self):
        """Make this zone's modules the importable ones while a rule runs (re-entrant)."""
        if getattr(self, "_depth", 0):
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        displaced = self._install()
        try:
            yield
        finally:
            self._depth = 0
            self._uninstall(displaced)

    def reset(self):
        """Forget the loaded modules: the next rule call imports core afresh (a new agent)."""
        self._modules = {}
        self._hooks_ran = False

    def core(self):
        """`import core` as exec_rule does; raises whatever the import raises."""
        sys.modules.setdefault("irods_types", irods_types)
        sys.modules.setdefault("irods_errors", irods_errors)
        for name in SHIPPED_MODULES:
            if name not in sys.modules and not os.path.exists(os.path.join(self.etc_dir, name + ".py")):
                sys.modules[name] = _load_shipped(name)
        module = importlib.import_module("core")
        if not self._hooks_ran:
            self._hooks_ran = True
            for hook in self.agent_hooks:
                hook()
        return module

    def inject_builtins(self, core_module):
        """exec_rule: core_namespace['irods_types'] / ['irods_errors'] before each call."""
        core_module.irods_types = irods_types
        core_module.irods_errors = irods_errors

    # -- sys.modules / sys.path swapping ---------------------------------------------------
    def _install(self):
        displaced = {}
        for name in list(sys.modules):
            if name in self._modules or name == "core" or name in SHIPPED_MODULES or _per_agent(name):
                displaced[name] = sys.modules.pop(name)
        sys.modules.update(self._modules)
        self._path_added = self.etc_dir not in sys.path
        if self._path_added:
            sys.path.append(self.etc_dir)
        importlib.invalidate_caches()
        return displaced

    def _uninstall(self, displaced):
        for name, module in list(sys.modules.items()):
            if self._owns(name, module):
                self._modules[name] = sys.modules.pop(name)
        if self._path_added and self.etc_dir in sys.path:
            sys.path.remove(self.etc_dir)
        sys.modules.update(displaced)

    def _owns(self, name, module):
        if name in self._modules or name == "core" or name in SHIPPED_MODULES or _per_agent(name):
            return True
        module_file = getattr(module, "__file__", None)
        if not module_file:
            return False
        owned = self._owned_files.get(module_file)
        if owned is None:
            owned = self._owned_files[module_file] = os.path.abspath(module_file).startswith(self.etc_dir + os.sep)
        return owned


def _per_agent(module_name):
    """The policy package: its module-level state lives as long as one agent."""
    return module_name == "omero_irods" or module_name.startswith("omero_irods.")


def _load_shipped(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_SHIPPED_DIR, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
