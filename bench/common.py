"""What every benchmark shares: timing, ratio entries, generated test data, the table.

A benchmark reports *measures*: each one a ratio of a subject (omero-irods code) to a
baseline measured in the same run, never an absolute target. Subject and baseline run in
turn, round after round, so each round gives a pair measured under the same machine load;
a time ratio is the median over rounds of subject/baseline wall-clock time, which neither
a slow round nor other work on the machine moves much. Every sample goes to the JSON file.
"""

import contextlib
import os
import random
import statistics
import sys
import time

#: Bytes written per write() when generating files, so that generating a large tree does
#: not itself raise the benchmark process's peak memory.
WRITE_BLOCK = 1 << 20


def measure(action):
    """Run `action()` once; {'wall', 'cpu'} in seconds (cpu includes waited-for children)."""
    before_times, before_wall = os.times(), time.perf_counter()
    action()
    after_wall, after_times = time.perf_counter(), os.times()
    cpu = sum(getattr(after_times, field) - getattr(before_times, field)
              for field in ("user", "system", "children_user", "children_system"))
    return {"wall": after_wall - before_wall, "cpu": cpu}


def interleaved(rounds, actions, prepare=None):
    """Run each of `actions` ({label: callable}) once per round, in turn, `rounds` times, so
    that a change in machine load hits every label alike. Returns {label: [samples]}, each
    label's samples in round order (sample i of every label comes from round i).
    `prepare()`, if given, runs untimed before every action (e.g. evicting the page cache)."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1, not %r" % (rounds,))
    samples = {label: [] for label in actions}
    labels = list(actions)
    for round_number in range(rounds):
        # each round starts with another label, so none is always the first (or the one
        # that reads what the previous one left in the caches)
        shift = round_number % len(labels)
        for label in labels[shift:] + labels[:shift]:
            if prepare is not None:
                prepare()
            samples[label].append(measure(actions[label]))
    return samples


def evict_from_page_cache(root):
    """Drop every file under `root` from the page cache (posix_fadvise DONTNEED on clean
    pages: no privilege needed, other files untouched), so the next reader reads the disk."""
    os.sync()  # dirty pages are not dropped
    for folder, _folders, names in os.walk(root):
        for name in names:
            handle = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(handle)


def median_wall(samples):
    return statistics.median(sample["wall"] for sample in samples)


def time_ratio(measure_name, subject, baseline, subject_samples, baseline_samples, target, **details):
    """A measure from paired samples (round i of each): the median of subject/baseline time
    (1.0 = as fast; 2.0 = twice as slow). subject_seconds / baseline_seconds: the medians."""
    if not subject_samples or len(subject_samples) != len(baseline_samples):
        raise ValueError("%s: need one baseline sample per subject sample (got %d and %d)"
                         % (measure_name, len(subject_samples), len(baseline_samples)))
    paired = [s["wall"] / max(b["wall"], 1e-12) for s, b in zip(subject_samples, baseline_samples)]
    entry = {
        "measure": measure_name, "kind": "time", "subject": subject, "baseline": baseline,
        "ratio": statistics.median(paired), "target": target,
        "subject_seconds": median_wall(subject_samples), "baseline_seconds": median_wall(baseline_samples),
        "samples": {"subject": subject_samples, "baseline": baseline_samples},
    }
    entry.update(details)
    return entry


def size_ratio(measure_name, subject, baseline, subject_bytes, baseline_bytes, target, **details):
    """A measure: bytes of memory used / bytes of a reference size (e.g. the data streamed)."""
    entry = {
        "measure": measure_name, "kind": "memory", "subject": subject, "baseline": baseline,
        "ratio": subject_bytes / max(baseline_bytes, 1), "target": target,
        "subject_bytes": subject_bytes, "baseline_bytes": baseline_bytes,
    }
    entry.update(details)
    return entry


def count_ratio(measure_name, subject, baseline, subject_count, baseline_count, target, **details):
    """A measure: a count (bytes moved, calls made) per unit of a reference count."""
    entry = {
        "measure": measure_name, "kind": "count", "subject": subject, "baseline": baseline,
        "ratio": subject_count / float(max(baseline_count, 1)), "target": target,
        "subject_count": subject_count, "baseline_count": baseline_count,
    }
    entry.update(details)
    return entry


def result(benchmark, parameters, measures, notes):
    """What a benchmark's run() returns (and what goes into results.json)."""
    return {"benchmark": benchmark, "parameters": parameters, "measures": measures, "notes": notes}


def peak_rss_bytes():
    """This process's peak resident set size: VmHWM from /proc on Linux, else ru_maxrss.

    Linux keeps ru_maxrss across exec, so a child started by a bigger parent reports the
    parent's peak until it exceeds it; VmHWM belongs to the process's own memory image.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


@contextlib.contextmanager
def bytecode_cache(directory):
    """Let imports write and reuse .pyc files under `directory` while the block runs.

    A deployed server imports from compiled files (pip compiles on install; the agent may write
    /etc/irods/__pycache__). With PYTHONDONTWRITEBYTECODE set, as it may be in a development
    shell, every import would compile from source and that would be measured instead.
    """
    saved = sys.dont_write_bytecode, sys.pycache_prefix
    sys.dont_write_bytecode, sys.pycache_prefix = False, directory
    try:
        yield
    finally:
        sys.dont_write_bytecode, sys.pycache_prefix = saved


def child_environment(pycache_directory):
    """os.environ for a child Python that uses a bytecode cache (see bytecode_cache)."""
    environment = dict(os.environ, PYTHONPYCACHEPREFIX=pycache_directory)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


# ---- generated data ---------------------------------------------------------------------

def spread_sizes(total_bytes, count, seed):
    """`count` file sizes adding up to exactly `total_bytes`, unequal (some 10x others) and the
    same for the same seed, so runs compare like with like."""
    if count < 1 or total_bytes < 0:
        raise ValueError("need at least one file and a non-negative size (got %r files, %r bytes)"
                         % (count, total_bytes))
    rng = random.Random(seed)
    weights = [rng.uniform(1, 10) for _ in range(count)]
    scale = total_bytes / sum(weights)
    sizes = [int(weight * scale) for weight in weights]
    sizes[-1] += total_bytes - sum(sizes)
    return sizes


def write_tree(root, file_count, total_bytes, seed="omero-irods-bench"):
    """A directory tree of `file_count` files (in 10 sub-folders) adding up to `total_bytes`.

    Content is a pseudo-random block repeated at a per-file offset: what is hashed does not
    change the cost of hashing it, and writing in WRITE_BLOCK pieces keeps memory flat.
    Returns the number of bytes written.
    """
    block = random.Random(seed).getrandbits(8 * WRITE_BLOCK).to_bytes(WRITE_BLOCK, "little")
    written = 0
    for index, size in enumerate(spread_sizes(total_bytes, file_count, seed)):
        folder = os.path.join(root, "well%02d" % (index % 10))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "image%05d.ome.tiff" % index), "wb") as handle:
            offset = (index * 4099) % WRITE_BLOCK
            rotated = block[offset:] + block[:offset]
            remaining = size
            while remaining:
                piece = rotated[:min(remaining, WRITE_BLOCK)]
                handle.write(piece)
                remaining -= len(piece)
        written += size
    return written


# ---- output -------------------------------------------------------------------------------

def _ratio_text(entry):
    if entry["kind"] == "time":
        return "%.2fx" % entry["ratio"]
    return "%.4f" % entry["ratio"] if entry["ratio"] < 10 else "%.1f" % entry["ratio"]


def seconds_text(seconds):
    """'+1.07 us', '12.3 ms', '2.50 s': absolute times as context for a ratio, never a target."""
    sign = "+" if seconds >= 0 else "-"
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if magnitude >= scale or unit == "us":
            return "%s%.3g %s" % (sign, magnitude / scale, unit)


def bytes_text(count):
    return "%.1f MiB" % (count / float(1 << 20))


def table(results):
    """The readable report: one line per measure, then each benchmark's notes."""
    rows = [("benchmark", "measure", "ratio", "target", "context", "subject / baseline")]
    for run in results:
        for entry in run["measures"]:
            rows.append((run["benchmark"], entry["measure"], _ratio_text(entry), entry["target"],
                         entry.get("context", ""), "%s / %s" % (entry["subject"], entry["baseline"])))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if number == 0:
            lines.append("-" * sum(widths + [2 * (len(widths) - 1)]))
    for run in results:
        if run["notes"]:
            lines.append("")
            lines.append("%s:" % run["benchmark"])
            lines.extend("  - " + note for note in run["notes"])
    return "\n".join(lines) + "\n"
