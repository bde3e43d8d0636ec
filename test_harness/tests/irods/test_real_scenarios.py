"""One scenario, two zones: every scenario in test_harness/sandbox/scenarios/ runs in the
sandbox and on a fresh real zone (real clients as the scenario's users); after normalising ids,
dates and vault roots, every difference must be a known one, each with its reason in
docs/sandbox.md ("Differences from a real iRODS 5.0.2 zone"). Both dumps and the report are
written beside the zones (the tier folder) for a look."""

import glob
import json
import os
import re

import pytest

from realzone import compare, kit, scenario_runner

SCENARIOS = sorted(glob.glob(os.path.join(kit.REPO_ROOT, "test_harness", "sandbox", "scenarios", "*.json")))
SCENARIOS = [path for path in SCENARIOS if not path.endswith(".schema.json")]
DOCS = os.path.join(kit.REPO_ROOT, "docs", "sandbox.md")


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p)[:-5] for p in SCENARIOS])
def test_scenario_behaves_alike_in_the_sandbox_and_on_the_real_zone(path, tier_setup):
    from omero_irods_sandbox import scenario as scenario_module
    from omero_irods_sandbox.dump import dumps

    kit_path, base, python_dir = tier_setup
    scenario = scenario_module.load(path)
    sandbox_state, sandbox_steps = scenario_runner.run_sandbox(scenario)
    real_state, real_steps = scenario_runner.run_real(scenario, kit_path, base, python_dir, kit.pick_port())
    found = compare.differences(sandbox_state, real_state, sandbox_steps, real_steps)
    name = os.path.basename(path)[:-5]
    for label, state in (("sandbox", sandbox_state), ("real", real_state)):
        with open(os.path.join(base, "%s.%s.dump.json" % (name, label)), "w") as handle:
            handle.write(dumps(state))
    with open(os.path.join(base, "%s.differences.txt" % name), "w") as handle:
        handle.write(compare.report(found))
    assert sandbox_state["_unexpected"] == []
    # the scenario did on the real zone what it did in the sandbox
    assert real_state["data_objects"] and real_state["imports"] or not sandbox_state["imports"]
    left = compare.unexplained(found)
    assert left == [], "differences without a documented reason:\n" + compare.report(left)


def test_every_known_difference_is_documented():
    with open(DOCS, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Differences from a real iRODS 5.0.2 zone"):]
    for _kind, _pattern, reason in compare.KNOWN_DIFFERENCES:
        assert re.search(r"`%s`" % re.escape(reason), section), reason
