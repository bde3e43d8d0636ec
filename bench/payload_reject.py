"""What a hostile payload at the size cap costs the server: time and peak memory of
`parse_payload` on 16 MiB (the default cap) of bad input, against `json.loads` of the same
bytes (the floor: any check must at least parse).

    python -m bench.payload_reject [CASE ...]

Each case runs in a fresh process (peak RSS is the process's, minus the RSS before parsing).
Target (issue 8.7): every case rejected in <= 1 s with memory bounded by the cap, i.e. close
to the json.loads floor whatever the number of errors.
"""

import json
import resource
import subprocess
import sys
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_case(name):
    """One case in this process: {'case', 'bytes', 'seconds', 'json_seconds', 'peak_mib', 'outcome'}."""
    from omero_irods.errors import Rejected
    from omero_irods.payload import parse_payload, schema_validator

    raw = CASES[name]()
    schema_validator("payload.v1.schema.json")  # loaded once per agent in service, not per payload
    started = time.perf_counter()
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        pass
    floor = time.perf_counter() - started
    before = _rss_bytes()
    started = time.perf_counter()
    try:
        parse_payload(raw, CAP)
        outcome = "accepted"
    except Rejected as error:
        outcome = error.summary(100)
    seconds = time.perf_counter() - started
    return {"case": name, "bytes": len(raw), "seconds": seconds, "json_seconds": floor,
            "peak_mib": max(0, _rss_bytes() - before) / 2 ** 20, "outcome": outcome}


def main(argv):
    if argv[:1] == ["--one"]:
        print(json.dumps(run_case(argv[1])))
        return 0
    print("%-40s %9s %8s %8s %9s  %s" % ("case (16 MiB cap)", "bytes", "reject", "vs json", "+RSS MiB", "outcome"))
    for name in argv or list(CASES):
        out = subprocess.run([sys.executable, "-m", "bench.payload_reject", "--one", name],
                             capture_output=True, text=True, check=True).stdout
        row = json.loads(out)
        print("%-40s %9d %7.2fs %7.1fx %9.0f  %s" % (row["case"], row["bytes"], row["seconds"],
                                                    row["seconds"] / max(row["json_seconds"], 1e-6),
                                                    row["peak_mib"], row["outcome"][:70]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
