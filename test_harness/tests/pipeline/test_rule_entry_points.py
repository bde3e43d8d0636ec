"""The rules file is a table of contents over one table (prep.RULES), and loading it at agent
start costs a few pure-Python modules: iRODS starts an agent per client connection and each
imports core afresh (irods/irods server/main_server/src/agent_main.cpp; the plugin imports core
in `start`: irods/irods_rule_engine_plugin_python src/main.cpp)."""

import ast
import os
import subprocess
import sys

import omero_irods
from omero_irods import names
from omero_irods.adapters import prep

RULES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "rules")
RULES_FILE = os.path.join(RULES_DIR, "omero_irods_rules.py")


def _rule_functions():
    """{function name: the names.RULE_* attribute its prep.run_rule call passes} of the rules file."""
    tree = ast.parse(open(RULES_FILE, encoding="utf-8").read())
    found = {}
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run_rule":
                found[function.name] = node.args[0].attr
    return found


def test_each_delayed_and_admin_rule_of_the_rules_file_runs_its_own_entry_of_the_table():
    functions = _rule_functions()
    assert {getattr(names, attribute) for attribute in functions.values()} == set(prep.RULES)
    for function_name, attribute in functions.items():
        assert getattr(names, attribute) == function_name, "%s runs the table's %s" % (function_name, attribute)


def test_every_scheduled_rule_name_is_in_the_table():
    for rule in (names.RULE_PROCESS, names.RULE_IMPORT, names.RULE_IMPORT_CHECK, names.RULE_WATCH, names.RULE_SWEEP):
        assert rule in prep.RULES


def test_importing_core_loads_only_the_entry_points_and_their_string_tests(tmp_path):
    """No re, json, datetime, io, pipeline, config or jsonschema at agent start: they load on
    the first payload, delayed rule or guarded operation. The package is found on sys.path,
    as on a server (an editable install's import hook would import pathlib and re itself)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(omero_irods.__file__)))
    probe = ("import sys; before = set(sys.modules); sys.path.append(sys.argv[1]); import core; "
             "print(' '.join(sorted(set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-c", probe, os.path.abspath(RULES_DIR)], capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONPATH=package_parent))
    loaded = set(done.stdout.split())
    assert loaded == {"core", "omero_irods_rules", "omero_irods", "omero_irods.names", "omero_irods.triggers",
                      "omero_irods.adapters", "omero_irods.adapters.prep"}
