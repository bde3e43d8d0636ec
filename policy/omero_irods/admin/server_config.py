"""`omero-irods admin enable-rule-engine`: put the Python rule engine plugin first in
server_config.json's rule engines, safely.

The fragment (irods_config/server_config.rule_engine.json, shipped with the package) lists the
engines in the order omero-irods needs: the Python plugin above the native rule language, so
that Python rules take precedence over same-named native rules, and before the C++ default
policy engine, so that default C++ policies do not cancel Python ones (irods/
irods_rule_engine_plugin_python README.md, "Configuration" and "Default PEPs"). The fragment's
engines come first, in its order; an engine the server already has keeps its own settings (only
its place changes); one it lacks is added as the fragment gives it; the others follow in their
old order.

Safety: nothing is written when the order is already right (idempotent) or when either file is
malformed (the message names the file and field); otherwise the old file is kept as a backup
beside it first, with its mode and owner, and the new one replaces it atomically with the same
mode and owner (server_config.json holds the database password; the server reads it as its
service account). `--dry-run` prints the unified diff and changes nothing.
"""

import difflib
import json
import os
import sys
import tempfile
import time

FRAGMENT = "server_config.rule_engine.json"
BACKUP_SUFFIX = ".omero-irods-backup"


class ServerConfigError(Exception):
    """Input that cannot be merged; the message names the file and the field."""


def find_fragment(option=None):
    """`option`, else the checkout's irods_config/, else share/omero-irods/irods_config under
    the install's data folder (setup.cfg data_files; /usr/local on Debian's system Python, where
    sys.prefix is /usr) or sys.prefix."""
    if option:
        return option
    import sysconfig

    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (os.path.join(here, os.pardir, os.pardir, os.pardir, "irods_config"),
                   os.path.join(sysconfig.get_paths()["data"], "share", "omero-irods", "irods_config"),
                   os.path.join(sys.prefix, "share", "omero-irods", "irods_config")):
        if os.path.isfile(os.path.join(folder, FRAGMENT)):
            return os.path.normpath(os.path.join(folder, FRAGMENT))
    raise ServerConfigError("no %s found with this installation; pass --stanzas FILE" % FRAGMENT)


def enable_rule_engine(server_config_path, fragment_path, dry_run=False, now=time.time):
    """(changed, diff text, backup path or None). Writes nothing on dry_run or when unchanged."""
    stanzas = stanzas_from(_load(fragment_path, "rule engine fragment"), fragment_path)
    original_text = _read(server_config_path, "server config")
    document = _parse(original_text, server_config_path, "server config")
    problem = hash_scheme_problem(document)
    if problem:
        raise ServerConfigError("%s: %s" % (server_config_path, problem))
    engines = rule_engines_of(document, server_config_path)
    document["plugin_configuration"]["rule_engines"] = merged(engines, stanzas)
    if merged(engines, stanzas) == engines:
        return False, "", None
    new_text = json.dumps(document, indent=4) + "\n"
    diff = "".join(difflib.unified_diff(
        _pretty(original_text).splitlines(True), new_text.splitlines(True),
        server_config_path, server_config_path + " (omero-irods)"))
    if dry_run:
        return True, diff, None
    backup = _backup(server_config_path, original_text, now())
    _replace(server_config_path, new_text)
    return True, diff, backup


def hash_scheme_problem(document):
    """Why the zone's checksums cannot verify a push, or None. The policy compares every file
    with the sha256 the push computed, through the checksum the server registers: the server
    computes it with `default_hash_scheme` (irods/irods server/api/src/rsFileChksum.cpp; SHA256
    when unset), so an MD5 zone would end every request `checksum_scheme`."""
    scheme = document.get("default_hash_scheme", "SHA256")
    if str(scheme).upper() != "SHA256":
        return ('default_hash_scheme is %r: omero-irods verifies every file by its sha256, so set '
                '"default_hash_scheme": "SHA256" and restart; nothing was changed' % scheme)
    return None


def stanzas_from(document, path):
    """The stanza list of a fragment (or a bare list), each naming its instance and plugin."""
    if isinstance(document, dict):
        plugins = document.get("plugin_configuration")
        document = plugins.get("rule_engines") if isinstance(plugins, dict) else None
    if not isinstance(document, list) or not document:
        raise ServerConfigError('%s: expected {"plugin_configuration": {"rule_engines": [...]}} with at least '
                                "one rule engine stanza" % path)
    for index, stanza in enumerate(document):
        for key in ("instance_name", "plugin_name"):
            if not isinstance(stanza, dict) or not isinstance(stanza.get(key), str) or not stanza[key]:
                raise ServerConfigError('%s: rule engine %d: "%s" must be a non-empty string' % (path, index, key))
    return document


def rule_engines_of(document, path):
    plugins = document.get("plugin_configuration") if isinstance(document, dict) else None
    engines = plugins.get("rule_engines") if isinstance(plugins, dict) else None
    if not isinstance(engines, list):
        raise ServerConfigError('%s: has no "plugin_configuration.rule_engines" list; is this an iRODS '
                                "server_config.json?" % path)
    return engines


def merged(engines, stanzas):
    """The fragment's engines first, in its order (existing settings kept), then the rest."""
    existing = {engine.get("instance_name"): engine for engine in engines if isinstance(engine, dict)}
    names = [stanza["instance_name"] for stanza in stanzas]
    first = [existing.get(name, stanza) for name, stanza in zip(names, stanzas)]
    return first + [engine for engine in engines
                    if not (isinstance(engine, dict) and engine.get("instance_name") in names)]


def _read(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ServerConfigError("%s: cannot read the %s: %s" % (path, what, error.strerror))
    except UnicodeDecodeError as error:
        raise ServerConfigError("%s: the %s is not UTF-8: %s" % (path, what, error))


def _parse(text, path, what):
    try:
        return json.loads(text)
    except ValueError as error:
        raise ServerConfigError("%s: the %s is not valid JSON: %s" % (path, what, error))


def _load(path, what):
    return _parse(_read(path, what), path, what)


def _pretty(text):
    """The old file as the new one is written, so the diff shows the change, not the layout."""
    return json.dumps(json.loads(text), indent=4) + "\n"


def _backup(path, text, timestamp):
    """Keep the old file as <path>.omero-irods-backup-<UTC time>, never overwriting one."""
    status = os.stat(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(timestamp))
    for attempt in range(100):
        backup = "%s%s-%s%s" % (path, BACKUP_SUFFIX, stamp, "" if attempt == 0 else ".%d" % attempt)
        try:
            handle = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        _same_owner_and_mode(backup, status)
        return backup
    raise ServerConfigError("%s: too many backups named %s%s-%s*" % (path, path, BACKUP_SUFFIX, stamp))


def _replace(path, text):
    status = os.stat(path)
    handle, temporary = tempfile.mkstemp(prefix=".server_config.", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        _same_owner_and_mode(temporary, status)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _same_owner_and_mode(path, status):
    if os.geteuid() == 0:  # root may hand the file back to the server's account
        os.chown(path, status.st_uid, status.st_gid)
    os.chmod(path, status.st_mode & 0o7777)
