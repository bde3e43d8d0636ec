"""What a hostile payload at the size cap costs the server: time and peak memory of
`parse_payload` on 16 MiB (the default cap) of bad input, against `json.loads` of the same
bytes (the floor: any check must at least parse).

    python -m bench.payload_reject [CASE ...]

Each case is built here and parsed in a fresh process that only reads it from a file: its
peak RSS growth while parsing is what the server's agent would add.
Target (issue 8.7): every case rejected in <= 1 s with memory bounded by the cap, i.e. close
to the json.loads floor whatever the number of errors.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CAP = 16 << 20


def _document(manifest, objects=None):
    omero = {"user": "alice", "group": "lab"}
    if objects is not None:
        omero["objects"] = objects
    return {"schema": "omero-irods/payload", "version": 1, "operation": "ingest",
            "request_id": "20261122T101500Z-6f1c2a9e", "created": "2026-11-22T10:15:00Z", "omero": omero,
            "data": {"kind": "tar", "name": "run1.tar", "size": 1, "sha256": "0" * 64, "members": 1},
            "manifest": manifest}


def _filled(make_entry, key="manifest"):
    """A document whose `key` list is as long as the cap allows."""
    one = len(json.dumps(make_entry(0))) + 2
    count = CAP // one
    while True:
        items = [make_entry(index) for index in range(count)]
        raw = json.dumps(_document(items) if key == "manifest" else _document([], objects=items)).encode()
        if len(raw) <= CAP:
            return raw
        count -= (len(raw) - CAP) // max(one - 2, 1) + 1


CASES = {
    "every sha256 bad": lambda: _filled(lambda i: {"path": "f%07d" % i, "size": 1, "sha256": "zz"}),
    "an unknown key per entry": lambda: _filled(lambda i: {"path": "f%07d" % i, "size": 1, "sha256": "a" * 64,
                                                           "x%d" % i: 1}),
    "control characters": lambda: _filled(lambda i: {"path": "f\u0001%07d" % i, "size": 1, "sha256": "a" * 64}),
    "lone surrogates": lambda: _filled(lambda i: {"path": "f\ud800%07d" % i, "size": 1, "sha256": "a" * 64}),
    "one error at the end": lambda: _filled(lambda i: {"path": "f%07d" % i, "size": 1, "sha256": "a" * 64}),
    "objects that are not unique strings": lambda: _filled(lambda i: {"a": [i]}, key="objects"),
    "nested 8 million deep": lambda: b"[" * (CAP // 2) + b"]" * (CAP // 2),
    "nested 100 deep (within json's limit)": lambda: b'{"a":' + b"[" * 100 + b"]" * 100 + b"}",
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


def run_case(name, path):
    """One case, read from `path`: {'case', 'bytes', 'seconds', 'json_seconds', 'peak_mib', 'outcome'}."""
    from omero_irods.errors import Rejected
    from omero_irods.payload import parse_payload, schema_validator

    with open(path, "rb") as handle:
        raw = handle.read()
    schema_validator("payload.v1.schema.json")  # loaded once per agent in service, not per payload
    before = _rss_bytes()
    started = time.perf_counter()
    try:
        parse_payload(raw, CAP)
        outcome = "accepted"
    except Rejected as error:
        outcome = error.summary(100)
    seconds = time.perf_counter() - started
    grown = _rss_bytes() - before
    started = time.perf_counter()
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        pass
    floor = time.perf_counter() - started
    return {"case": name, "bytes": len(raw), "seconds": seconds, "json_seconds": floor,
            "peak_mib": grown / 2 ** 20, "outcome": outcome}


def main(argv):
    if argv[:1] == ["--one"]:
        print(json.dumps(run_case(argv[1], argv[2])))
        return 0
    print("%-40s %9s %8s %8s %9s  %s" % ("case (16 MiB cap)", "bytes", "reject", "vs json", "+RSS MiB", "outcome"))
    for name in argv or list(CASES):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(CASES[name]())
        try:
            out = subprocess.run([sys.executable, "-m", "bench.payload_reject", "--one", name, handle.name],
                                 capture_output=True, text=True, check=True).stdout
        finally:
            os.unlink(handle.name)
        row = json.loads(out)
        print("%-40s %9d %7.2fs %7.1fx %9.0f  %s" % (row["case"], row["bytes"], row["seconds"],
                                                    row["seconds"] / max(row["json_seconds"], 1e-6),
                                                    row["peak_mib"], row["outcome"][:70]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
