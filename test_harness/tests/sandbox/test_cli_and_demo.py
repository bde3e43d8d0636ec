"""`omero-irods sandbox run|demo`: exit codes 0 (as the scenario says), 1 (a step failed
unexpectedly; dump still written), 2 (bad scenario, nothing ran); the demo shows each client
kind's PEP sequence (see omero_irods_sandbox/clients.py for the sources)."""

import argparse
import json

from omero_irods_sandbox import cli


def _main(argv):
    parser = argparse.ArgumentParser(prog="omero-irods sandbox")
    cli.add_arguments(parser, "sandbox")
    return cli.run(parser.parse_args(argv))


def _rules(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "core.py").write_text("")
    return str(rules)


def _scenario(tmp_path, steps):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"users": [{"name": "alice"}], "steps": steps}))
    return str(path)


def test_run_ok_exits_0_and_writes_the_dump(tmp_path):
    scenario_path = _scenario(tmp_path, [{"put": {"as": "alice", "content": "x", "to": "/tempZone/home/alice/x"}}])
    dump_path = tmp_path / "state.json"
    assert _main(["run", scenario_path, "--rules", _rules(tmp_path), "--dump", str(dump_path)]) == 0
    assert json.loads(dump_path.read_text())["data_objects"][0]["path"] == "/tempZone/home/alice/x"


def test_unexpected_step_failure_exits_1_and_still_writes_the_dump(tmp_path, capsys):
    scenario_path = _scenario(tmp_path, [{"put": {"as": "alice", "content": "x", "to": "/tempZone/home/rods/x"}}])
    dump_path = tmp_path / "state.json"
    assert _main(["run", scenario_path, "--rules", _rules(tmp_path), "--dump", str(dump_path)]) == 1
    assert "steps[0].put" in capsys.readouterr().err
    assert json.loads(dump_path.read_text())["client_errors"][0]["step"] == 0


def test_bad_scenario_exits_2_with_the_problem(tmp_path, capsys):
    scenario_path = _scenario(tmp_path, [{"jump": {}}])
    assert _main(["run", scenario_path, "--rules", _rules(tmp_path)]) == 2
    assert "steps[0]: unknown step 'jump'" in capsys.readouterr().err


def test_missing_rules_dir_exits_2(tmp_path, capsys):
    scenario_path = _scenario(tmp_path, [])
    assert _main(["run", scenario_path, "--rules", str(tmp_path / "none")]) == 2
    assert "core.py" in capsys.readouterr().err


def test_demo_tells_the_requests_story_first_and_keeps_the_pep_trace_for_the_flag(capsys):
    assert _main(["demo"]) == 0  # the project's own rules
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "What happened to each request:"
    assert lines[1].startswith("  Request 20260101T000000Z-0000demo: ingest for OMERO user alice (group lab), now "
                               "imported")
    placed = next(line for line in lines if line.startswith("    placed at "))
    assert "/home/alice/omero/ingest/" in placed and "alice:own" in placed
    assert "imported into OMERO: images 1-2" in text
    assert text.index("imported into OMERO") < text.index("Server log:")
    assert "pep_api_" not in text and "--pep-trace" in text


def test_demo_shows_each_client_kinds_pep_sequence(tmp_path, capsys):
    dump_path = tmp_path / "demo.json"
    assert _main(["demo", "--pep-trace", "--rules", _rules(tmp_path), "--dump", str(dump_path)]) == 0
    text = capsys.readouterr().out
    assert "pep_api_data_obj_put" in text            # iput
    assert "pep_api_data_obj_close" in text          # python-irodsclient
    assert "pep_api_replica_close" in text           # its parallel transfer
    assert "by-prc-parallel.bin" in text
    state = json.loads(dump_path.read_text())
    puts = [p for p in state["pep_points"] if p["name"] == "pep_api_data_obj_put_pre"]
    assert [p["path"] for p in puts] == ["/tempZone/home/omero-svc/demo/by-iput.txt"]
