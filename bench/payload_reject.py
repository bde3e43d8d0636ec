"""What a hostile payload at the size cap costs the server (issue 8.7): time and peak memory
of `parse_payload` on a payload of the cap's size (16 MiB by default) full of bad input,
against `json.loads` of the same bytes (the floor: any check must at least parse them).

    python -m bench --only payload_reject        (part of make bench)
    python -m bench.payload_reject [CASE ...]    (a quick table of the cases)

Each case is built here and parsed in a fresh process that only reads it from a file, once
with `parse_payload` and once with `json.loads`, in turn, round after round: its time and
its peak RSS growth while parsing are what the server's agent would spend. Target: every case
rejected in <= 1 s with memory bounded by the cap, i.e. close to the json.loads floor
whatever the number of errors.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from bench import common

FULL = {"cap": 16 << 20, "rounds": 3}
QUICK = {"cap": 4 << 20, "rounds": 1}
CAP = FULL["cap"]
#: The targets of issue 8.7: seconds per rejection at the default cap; memory growth of the
#: check per byte of payload (json.loads alone grows by several times the text).
TARGET_SECONDS = 1.0


def _document(manifest, objects=None):
    omero = {"user": "alice", "group": "lab"}
    if objects is not None:
        omero["objects"] = objects
    return {"schema": "omero-irods/payload", "version": 1, "operation": "ingest",
            "request_id": "20261122T101500Z-6f1c2a9e", "created": "2026-11-22T10:15:00Z", "omero": omero,
            "data": {"kind": "tar", "name": "run1.tar", "size": 1, "sha256": "0" * 64, "members": 1},
            "manifest": manifest}


def _filled(cap, make_entry, key="manifest"):
    """A document whose `key` list is as long as the cap allows."""
    one = len(json.dumps(make_entry(0))) + 2
    count = cap // one
    while True:
        items = [make_entry(index) for index in range(count)]
        raw = json.dumps(_document(items) if key == "manifest" else _document([], objects=items)).encode()
        if len(raw) <= cap:
            return raw
        count -= (len(raw) - cap) // max(one - 2, 1) + 1


def _sha(index):
    return "%064x" % index


CASES = {
    "every sha256 bad": lambda cap: _filled(cap, lambda i: {"path": "f%07d" % i, "size": 1, "sha256": "zz"}),
    "an unknown key per entry": lambda cap: _filled(cap, lambda i: {"path": "f%07d" % i, "size": 1,
                                                                    "sha256": _sha(i), "x%d" % i: 1}),
    "control characters": lambda cap: _filled(cap, lambda i: {"path": "f\u0001%07d" % i, "size": 1,
                                                              "sha256": _sha(i)}),
    "lone surrogates": lambda cap: _filled(cap, lambda i: {"path": "f\ud800%07d" % i, "size": 1, "sha256": _sha(i)}),
    "valid entries, one error at the end": lambda cap: _filled(cap, lambda i: {"path": "run1/f%07d.tif" % i,
                                                                               "size": 1, "sha256": _sha(i)}),
    "objects that are not unique strings": lambda cap: _filled(cap, lambda i: {"a": [i]}, key="objects"),
    "a key repeated in every entry": lambda cap: _filled(cap, lambda i: {"path": "f%07d" % i, "size": 1,
                                                                         "sha256": _sha(i)}).replace(
        b'"size": 1', b'"size": 1, "size": 2'),
    "nested 8 million deep": lambda cap: b"[" * (cap // 2) + b"]" * (cap // 2),
    "nested 9 deep, repeated": lambda cap: b"[" + b",".join([b"[" * 8 + b"]" * 8] * (cap // 17 - 1)) + b"]",
    "a number as long as the cap": lambda cap: b"[" + b"7" * (cap - 2) + b"]",
    "an unterminated string of escaped quotes": lambda cap: b'{"a": "' + b'\\"' * ((cap - 7) // 2),
}


def _rss_bytes():
    """Peak RSS of this process image (VmHWM: getrusage's ru_maxrss survives exec, so it would
    report the parent's peak), or getrusage where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_case(path, what):
    """One parse of the file at `path`, in this fresh process: `what` is 'parse_payload' or
    'json.loads'. {'seconds', 'peak_bytes' (RSS growth), 'outcome'}."""
    from omero_irods.errors import Rejected
    from omero_irods.payload import parse_payload, schema_validator

    with open(path, "rb") as handle:
        raw = handle.read()
    schema_validator("payload.v1.schema.json")  # loaded once per agent in service, not per payload
    before = _rss_bytes()
    started = time.perf_counter()
    try:
        if what == "json.loads":
            json.loads(raw)
            outcome = "parsed"
        else:
            parse_payload(raw, len(raw))
            outcome = "accepted"
    except Rejected as error:
        outcome = error.summary(100)
    except (ValueError, RecursionError) as error:
        outcome = "%s: %s" % (type(error).__name__, str(error)[:80])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_bytes": _rss_bytes() - before, "outcome": outcome}


def _in_child(path, what):
    out = subprocess.run([sys.executable, "-m", "bench.payload_reject", "--one", path, what],
                         capture_output=True, text=True, check=True, env=_child_environment()).stdout
    return json.loads(out)


def _child_environment():
    environment = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.path.join(here, "policy"),
                                                              environment.get("PYTHONPATH")]))
    return environment


def measure_case(workdir, name, cap, rounds):
    """{'subject': [samples], 'baseline': [samples], 'outcome', 'bytes', 'peak_bytes', 'json_peak_bytes'}"""
    path = os.path.join(workdir, "payload.json")
    raw = CASES[name](cap)
    with open(path, "wb") as handle:
        handle.write(raw)
    subject, baseline, peaks, json_peaks, outcome = [], [], [], [], None
    for round_number in range(rounds):
        order = ["parse_payload", "json.loads"][::1 if round_number % 2 == 0 else -1]
        for what in order:
            row = _in_child(path, what)
            sample = {"wall": row["seconds"], "cpu": row["seconds"]}
            if what == "json.loads":
                baseline.append(sample)
                json_peaks.append(row["peak_bytes"])
            else:
                subject.append(sample)
                peaks.append(row["peak_bytes"])
                outcome = row["outcome"]
    os.unlink(path)
    return {"subject": subject, "baseline": baseline, "outcome": outcome, "bytes": len(raw),
            "peak_bytes": max(peaks), "json_peak_bytes": max(json_peaks)}


def run(workdir, cap, rounds):
    """Measure every case; returns common.result(...). A case that is accepted is refused."""
    measures, notes = [], []
    for name in CASES:
        found = measure_case(workdir, name, cap, rounds)
        if not found["outcome"].startswith("rejected"):
            raise RuntimeError("payload_reject: case %r was not rejected: %s" % (name, found["outcome"]))
        seconds = common.median_wall(found["subject"])
        measures.append(common.time_ratio(
            "reject %s (%s)" % (name, common.bytes_text(found["bytes"])), "parse_payload", "json.loads",
            found["subject"], found["baseline"], "<= 1 s at 16 MiB",
            context="%.2f s (json.loads %.2f s); +%s RSS (json.loads +%s)" % (
                seconds, common.median_wall(found["baseline"]), common.bytes_text(found["peak_bytes"]),
                common.bytes_text(found["json_peak_bytes"])),
            outcome=found["outcome"], peak_bytes=found["peak_bytes"], json_peak_bytes=found["json_peak_bytes"]))
        notes.append("%s: %s" % (name, found["outcome"][:110]))
    worst = max(measures, key=lambda entry: entry["peak_bytes"])
    measures.append(common.size_ratio(
        "reject: peak RSS growth, worst case, per payload byte", "parse_payload", "payload bytes",
        worst["peak_bytes"], cap, "bounded (json.loads alone: %.1f)" % (worst["json_peak_bytes"] / float(cap)),
        context="%s for %s" % (common.bytes_text(worst["peak_bytes"]), worst["measure"])))
    notes.insert(0, "each parse in a fresh process reading the payload from a file; the time ratio is the "
                    "median over rounds of parse_payload / json.loads of the same bytes (json.loads may "
                    "fail where parse_payload refuses early: then the floor is its failure).")
    return common.result("payload_reject", {"cap": cap, "rounds": rounds, "cases": list(CASES)}, measures, notes)


def main(argv):
    if argv[:1] == ["--one"]:
        print(json.dumps(run_case(argv[1], argv[2])))
        return 0
    print("%-42s %9s %8s %8s %9s  %s" % ("case (16 MiB cap)", "bytes", "reject", "vs json", "+RSS MiB", "outcome"))
    workdir = tempfile.mkdtemp(prefix="omero-irods-payload-reject-")
    try:
        for name in argv or list(CASES):
            found = measure_case(workdir, name, CAP, 1)
            seconds, floor = found["subject"][0]["wall"], found["baseline"][0]["wall"]
            print("%-42s %9d %7.2fs %7.1fx %9.0f  %s" % (name, found["bytes"], seconds, seconds / max(floor, 1e-6),
                                                        found["peak_bytes"] / 2 ** 20, found["outcome"][:60]))
    finally:
        os.rmdir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
