"""The state dump: what a scenario left in the zone, as deterministic JSON.

Keys (docs/sandbox.md, "The dump"): collections, data_objects (with replicas), peps
(every rule that ran), client_errors, imports, delay_queue, log; plus zone, and pep_points:
every PEP the server consulted in order, `rule` telling whether a rule ran for it (the
sequence a client kind produces, even with an empty core.py). Collections and data objects are sorted by path,
ACL entries by name, AVUs keep catalog order; peps, client_errors, imports and log keep the
order in which things happened. Everything is plain JSON (no sets, no tuples).
"""

import json

#: The keys every dump has, in the order they are written.
KEYS = ("zone", "collections", "data_objects", "peps", "pep_points", "client_errors", "irule_output",
        "imports", "delay_queue", "log")


def _avus(record):
    return [[avu.attribute, avu.value, avu.units] for avu in record.avus]


def _acl(record):
    return {name: record.acl[name] for name in sorted(record.acl)}


def collection_entry(collection):
    return {"path": collection.path, "owner": collection.owner, "inherit": bool(collection.inherit),
            "acl": _acl(collection), "avus": _avus(collection)}


def data_object_entry(data_object):
    replicas = [{"number": replica.number, "resource": replica.resource,
                 "physical_path": str(replica.physical_path), "size": replica.size,
                 "status": replica.status, "checksum": replica.checksum}
                for replica in sorted(data_object.replicas, key=lambda r: r.number)]
    return {"path": data_object.path, "size": data_object.size, "owner": data_object.owner,
            "checksum": data_object.checksum, "acl": _acl(data_object), "avus": _avus(data_object),
            "replicas": replicas}


def build(zone, peps=(), client_errors=(), imports=(), delay_queue=(), log=(), irule_output=()):
    """The dump of `zone` (a catalog.Zone) plus what the run recorded around it."""
    return {
        "zone": zone.name if hasattr(zone, "name") else str(zone.root).strip("/"),
        "collections": [collection_entry(c) for c in sorted(zone.collections(), key=lambda c: c.path)],
        "data_objects": [data_object_entry(d) for d in sorted(zone.data_objects(), key=lambda d: d.path)],
        "peps": [dict(pep) for pep in peps],
        "client_errors": [dict(error) for error in client_errors],
        "irule_output": [dict(output) for output in irule_output],
        "imports": [dict(call) for call in imports],
        "delay_queue": [dict(rule) for rule in delay_queue],
        "log": [str(line) for line in log],
    }


def dumps(state):
    """The dump as text: indented JSON with keys in KEYS order, ending in a newline."""
    ordered = {key: state[key] for key in KEYS if key in state}
    # ensure_ascii=False keeps names readable; a lone surrogate (a name iRODS got from a
    # client as undecodable bytes, or hostile input) is written escaped as JSON allows.
    text = json.dumps(ordered, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _has_surrogate(text) else text


def _has_surrogate(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def write(state, path):
    """Write the dump to `path`."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(dumps(state))
