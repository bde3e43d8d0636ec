"""One scenario, two zones: the sandbox's demo scenario and every pipeline scenario
(omero_irods_sandbox.pipeline_scenarios, built with the pipeline tests' own builders) run in the
sandbox and on a real zone of their own (real clients as the scenario's users), several at once.
After normalising ids, dates and vault roots, every difference must be a known one, each with its
reason in docs/sandbox.md ("Differences from a real iRODS 5.0.2 zone"). Both dumps and the
report are written beside the zones (the tier folder) for a look."""

import glob
import os
import re

import pytest

from realzone import compare, kit, scenario_runner

SANDBOX_SCENARIOS = [path for path in sorted(glob.glob(os.path.join(
    kit.REPO_ROOT, "test_harness", "sandbox", "scenarios", "*.json"))) if not path.endswith(".schema.json")]
DOCS = os.path.join(kit.REPO_ROOT, "docs", "sandbox.md")
#: Zones run at once: each is a PostgreSQL and an iRODS server; the tier's machines have 2 cores.
CONCURRENT_ZONES = 3


def _names():
    from omero_irods_sandbox import pipeline_scenarios

    return [os.path.basename(path)[:-5] for path in SANDBOX_SCENARIOS] + sorted(pipeline_scenarios.SCENARIOS)


@pytest.fixture(scope="module")
def both_zones(tier_setup):
    """{name: (scenario, sandbox state, sandbox steps, real state or error, real steps)}."""
    from omero_irods_sandbox import pipeline_scenarios
    from omero_irods_sandbox import scenario as scenario_module

    kit_path, base, python_dir = tier_setup
    paths = pipeline_scenarios.write_all(os.path.join(base, "scenario-files"))
    paths.update({os.path.basename(path)[:-5]: path for path in SANDBOX_SCENARIOS})
    scenarios = {name: scenario_module.load(path) for name, path in paths.items()}
    # The sandbox first: it swaps the policy's modules in and out of sys.modules around each rule
    # call (each agent imports the policy afresh), which the real runs' clients must not see.
    sandbox = {name: scenario_runner.run_sandbox(scenario) for name, scenario in scenarios.items()}
    real = scenario_runner.run_many(scenarios, kit_path, base, python_dir, workers=CONCURRENT_ZONES)
    results = {}
    for name, scenario in scenarios.items():
        outcome = real[name]
        real_state, real_steps = outcome if isinstance(outcome, tuple) else (outcome, None)
        results[name] = (scenario, sandbox[name][0], sandbox[name][1], real_state, real_steps)
    return results, base


@pytest.mark.parametrize("name", _names())
def test_scenario_behaves_alike_in_the_sandbox_and_on_the_real_zone(name, both_zones):
    from omero_irods_sandbox.dump import dumps

    results, base = both_zones
    _scenario, sandbox_state, sandbox_steps, real_state, real_steps = results[name]
    if isinstance(real_state, BaseException):
        raise real_state
    found = compare.differences(sandbox_state, real_state, sandbox_steps, real_steps)
    for label, state in (("sandbox", sandbox_state), ("real", real_state)):
        with open(os.path.join(base, "%s.%s.dump.json" % (name, label)), "w") as handle:
            handle.write(dumps(state))
    with open(os.path.join(base, "%s.differences.txt" % name), "w") as handle:
        handle.write(compare.report(found))
    assert sandbox_state["_unexpected"] == []
    assert real_state["_notes"] == []  # every step ran on the real zone as written
    # the scenario did on the real zone what it did in the sandbox
    assert real_state["data_objects"] and real_state["imports"] or not sandbox_state["imports"]
    left = compare.unexplained(found)
    assert left == [], "differences without a documented reason:\n" + compare.report(left)


def test_the_sweep_queues_a_request_whose_rule_was_lost_and_it_is_imported_once(both_zones):
    """iqdel -a lost the sweep; a request arrived without a rule; the next push restarted the
    sweep, which queued the request: it is placed and imported exactly once."""
    from omero_irods import names
    from omero_irods_sandbox.scenario_builders import ALICE_ROOT, LANDING, RECORDS

    results, _base = both_zones
    _scenario, _sandbox, _steps, state, _real_steps = results["sweep_requeues_a_lost_request"]
    if isinstance(state, BaseException):
        raise state
    lost = "20260101T000000Z-00000052"
    record = {entry["path"]: entry for entry in state["collections"]}["%s/%s" % (RECORDS, lost)]
    avus = {attribute: value for attribute, value, _units in record["avus"]}
    assert avus[names.AVU_STATE] == names.IMPORTED
    destination = avus[names.AVU_DESTINATION]
    assert destination == ALICE_ROOT + "/ingest/lost"
    placed = sorted(entry["path"] for entry in state["data_objects"] if entry["path"].startswith(destination + "/"))
    assert placed == [destination + "/a.tif", destination + "/b.tif"]
    vault = os.path.join(state["_vault_roots"]["demoResc"], os.path.relpath(destination, "/tempZone"))
    imports = [call for call in state["imports"]
               if any(arg == vault or arg.startswith(vault + "/") for arg in call["argv"])]
    assert len(imports) == 1 and imports[0]["exit"] == 0
    payload = "%s/%s/%s.omero-irods.json" % (LANDING, lost, lost)
    requeued = [line for line in state["log"] if "sweep of %s: queued again %s" % (LANDING, payload) in line]
    assert len(requeued) == 1, [line for line in state["log"] if "sweep" in line]
    assert len(state["imports"]) == 3  # first, later and lost: each once


def test_every_known_difference_is_documented():
    with open(DOCS, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Differences from a real iRODS 5.0.2 zone"):]
    for _kind, _pattern, reason in compare.KNOWN_DIFFERENCES:
        assert re.search(r"`%s`" % re.escape(reason), section), reason
