"""`make bench` / `python -m bench [--quick] [--only NAME ...] [--json FILE]` from the repository root.

Runs each benchmark in its own temporary directory, prints one table of ratios, and writes
every number (all samples, parameters, the machine) to bench/results.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time

from bench import archive_walk, common, ingest_e2e, payload_reject, pep_cost, push_stream

BENCHMARKS = {"push_stream": push_stream, "archive_walk": archive_walk, "ingest_e2e": ingest_e2e,
              "pep_cost": pep_cost, "payload_reject": payload_reject}
#: Sizes `make bench` asks of a benchmark beyond its own FULL defaults: the archive walk at
#: the 100k members the performance targets name.
FULL_OVERRIDES = {"archive_walk": {"members": 100000, "rounds": 3}}
DEFAULT_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help="run only this benchmark (repeatable; one of %s)" % ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (a rough look)")
    parser.add_argument("--json", default=DEFAULT_JSON, metavar="FILE",
                        help="where to write every number (default: %(default)s)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME.KEY=JSON",
                        help="change one size of one benchmark, e.g. ingest_e2e.many_members=20000")
    arguments = parser.parse_args(argv)
    arguments.overrides = {}
    for text in arguments.param:
        target, _, value = text.partition("=")
        name, _, key = target.partition(".")
        if name not in BENCHMARKS or not key or not value:
            parser.error("--param %r: expected NAME.KEY=JSON with NAME one of %s" % (text, ", ".join(BENCHMARKS)))
        try:
            arguments.overrides.setdefault(name, {})[key] = json.loads(value)
        except ValueError:
            parser.error("--param %r: %r is not JSON" % (text, value))
    return arguments


def machine():
    return {"python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
            "cpus": os.cpu_count(), "cpu_model": _cpu_model(), "load_average": _load_average(),
            "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def run_benchmark(name, quick, overrides=None):
    module = BENCHMARKS[name]
    parameters = dict(module.QUICK) if quick else dict(module.FULL, **FULL_OVERRIDES.get(name, {}))
    unknown = set(overrides or {}) - set(parameters)
    if unknown:
        raise SystemExit("python -m bench: %s has no parameter %s (it has %s)"
                         % (name, ", ".join(sorted(unknown)), ", ".join(sorted(parameters))))
    parameters.update(overrides or {})
    workdir = tempfile.mkdtemp(prefix="omero-irods-bench-%s-" % name)
    started = time.perf_counter()
    try:
        outcome = module.run(workdir, **parameters)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def main(argv=None):
    arguments = _arguments(argv)
    names = arguments.only or list(BENCHMARKS)
    results = []
    for name in names:
        print("running %s ..." % name, file=sys.stderr, flush=True)
        results.append(run_benchmark(name, arguments.quick, arguments.overrides.get(name)))
        print("  %s took %.0f s" % (name, results[-1]["seconds"]), file=sys.stderr, flush=True)
    report = {"machine": machine(), "quick": arguments.quick, "overrides": arguments.overrides,
              "results": results}
    with open(arguments.json, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print("machine: %(cpus)s CPUs, %(cpu_model)s, Python %(python)s, load %(load)s"
          % dict(report["machine"], load=" ".join("%.1f" % x for x in report["machine"]["load_average"] or [])))
    print(common.table(results))
    print("every number: %s" % arguments.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
