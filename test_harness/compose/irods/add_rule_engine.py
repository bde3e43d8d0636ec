"""Put the Python rule engine plugin's stanza first in server_config.json's rule_engines.

    python3 add_rule_engine.py /etc/irods/server_config.json STANZA.json

STANZA.json holds one stanza (an object with "instance_name") or a list of them, e.g. the
project's irods_config/server_config.rule_engine.json. Each goes ahead of every other rule
engine: above "irods_rule_engine_plugin-irods_rule_language" so that Python rules take
precedence over same-named native rules, and before "..cpp_default_policy.." so that default
C++ policies do not cancel Python ones (irods/irods_rule_engine_plugin_python README.md,
"Configuration" and "Default PEPs"). A stanza already present under the same instance_name is
replaced, so running this twice changes nothing. Bad input changes nothing and says why.

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
    """The list of stanzas in a stanza file, each checked to name its instance and plugin."""
    stanzas = document if isinstance(document, list) else [document]
    if not stanzas:
        raise StanzaError("%s: holds no rule engine stanza" % path)
    for index, stanza in enumerate(stanzas):
        where = "%s: stanza %d" % (path, index) if isinstance(document, list) else path
        if not isinstance(stanza, dict):
            raise StanzaError("%s: a stanza must be a JSON object" % where)
        for key in ("instance_name", "plugin_name"):
            if not isinstance(stanza.get(key), str) or not stanza[key]:
                raise StanzaError('%s: "%s" must be a non-empty string' % (where, key))
    return stanzas


def rule_engines_of(server_config, path):
    """The server config's plugin_configuration.rule_engines list (it is edited in place)."""
    plugins = server_config.get("plugin_configuration") if isinstance(server_config, dict) else None
    engines = plugins.get("rule_engines") if isinstance(plugins, dict) else None
    if not isinstance(engines, list):
        raise StanzaError('%s: has no "plugin_configuration.rule_engines" list; is this an iRODS '
                          "server_config.json?" % path)
    return engines


def merged(engines, stanzas):
    """`stanzas` first, in their order, then every other engine in its original order."""
    names = {stanza["instance_name"] for stanza in stanzas}
    return list(stanzas) + [engine for engine in engines
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
    """Merge the stanza file into the server config; returns the instance names now first."""
    stanzas = stanzas_from(load_json(stanza_path, "rule engine stanza file"), stanza_path)
    server_config = load_json(server_config_path, "server config")
    engines = rule_engines_of(server_config, server_config_path)
    server_config["plugin_configuration"]["rule_engines"] = merged(engines, stanzas)
    write_keeping_mode(server_config_path, server_config)
    return [stanza["instance_name"] for stanza in stanzas]


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: add_rule_engine.py SERVER_CONFIG.json STANZA.json", file=sys.stderr)
        return 2
    try:
        names = add_rule_engines(args[0], args[1])
    except StanzaError as error:
        print("add_rule_engine: %s" % error, file=sys.stderr)
        return 1
    print("add_rule_engine: %s now first in %s" % (", ".join(names), args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
