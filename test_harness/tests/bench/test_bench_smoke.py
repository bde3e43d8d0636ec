"""Smoke tests of bench/: every benchmark runs at tiny sizes and reports its ratios.

They assert the shape of what `make bench` reports (ratio fields, paired samples, the JSON
file, clear errors), never a speed: timing assertions would fail on a busy machine.
"""

import json
import math
import shutil

import pytest
from omero_irods_sandbox.scenario import rules_dir

from bench import __main__ as bench_main
from bench import archive_walk, common, ingest_e2e, payload_reject, pep_cost, push_stream

needs_gnu_tools = pytest.mark.skipif(not (shutil.which("tar") and shutil.which("openssl")),
                                     reason="the baselines need GNU tar and openssl")

TINY = {
    "pep_cost": {"count": 2, "rounds": 1, "micro_calls": 10, "micro_repeats": 1, "agent_starts": 1},
    "push_stream": {"part_bytes": 96 * 1024, "parts": 2, "files_per_part": 3, "rounds": 1},
    "ingest_e2e": {"file_counts": (3, 12), "file_bytes": 64, "rounds": 1, "large_bytes": 256 * 1024,
                   "large_files": 2, "many_members": 30},
    "archive_walk": {"members": 30, "rounds": 1},
    "payload_reject": {"cap": 64 * 1024, "rounds": 1},
}


def check_result(result, name):
    assert result["benchmark"] == name
    assert result["measures"], "%s reported no measure" % name
    for entry in result["measures"]:
        assert entry["kind"] in ("time", "memory", "count")
        assert isinstance(entry["ratio"], float) and math.isfinite(entry["ratio"]), entry
        # a time never shrinks to nothing; a memory growth may be 0 for tiny data
        assert entry["ratio"] > 0 if entry["kind"] == "time" else entry["ratio"] >= 0, entry
        for field in ("measure", "subject", "baseline", "target"):
            assert isinstance(entry[field], str) and entry[field], (field, entry)
        if entry["kind"] == "time":
            assert len(entry["samples"]["subject"]) == len(entry["samples"]["baseline"]) >= 1
    json.dumps(result)  # everything goes into results.json


def test_pep_cost_measures_every_put_path_and_the_agent_start(tmp_path):
    result = pep_cost.run(str(tmp_path), **TINY["pep_cost"])
    check_result(result, "pep_cost")
    measured = [entry["measure"] for entry in result["measures"]]
    for operation in ("iput", "prc", "irm", "imv"):
        assert "sandbox: 2 unrelated %s" % operation in measured
    # the PEPs rules/omero_irods_rules.py defines for put events, each timed per call
    for pep in ("pep_api_data_obj_put_post", "pep_api_data_obj_close_post", "acPostProcForPut"):
        assert "per call: " + pep in measured
    assert "agent start: python + import core" in measured
    sandbox = [entry for entry in result["measures"] if entry["measure"].startswith("sandbox")]
    assert all(entry["rules_ran"] > 0 for entry in sandbox)  # the rules really fired


def test_pep_cost_baseline_defines_every_rule_and_does_nothing(tmp_path):
    names = pep_cost.rule_names(rules_dir())
    assert "acPostProcForPut" in names and "pep_api_data_obj_close_post" in names
    namespace = {}
    exec(compile(pep_cost.empty_core_source(names), "empty core", "exec"), namespace)

    class FakeErrors(object):
        RULE_ENGINE_CONTINUE = 5000000

    namespace["irods_errors"] = FakeErrors
    for name in names:
        assert namespace[name]([], None, None) == FakeErrors.RULE_ENGINE_CONTINUE


def test_pep_cost_refuses_an_unfair_baseline(tmp_path, monkeypatch):
    """A baseline core missing one of the PEPs would run fewer rules and flatter omero-irods."""
    full_source = pep_cost.empty_core_source
    monkeypatch.setattr(pep_cost, "empty_core_source",
                        lambda names: full_source([n for n in names if n != "acPostProcForPut"]))
    with pytest.raises(RuntimeError, match="must define every PEP"):
        pep_cost.run(str(tmp_path), **TINY["pep_cost"])


def test_pep_cost_refuses_rules_that_fail(tmp_path):
    """Timing rules that crash would measure the traceback, not the policy."""
    rules = tmp_path / "broken_rules"
    rules.mkdir()
    (rules / "core.py").write_text("from omero_irods_rules import *\n")
    (rules / "omero_irods_rules.py").write_text(
        "__all__ = ['acPostProcForPut']\n\n"
        "def acPostProcForPut(rule_args, callback, rei):\n"
        "    raise ValueError('broken on purpose')\n")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(RuntimeError, match="(?s)the real rules logged.*broken on purpose"):
        pep_cost.run(str(work), rules_dir=str(rules), **TINY["pep_cost"])


@needs_gnu_tools
def test_push_stream_compares_with_openssl_and_the_floor_and_measures_the_whole_process(tmp_path):
    result = push_stream.run(str(tmp_path), **TINY["push_stream"])
    check_result(result, "push_stream")
    measured = {entry["measure"]: entry for entry in result["measures"]}
    for size in ("96.0 KiB", "192.0 KiB"):
        size = common.bytes_text(96 * 1024) if size == "96.0 KiB" else common.bytes_text(2 * 96 * 1024)
        assert measured["push stream %s vs tar | openssl dgst -sha256" % size]["baseline"] == "tar | openssl dgst"
        assert measured["push stream %s vs floor tar | cat" % size]["kind"] == "time"
        cold = measured["push stream %s vs tar | openssl, cold page cache" % size]
        assert cold["kind"] == "time" and cold["baseline"] == "tar | openssl dgst"
        rss = measured["push peak RSS, whole process, %s" % size]
        # a whole Python process: far more than tracemalloc would show, far less than a GiB
        assert 5 << 20 < rss["subject_bytes"] < 1 << 30 and rss["baseline_bytes"] == 64 << 20
    sizes = result["parameters"]["sizes"]
    assert [sizes[label]["files"] for label in sorted(sizes)] == [3, 6]


@pytest.mark.skipif(shutil.which("fincore") is None, reason="util-linux fincore is not installed")
def test_the_cold_rows_start_every_run_with_the_tree_out_of_the_page_cache(tmp_path):
    # the cold rows compare disk reads only if each run starts with nothing of the tree cached
    import subprocess

    tree = tmp_path / "run1"
    common.write_tree(str(tree), 3, 3 * 1024 * 1024)
    files = [str(path) for path in tree.rglob("*") if path.is_file()]

    def cached_bytes():  # fincore: a file's bytes in the page cache (mincore(2))
        done = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES"] + files,
                              capture_output=True, text=True, check=True)
        return sum(int(line) for line in done.stdout.split())

    for path in files:
        with open(path, "rb") as handle:
            handle.read()
    assert cached_bytes() > 0
    seen = []
    common.interleaved(2, {"a": lambda: seen.append(cached_bytes()), "b": lambda: seen.append(cached_bytes())},
                       prepare=lambda: common.evict_from_page_cache(str(tree)))
    assert seen == [0, 0, 0, 0]


def test_the_baseline_digest_is_openssl_sha256_of_the_tar_stream(tmp_path):
    """tar | openssl dgst: the same bytes tar writes, hashed by OpenSSL (here checked against
    hashlib over tar's own output)."""
    import hashlib
    import subprocess

    tree = tmp_path / "run1"
    common.write_tree(str(tree), 2, 5000)
    tar = subprocess.run(["tar", "-cf", "-", "-C", str(tmp_path), "run1"], capture_output=True, check=True)
    assert push_stream.gnu_tar_openssl(str(tree)) == hashlib.sha256(tar.stdout).hexdigest()


def test_ingest_e2e_counts_microservices_and_server_bytes(tmp_path):
    result = ingest_e2e.run(str(tmp_path), **TINY["ingest_e2e"])
    check_result(result, "ingest_e2e")
    outcomes = result["parameters"]["outcomes"]
    runs = [o for outcome in outcomes.values() for o in (outcome if isinstance(outcome, list) else [outcome])]
    for outcome in runs:
        assert outcome["microservices"]["msiTarFileExtract"] == 1
        assert outcome["microservices"]["msiDataObjChksum"] >= 1
        assert outcome["read_bytes"] > 0 and outcome["written_bytes"] > 0
    large = outcomes["%s in 2 files" % common.bytes_text(256 * 1024)]
    # the placed copy alone is one written byte per ingested byte
    assert large["written_bytes"] >= large["ingested_bytes"] == 256 * 1024
    assert "30 members" in outcomes and "12" in outcomes and "3" in outcomes
    # the fixed cost of a request (one 1 KiB file) is subtracted in the "beyond" rows
    fixed = outcomes["one file"]
    assert fixed["ingested_bytes"] == 1024 and 0 < fixed["read_bytes"]
    measured = {entry["measure"]: entry for entry in result["measures"]}
    beyond = measured["server bytes read / ingested byte, %s in 2 files, beyond a 1-file request"
                      % common.bytes_text(256 * 1024)]
    assert beyond["subject_count"] == large["read_bytes"] - fixed["read_bytes"]
    assert beyond["baseline_count"] == large["ingested_bytes"] - 1024


def test_ingest_e2e_refuses_to_time_a_request_that_was_not_imported(tmp_path, monkeypatch):
    """A request rejected early would look fast: the benchmark checks it ended imported."""
    scenario = ingest_e2e._scenario

    def unmapped_user(workdir, tree):
        built = scenario(workdir, tree)
        built.data["steps"][0]["push"]["omero_user"] = "mallory"
        return built

    monkeypatch.setattr(ingest_e2e, "_scenario", unmapped_user)
    with pytest.raises(RuntimeError, match="the request ended 'rejected', not 'imported'"):
        ingest_e2e.run(str(tmp_path), **TINY["ingest_e2e"])


@needs_gnu_tools
def test_archive_walk_checks_every_member(tmp_path):
    result = archive_walk.run(str(tmp_path), **TINY["archive_walk"])
    check_result(result, "archive_walk")
    assert result["measures"][0]["measure"] == "walk 30 members"


def test_archive_walk_refuses_a_short_walk(tmp_path, monkeypatch):
    """A walk that stopped early would look fast: the benchmark checks the member count."""
    monkeypatch.setattr(archive_walk, "walk_with_policy", lambda path, limits: [])
    with pytest.raises(RuntimeError, match="found 0 of the 30 members"):
        archive_walk.run(str(tmp_path), **TINY["archive_walk"])


def test_push_stream_baseline_failure_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match="baseline failed: tar exited"):
        push_stream.gnu_tar_openssl(str(tmp_path / "no-such-tree"))


def test_generated_tree_has_the_asked_size(tmp_path):
    sizes = common.spread_sizes(10 ** 6, 7, "seed")
    assert sum(sizes) == 10 ** 6 and len(sizes) == 7 and len(set(sizes)) > 1
    assert common.spread_sizes(10 ** 6, 7, "seed") == sizes  # same seed, same data
    written = common.write_tree(str(tmp_path / "tree"), 5, 3 * common.WRITE_BLOCK + 17)
    on_disk = sorted(p.stat().st_size for p in (tmp_path / "tree").rglob("*") if p.is_file())
    assert written == sum(on_disk) == 3 * common.WRITE_BLOCK + 17 and len(on_disk) == 5


def test_time_ratio_is_the_median_of_paired_rounds():
    subject = [{"wall": 2.0, "cpu": 2.0}, {"wall": 9.0, "cpu": 2.0}, {"wall": 3.0, "cpu": 3.0}]
    baseline = [{"wall": 1.0, "cpu": 1.0}, {"wall": 3.0, "cpu": 1.0}, {"wall": 1.0, "cpu": 1.0}]
    entry = common.time_ratio("m", "s", "b", subject, baseline, "~1")
    assert entry["ratio"] == 3.0  # pairs 2, 3, 3: the median
    with pytest.raises(ValueError, match="one baseline sample per subject sample"):
        common.time_ratio("m", "s", "b", subject, baseline[:2], "~1")


@needs_gnu_tools
def test_main_prints_a_table_and_writes_every_number(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(archive_walk, "FULL", TINY["archive_walk"])
    monkeypatch.setattr(bench_main, "FULL_OVERRIDES", {})
    output = tmp_path / "results.json"
    assert bench_main.main(["--only", "archive_walk", "--json", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["machine"]["cpus"] >= 1 and report["quick"] is False
    check_result(report["results"][0], "archive_walk")
    printed = capsys.readouterr().out
    assert "walk 30 members" in printed and "list_members / tar -tf" in printed


def test_main_rejects_an_unknown_benchmark_and_keeps_old_results(tmp_path, capsys):
    output = tmp_path / "results.json"
    output.write_text('{"previous": "run"}')
    with pytest.raises(SystemExit) as stopped:
        bench_main.main(["--only", "pepcost", "--json", str(output)])
    assert stopped.value.code == 2
    assert "invalid choice: 'pepcost'" in capsys.readouterr().err
    assert output.read_text() == '{"previous": "run"}'




def test_param_changes_one_size_and_refuses_unknown_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(archive_walk, "FULL", TINY["archive_walk"])
    monkeypatch.setattr(bench_main, "FULL_OVERRIDES", {})
    output = tmp_path / "results.json"
    assert bench_main.main(["--only", "archive_walk", "--param", "archive_walk.members=12",
                            "--json", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["results"][0]["parameters"]["members"] == 12
    assert report["overrides"] == {"archive_walk": {"members": 12}} and report["machine"]["cpu_model"]
    with pytest.raises(SystemExit, match="archive_walk has no parameter membres"):
        bench_main.main(["--only", "archive_walk", "--param", "archive_walk.membres=12", "--json", str(output)])
    with pytest.raises(SystemExit):
        bench_main.main(["--only", "archive_walk", "--param", "archive_walk.members", "--json", str(output)])


def test_payload_reject_times_every_case_against_json_loads_and_each_is_rejected(tmp_path):
    result = payload_reject.run(str(tmp_path), **TINY["payload_reject"])
    check_result(result, "payload_reject")
    timed = [entry for entry in result["measures"] if entry["kind"] == "time"]
    assert len(timed) == len(payload_reject.CASES)
    assert all(entry["outcome"].startswith("rejected (") for entry in timed)
    assert result["measures"][-1]["kind"] == "memory"


def test_payload_reject_refuses_to_time_an_accepted_payload(tmp_path, monkeypatch):
    monkeypatch.setattr(payload_reject, "measure_case", lambda *args: {"outcome": "accepted"})
    with pytest.raises(RuntimeError, match="was not rejected"):
        payload_reject.run(str(tmp_path), **TINY["payload_reject"])
