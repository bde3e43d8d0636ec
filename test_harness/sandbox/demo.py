"""`make demo` / `omero-irods sandbox demo`: the bundled scenario and a readable summary of a dump."""

import os

SCENARIO_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "demo.json")


def _avus(entry):
    return "".join("\n      avu %s = %s%s" % (a, v, " " + u if u else "") for a, v, u in entry["avus"])


def _acl(entry):
    return ", ".join("%s:%s" % (name, level) for name, level in entry["acl"].items())


def _pep_lines(state):
    """One line per API call (its dynamic PEPs folded: pre, post, except, finally), static PEPs
    indented under the call they fire in; '*' marks a PEP for which a rule ran."""
    lines, open_calls = [], {}
    for point in state.get("pep_points", []):
        mark = "*" if point["rule"] else " "
        result = "" if point["result"] in (None, 0) else " -> %s" % point["result"]
        base, _, kind = point["name"].rpartition("_")
        if point["name"].startswith("pep_api_") and kind in ("pre", "post", "except", "finally"):
            if kind == "pre" or base not in open_calls:
                open_calls[base] = len(lines)
                lines.append([base, [], point["path"]])
            lines[open_calls[base]][1].append(mark + kind + result)
        else:
            lines.append(["    " + point["name"], [mark.strip() + result], point["path"]])
    return _fold_repeats(["  %-40s %-28s %s" % (name, " ".join(kinds), path or "(no path in the args)")
                          for name, kinds, path in lines])


def _fold_repeats(lines):
    """'line  (x3)' for a run of identical lines (PRC's buffered file seeks a lot)."""
    folded = []
    for line in lines:
        if folded and folded[-1][0] == line:
            folded[-1][1] += 1
        else:
            folded.append([line, 1])
    return [line + ("  (x%d)" % count if count > 1 else "") for line, count in folded]


#: Collections every zone has; the summary leaves them out unless they hold something.
def _is_system(path, zone):
    return path in ("/", "/" + zone, "/%s/home" % zone, "/%s/trash" % zone) or path.startswith(
        ("/%s/trash/" % zone, "/%s/home/public" % zone, "/%s/home/rods" % zone))


def summary(state, pep_trace=False):
    """The dump as text: each request's story first (pushed, placed with its ACLs and AVUs,
    imported), then the importer runs, client errors, the whole tree and the server log; the
    PEPs the server consulted (and which rules ran) only with `pep_trace`."""
    out = ["What happened to each request:"]
    out += _stories(state) or ["  (no request)"]
    out.append("")
    out.append("OMERO imports:")
    out += ["  exit %s images %s: %s" % (i["exit"], i["images"], " ".join(i["argv"])) for i in state["imports"]] \
        or ["  (none)"]
    out.append("Errors clients saw:")
    out += ["  step %s %s: %s" % (e["step"], e["kind"], e["message"]) for e in state["client_errors"]] \
        or ["  (none)"]
    out.append("Still in the delay queue: %d" % len(state["delay_queue"]))
    out.append("")
    out += _tree(state)
    out.append("Server log:")
    out += ["  " + line.splitlines()[0] if line else "" for line in state["log"]] or ["  (empty)"]
    out.append("")
    if pep_trace:
        out.append("PEPs the server consulted, in order (* = a rule ran):")
        out += _pep_lines(state) or ["  (none)"]
    else:
        out.append("(The PEPs each upload fired, and which rules ran: add --pep-trace.)")
    return "\n".join(out) + "\n"


def _stories(state):
    """Per request record: request -> where its data was placed (ACL, AVUs, files) -> OMERO
    images; then any payload that no record claimed."""
    from omero_irods import names

    entries = {e["path"]: e for e in state["collections"] + state["data_objects"]}
    lines, told = [], set()
    for entry in state["collections"]:
        avus = _values(entry)
        if names.AVU_STATE not in avus:  # records are the collections that carry a state
            continue
        first = lambda name: (avus.get(name) or ["?"])[0]  # noqa: E731
        told.add(first(names.AVU_REQUEST_ID))
        lines.append("  Request %s: %s for OMERO user %s (group %s), now %s" % (
            first(names.AVU_REQUEST_ID), first(names.AVU_OPERATION), first(names.AVU_OMERO_USER),
            first(names.AVU_OMERO_GROUP), first(names.AVU_STATE)))
        lines.append("    record %s (owner %s)" % (entry["path"], entry["owner"]))
        if names.AVU_ERROR in avus:
            lines.append("    error: %s" % first(names.AVU_ERROR))
        placed = entries.get(first(names.AVU_DESTINATION))
        if placed:
            lines.append("    placed at %s  (owner %s; ACL %s)%s" % (placed["path"], placed["owner"], _acl(placed),
                                                                   _avus(placed).replace("\n      ", "\n        ")))
            files = [e for e in state["data_objects"] if e["path"].startswith(placed["path"] + "/")]
            for item in files:
                lines.append("      %s  (%d bytes; ACL %s)" % (item["path"][len(placed["path"]) + 1:], item["size"],
                                                            _acl(item)))
        if names.AVU_OMERO_IMAGES in avus:
            lines.append("    imported into OMERO: images %s" % ", ".join(avus[names.AVU_OMERO_IMAGES]))
    for entry in state["data_objects"]:
        name = entry["path"].rsplit("/", 1)[-1]
        if name.endswith(names.PAYLOAD_SUFFIX) and name[: -len(names.PAYLOAD_SUFFIX)] not in told:
            lines.append("  Payload %s: never processed (no record: did the rules run?)" % entry["path"])
    return lines


def _values(entry):
    values = {}
    for attribute, value, _units in entry["avus"]:
        values.setdefault(attribute, []).append(value)
    return values


def _tree(state):
    out = ["Everything in the zone -- collections (owner; ACL), system collections left out:"]
    zone = state.get("zone", "")
    out += ["  %s  (%s; %s)%s" % (c["path"], c["owner"], _acl(c), _avus(c))
            for c in state["collections"] if not _is_system(c["path"], zone)]
    out.append("Data objects (size, owner; ACL; replicas):")
    for entry in state["data_objects"]:
        replicas = ", ".join("%s#%d %s" % (r["resource"], r["number"], r["status"]) for r in entry["replicas"])
        out.append("  %s  (%d bytes, %s; %s; %s)%s" % (entry["path"], entry["size"], entry["owner"],
                                                       _acl(entry), replicas, _avus(entry)))
    return out
