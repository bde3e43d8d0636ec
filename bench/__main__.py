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

from bench import archive_walk, common, ingest_e2e, pep_cost, push_stream

BENCHMARKS = {"push_stream": push_stream, "archive_walk": archive_walk, "ingest_e2e": ingest_e2e,
              "pep_cost": pep_cost}
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
    return parser.parse_args(argv)


def machine():
    return {"python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
            "cpus": os.cpu_count(), "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def run_benchmark(name, quick):
    module = BENCHMARKS[name]
    workdir = tempfile.mkdtemp(prefix="omero-irods-bench-%s-" % name)
    started = time.perf_counter()
    parameters = dict(module.QUICK) if quick else dict(module.FULL, **FULL_OVERRIDES.get(name, {}))
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
        results.append(run_benchmark(name, arguments.quick))
        print("  %s took %.0f s" % (name, results[-1]["seconds"]), file=sys.stderr, flush=True)
    report = {"machine": machine(), "quick": arguments.quick, "results": results}
    with open(arguments.json, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print(common.table(results))
    print("every number: %s" % arguments.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
