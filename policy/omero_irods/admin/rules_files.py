"""Where the deployable rule files are, and how they are copied into /etc/irods."""

import ast
import filecmp
import os
import shutil
import sys

#: The module every zone needs, and the example core.py (copied only where none exists).
RULES_MODULE = "omero_irods_rules.py"
EXAMPLE_CORE = "core.py"


def find_rules_dir(option=None, required=RULES_MODULE):
    """`option`, else the checkout's rules/ (next to policy/), else
    <sys.prefix>/share/omero-irods/rules (where `pip install` puts them: setup.cfg data_files);
    the first that holds `required`."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [option] if option else [
        os.path.join(here, os.pardir, os.pardir, os.pardir, "rules"),
        os.path.join(sys.prefix, "share", "omero-irods", "rules"),
    ]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, required)):
            return os.path.abspath(candidate)
    raise FileNotFoundError(
        "no omero-irods rules found: %s holds no %s" % (" nor ".join(map(os.path.normpath, candidates)), required))


def install_rules(etc_dir, rules_dir=None):
    """Copy the rules into etc_dir; never overwrite an admin's core.py. Returns what was done,
    as (file, action) pairs: 'installed', 'updated', 'unchanged', 'kept (yours)'."""
    source_dir = find_rules_dir(rules_dir)
    done = [(RULES_MODULE, _copy(os.path.join(source_dir, RULES_MODULE), os.path.join(etc_dir, RULES_MODULE)))]
    core = os.path.join(etc_dir, EXAMPLE_CORE)
    if os.path.exists(core):
        done.append((EXAMPLE_CORE, _check_site_core(core, exported_names(os.path.join(source_dir, RULES_MODULE)))))
    else:
        done.append((EXAMPLE_CORE, _copy(os.path.join(source_dir, EXAMPLE_CORE), core)))
    return done


def _copy(source, target):
    if os.path.exists(target):
        if filecmp.cmp(source, target, shallow=False):
            return "unchanged"
        shutil.copy2(target, target + ".omero-irods-previous")
        shutil.copy2(source, target)
        return "updated (previous kept as %s.omero-irods-previous)" % os.path.basename(target)
    shutil.copy2(source, target)
    return "installed"


def exported_names(rules_module):
    """The PEPs and rules omero_irods_rules.py defines (its __all__), read without importing
    it (it needs the rule engine plugin's built-in modules)."""
    with open(rules_module, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), rules_module)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError("%s has no __all__" % rules_module)


def _check_site_core(core, ours):
    """What an admin's own core.py still needs: the import line, and chaining for every PEP
    it defines that omero-irods defines too (in a module, the definition made last wins)."""
    with open(core, encoding="utf-8") as handle:
        text = handle.read()
    notes = []
    if "omero_irods_rules" not in text:
        notes.append("make sure it has `from omero_irods_rules import *`")
    try:
        defined = {node.name for node in ast.parse(text, core).body if isinstance(node, ast.FunctionDef)}
    except SyntaxError as error:
        return "kept (yours), but it does not parse: %s" % error
    shared = sorted(defined.intersection(ours))
    if shared:
        notes.append("it defines %s, which omero_irods_rules defines too: only the one defined last "
                     "runs, so make it call the other (docs/deploy.md, section 3)" % ", ".join(shared))
    return "kept (yours)" + (": " + "; ".join(notes) if notes else "")
