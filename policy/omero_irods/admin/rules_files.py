"""Where the deployable rule files are, and how they are copied into /etc/irods."""

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
        done.append((EXAMPLE_CORE, "kept (yours): make sure it has `from omero_irods_rules import *`"
                     if "omero_irods_rules" not in open(core, encoding="utf-8").read() else "kept (yours)"))
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
