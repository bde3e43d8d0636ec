"""Compare a sandbox dump with a real zone's dump of the same scenario.

Both are first normalised: vault roots become `<vault:RESOURCE>`, dates `<date>`, epoch
seconds `<time>`, generated request ids `<request_id>`, trace/agent noise dropped. Then every
difference is reported as a dict {kind, where, sandbox, real}. KNOWN_DIFFERENCES lists the
differences that are understood, each with its reason (docs/sandbox.md, "Differences from a
real iRODS 5.0.2 zone", says the same); `unexplained()` is what is left.
"""

import re

#: Steps of the harness (an admin or the clock): they fire no PEP of a client's.
HARNESS_STEPS = ("run_delay_queue", "advance_clock", "purge_delay_queue", "fail_msi", "config")

#: (kind, where-regex, reason key in docs/sandbox.md)
KNOWN_DIFFERENCES = [
    ("pep not emulated", r"^ac(SetRescSchemeFor|RescQuotaPolicy|SetVaultPathPolicy|PostProcForFilePathReg|"
                         r"PreProcForModifyCollMeta|PostProcForModifyCollMeta|PreprocForCollCreate|PostProcForCollCreate|"
                         r"PreprocForDataObjOpen|PostProcForDataCopyReceived|PreProcForModifyAVUMetadata|"
                         r"PostProcForModifyAVUMetadata|PreProcForModifyDataObjMeta|PostProcForModifyDataObjMeta|"
                         r"ChkHostAccessControl|SetPublicUserPolicy|PreConnect)",
     "static-peps"),
    ("pep not emulated", r"^pep_api_(authenticate|obj_stat|gen_query|get_grid_configuration_value)_", "api-peps-not-emulated"),
    ("pep counts", r"\(parallel transfer\)$", "prc-parallel-streams"),
    ("log line only in sandbox", r"sweep of .* started \(first run\)", "sweep-first-run"),
    ("log line only in real", r"sweep of .* started \(first run\)", "sweep-first-run"),
    ("log line only in real", r"(already claimed|is being claimed by another event); duplicate (event )?ignored",
     "duplicate-event-wording"),
    ("log line only in sandbox", r"(is no longer there|already claimed|is being claimed by another event); "
                                 r"duplicate (event )?ignored", "duplicate-event-wording"),
    ("delay queue", r".*", "delay-queue"),
]

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z?)?\b")
_REQUEST_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-zA-Z]{4,}\b")
_EPOCH = re.compile(r"^\d{9,11}$")
#: Where the harness put the user map file (the real zone's /etc/irods, the sandbox's scenario
#: folder): named in an unmapped-user rejection.
_USER_MAP_FILE = re.compile(r"\(/[^()\s]*user_map[^()\s]*\.json\)")
#: Seconds between two sweeps as the sweep logs them: wall time on a real zone.
_SWEEP_AGE = re.compile(r"\b(last run|another one ran) \d+s ago")
#: A detached importer's process and output folder differ per run and host.
_IMPORT_STARTED = re.compile(r"(started \(attempt \d+), pid \d+\); its output goes to \S+")
#: Catalog ids (DATA_ID of a payload) and the detached importer's record (pid, times, boot id).
_RUN_SPECIFIC_AVUS = ("omero_irods::payload_id", "omero_irods::importer")


def normalise_text(text, vault_roots):
    if not isinstance(text, str):
        return text
    for resource, root in sorted(vault_roots.items(), key=lambda item: -len(item[1])):
        text = text.replace(root.rstrip("/"), "<vault:%s>" % resource)
    text = _REQUEST_ID.sub("<request_id>", text)
    text = _DATE.sub("<date>", text)
    text = _SWEEP_AGE.sub(r"\1 <n>s ago", text)
    text = _USER_MAP_FILE.sub("(<user map file>)", text)
    text = _IMPORT_STARTED.sub(r"\1, pid <pid>); its output goes to <import log>", text)
    if _EPOCH.match(text):
        text = "<time>"
    return text


def normalise(value, vault_roots):
    if isinstance(value, list) and len(value) == 3 and value[0] in _RUN_SPECIFIC_AVUS:
        return [value[0], "<run-specific>", value[2]]
    if isinstance(value, dict):
        return {normalise_text(key, vault_roots): normalise(item, vault_roots) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item, vault_roots) for item in value]
    return normalise_text(value, vault_roots)


def _by_path(entries):
    return {entry["path"]: entry for entry in entries}


def differences(sandbox_state, real_state, sandbox_steps, real_steps):
    sandbox = normalise(sandbox_state, sandbox_state.get("_vault_roots", {}))
    real = normalise(real_state, real_state.get("_vault_roots", {}))
    found = []

    def add(kind, where, sandbox_value, real_value):
        found.append({"kind": kind, "where": where, "sandbox": sandbox_value, "real": real_value})

    for key, kind in (("collections", "collection"), ("data_objects", "data object")):
        left, right = _by_path(sandbox[key]), _by_path(real[key])
        for path in sorted(set(left) | set(right)):
            if path not in right:
                add(kind + " only in sandbox", path, left[path], None)
            elif path not in left:
                add(kind + " only in real", path, None, right[path])
            else:
                for field in sorted(set(left[path]) | set(right[path])):
                    if field == "replicas":
                        _compare_replicas(path, left[path]["replicas"], right[path]["replicas"], add)
                    elif field == "avus" and sorted(left[path]["avus"]) == sorted(right[path]["avus"]):
                        continue  # the catalog's AVU order is not part of what an AVU means
                    elif left[path].get(field) != right[path].get(field):
                        add(field if field in ("acl", "avus", "owner", "inherit", "size", "checksum")
                            else "field " + field, path, left[path].get(field), right[path].get(field))
    _compare_lists("import", [_import_view(i) for i in sandbox["imports"]],
                   [_import_view(i) for i in real["imports"]], add)
    _compare_lists("client error", [_error_view(e) for e in sandbox["client_errors"]],
                   [_error_view(e) for e in real["client_errors"]], add)
    left_log, right_log = _policy_lines(sandbox["log"]), _policy_lines(real["log"])
    for line in left_log:
        if line not in right_log:
            add("log line only in sandbox", line, line, None)
    for line in right_log:
        if line not in left_log:
            add("log line only in real", line, None, line)
    left_queue = sorted(rule.get("rule_name") or _queued_name(rule) for rule in sandbox["delay_queue"])
    right_queue = sorted(rule.get("rule_name") for rule in real["delay_queue"])
    if left_queue != right_queue:
        add("delay queue", "delay_queue", left_queue, right_queue)
    _compare_pep_sequences(sandbox_steps, real_steps, add)
    return found


def _compare_pep_sequences(sandbox_steps, real_steps, add):
    """Per client step, the PEPs the sandbox emulates (any it fires anywhere in the run) in the
    order each fired; a parallel transfer's streams interleave on a real server, so its PEPs
    are compared as counts. The PEPs only the real server fired are reported once."""
    from collections import Counter

    emulated = {name for _index, _kind, names in sandbox_steps for name in names}
    real_by_index = {index: names for index, _kind, names in real_steps}
    not_emulated = set()
    for index, kind, names in sandbox_steps:
        if kind in HARNESS_STEPS:
            continue
        real_names = real_by_index.get(index, [])
        not_emulated |= {name for name in real_names if name not in emulated and not name.startswith(_PUT_PEPS)}
        comparable = [name for name in real_names if name in emulated or name.startswith(_PUT_PEPS)]
        parallel = any(name.startswith("pep_api_replica_close") for name in names + comparable)
        if (Counter(names) != Counter(comparable)) if parallel else (names != comparable):
            where = "steps[%d].%s%s" % (index, kind, " (parallel transfer)" if parallel else "")
            if parallel:
                add("pep counts", where, dict(Counter(names) - Counter(comparable)),
                    dict(Counter(comparable) - Counter(names)))
            else:
                add("pep sequence", where, names, comparable)
    for name in sorted(not_emulated):
        add("pep not emulated", name, None, name)


_PUT_PEPS = ("pep_api_data_obj_put", "pep_api_data_obj_open", "pep_api_data_obj_close", "pep_api_data_obj_create",
             "pep_api_replica_open", "pep_api_replica_close", "acPostProcForPut", "acPostProcForCreate")


def _queued_name(rule):
    text = rule.get("rule") or rule.get("text") or rule.get("name") or ""
    match = re.search(r"omero_irods_\w+", str(text))
    return match.group(0) if match else str(text)[:40]


def _compare_replicas(path, left, right, add):
    if len(left) != len(right):
        add("replica count", path, len(left), len(right))
    for a, b in zip(left, right):
        for field in ("resource", "physical_path", "size", "status", "checksum"):
            if a.get(field) != b.get(field):
                add("replica " + field, "%s#%s" % (path, a.get("number")), a.get(field), b.get(field))


def _compare_lists(kind, left, right, add):
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else None
        b = right[index] if index < len(right) else None
        if a != b:
            add(kind, "%s[%d]" % (kind, index), a, b)


def _import_view(call):
    return {"argv": call.get("argv"), "exit": call.get("exit"), "images": call.get("images")}


def _error_view(error):
    return {"step": error.get("step"), "kind": error.get("kind"), "name": error.get("name")}


def _policy_lines(lines):
    """The lines the policy wrote (`omero-irods: ...`). The server's own error lines (a failed
    microservice's) are not in the real dump, which holds writeLine texts only; see
    docs/sandbox.md, `msi-error-lines`."""
    prefix = "writeLine: inString = "
    return [line[len(prefix):] if line.startswith(prefix) else line
            for line in lines if "omero-irods:" in line and "pep_trace" not in line]


def explain(difference):
    """The reason key of a known difference, or None."""
    for kind, pattern, reason in KNOWN_DIFFERENCES:
        if difference["kind"] == kind and re.search(pattern, str(difference["where"])):
            return reason
    return None


def unexplained(found):
    return [difference for difference in found if explain(difference) is None]


def report(found):
    lines = []
    for difference in found:
        lines.append("%-28s %s [%s]\n    sandbox: %s\n    real:    %s" % (
            difference["kind"], difference["where"], explain(difference) or "UNEXPLAINED",
            _short(difference["sandbox"]), _short(difference["real"])))
    return "\n".join(lines) + "\n"


def _short(value, limit=400):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
