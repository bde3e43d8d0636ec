"""setup.cfg lists its packages by hand (they live in two source folders): every folder
with an __init__.py must be listed, or `pip install .` ships a command that cannot import."""

import configparser
import fnmatch
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _setup_cfg():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return parser


def _listed_packages(parser):
    return {line.strip() for line in parser["options"]["packages"].splitlines() if line.strip()}


def _package_dirs(parser):
    mapping = dict(line.split("=", 1) for line in parser["options"]["package_dir"].strip().splitlines())
    return {name.strip(): folder.strip() for name, folder in mapping.items()}


def test_every_python_package_folder_is_listed_in_setup_cfg():
    parser = _setup_cfg()
    found = set()
    for top, folder in _package_dirs(parser).items():
        for here, _dirs, files in os.walk(os.path.join(ROOT, folder)):
            if "__init__.py" in files:
                relative = os.path.relpath(here, os.path.join(ROOT, folder))
                found.add(top if relative == "." else top + "." + relative.replace(os.sep, "."))
    missing = {package for package in found - _listed_packages(parser) if not _shipped_as_data(parser, package)}
    assert not missing, "add to setup.cfg [options] packages: %s" % sorted(missing)


def _shipped_as_data(parser, package):
    """A folder shipped as its parent package's data instead (the sandbox's stand-in of
    omero-py, `omero_py/`, must not become an importable package of the install): every .py
    file in it matches a [options.package_data] pattern of a listed package."""
    for owner, patterns in parser["options.package_data"].items():
        if not package.startswith(owner + "."):
            continue
        folder = package[len(owner) + 1:].replace(".", "/")
        globs = [pattern.strip() for pattern in patterns.split(",")]
        if any(fnmatch.fnmatch(folder + "/__init__.py", glob) for glob in globs):
            return True
    return False


def test_data_files_named_in_setup_cfg_exist():
    parser = _setup_cfg()
    for target, sources in parser["options.data_files"].items():
        for source in sources.split(","):
            assert os.path.isfile(os.path.join(ROOT, source.strip())), "%s (for %s) is missing" % (source, target)
