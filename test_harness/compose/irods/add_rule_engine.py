"""Bring server_config.json's rule_engines into the order omero-irods needs, Python first.

    python3 add_rule_engine.py /etc/irods/server_config.json STANZAS.json

STANZAS.json is the project's irods_config/server_config.rule_engine.json, a fragment of a
server_config.json (`{"plugin_configuration": {"rule_engines": [...]}}`), or just the list.
Its engines come first, in its order: the Python rule engine plugin above
"irods_rule_engine_plugin-irods_rule_language", so that Python rules take precedence over
same-named native rules, and before "..cpp_default_policy..", so that default C++ policies do
not cancel Python ones (irods/irods_rule_engine_plugin_python README.md, "Configuration" and
"Default PEPs"). An engine the server already has keeps its own settings (only its place
changes); one it lacks is added as the fragment gives it; engines the fragment does not name
follow in their old order. Running this twice changes nothing; bad input changes nothing and
says why.

Stdlib only: it runs with the server's own python3 before anything else is installed.
"""

import json
import os
import sys
import tempfile


class StanzaError(Exception):
    """Input that cannot be merged; the message names the file and the field."""


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise StanzaError("%s: cannot read the %s: %s" % (path, what, error.strerror))
    except ValueError as error:
        raise StanzaError("%s: the %s is not valid JSON: %s" % (path, what, error))


def stanzas_from(document, path):
    """The stanza list of a fragment (or bare list), each checked to name instance and plugin."""
    if isinstance(document, dict):
        plugins = document.get("plugin_configuration")
        document = plugins.get("rule_engines") if isinstance(plugins, dict) else None
    if not isinstance(document, list):
        raise StanzaError('%s: expected {"plugin_configuration": {"rule_engines": [...]}} or a '
                          "list of rule engine stanzas" % path)
    if not document:
        raise StanzaError("%s: holds no rule engine stanza" % path)
    for index, stanza in enumerate(document):
        where = "%s: stanza %d" % (path, index)
        if not isinstance(stanza, dict):
            raise StanzaError("%s: a stanza must be a JSON object" % where)
        for key in ("instance_name", "plugin_name"):
            if not isinstance(stanza.get(key), str) or not stanza[key]:
                raise StanzaError('%s: "%s" must be a non-empty string' % (where, key))
    return document


def rule_engines_of(server_config, path):
    """The server config's plugin_configuration.rule_engines list (it is edited in place)."""
    plugins = server_config.get("plugin_configuration") if isinstance(server_config, dict) else None
    engines = plugins.get("rule_engines") if isinstance(plugins, dict) else None
    if not isinstance(engines, list):
        raise StanzaError('%s: has no "plugin_configuration.rule_engines" list; is this an iRODS '
                          "server_config.json?" % path)
    return engines


def merged(engines, stanzas):
    """The fragment's engines first, in its order (existing settings kept), then the rest."""
    existing = {engine.get("instance_name"): engine for engine in engines if isinstance(engine, dict)}
    names = [stanza["instance_name"] for stanza in stanzas]
    first = [existing.get(stanza["instance_name"], stanza) for stanza in stanzas]
    return first + [engine for engine in engines
                    if not (isinstance(engine, dict) and engine.get("instance_name") in names)]


def write_keeping_mode(path, document):
    """Replace `path` atomically, keeping its permission bits (server_config holds secrets)."""
    mode = os.stat(path).st_mode & 0o7777
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".server_config.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=4)
            out.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def add_rule_engines(server_config_path, stanza_path):
    """Merge the stanza file into the server config; returns the instance names, in order."""
    stanzas = stanzas_from(load_json(stanza_path, "rule engine stanza file"), stanza_path)
    server_config = load_json(server_config_path, "server config")
    engines = rule_engines_of(server_config, server_config_path)
    server_config["plugin_configuration"]["rule_engines"] = merged(engines, stanzas)
    write_keeping_mode(server_config_path, server_config)
    return [stanza["instance_name"] for stanza in stanzas]


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: add_rule_engine.py SERVER_CONFIG.json STANZAS.json", file=sys.stderr)
        return 2
    try:
        names = add_rule_engines(args[0], args[1])
    except StanzaError as error:
        print("add_rule_engine: %s" % error, file=sys.stderr)
        return 1
    print("add_rule_engine: rule engines of %s now begin %s" % (args[0], ", ".join(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
