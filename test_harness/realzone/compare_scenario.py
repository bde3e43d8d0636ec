"""Compare one scenario by hand: run it in the sandbox and on a throw-away real zone, print the
differences (each with its reason key from compare.KNOWN_DIFFERENCES, or UNEXPLAINED) and keep
both dumps.

    sudo .venv/bin/python test_harness/realzone/compare_scenario.py SCENARIO [OUT_DIR]

SCENARIO is a scenario file, or the name of a pipeline scenario
(omero_irods_sandbox.pipeline_scenarios, e.g. `rejections`), which is written into OUT_DIR first.
OUT_DIR (default: a new folder under /var/tmp) receives `<name>.sandbox.dump.json`,
`<name>.real.dump.json` and `<name>.differences.txt`; the zone is stopped at the end (left
running with OMERO_IRODS_KEEP_ZONE=1). Exit status 1 when a difference has no documented reason.
Needs what `make test-irods` needs: the iRODS kit (../shared/irods or IRODS_KIT) and root.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from realzone import compare, install, kit, scenario_runner  # noqa: E402


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    from omero_irods_sandbox import pipeline_scenarios
    from omero_irods_sandbox import scenario as scenario_module
    from omero_irods_sandbox.dump import dumps

    kit_path, reason = kit.kit_dir()
    if reason:
        sys.stderr.write("cannot start a real zone: %s\n" % reason)
        return 2
    out = os.path.abspath(argv[2]) if len(argv) == 3 else tempfile.mkdtemp(prefix="oic-", dir="/var/tmp")  # short: see zone_folder
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o755)
    path = argv[1]
    if not os.path.exists(path) and path in pipeline_scenarios.SCENARIOS:
        path = pipeline_scenarios.write(path, os.path.join(out, "scenario-files"))
    name = os.path.splitext(os.path.basename(path))[0]
    scenario = scenario_module.load(path)
    sandbox_state, sandbox_steps = scenario_runner.run_sandbox(scenario)
    python_dir = install.prepare_python_dir(os.path.join(out, "python"))
    real_state, real_steps = scenario_runner.run_real(scenario, kit_path, out, python_dir, kit.pick_port())
    found = compare.differences(sandbox_state, real_state, sandbox_steps, real_steps)
    for label, state in (("sandbox", sandbox_state), ("real", real_state)):
        with open(os.path.join(out, "%s.%s.dump.json" % (name, label)), "w") as handle:
            handle.write(dumps(state))
    report = compare.report(found)
    with open(os.path.join(out, "%s.differences.txt" % name), "w") as handle:
        handle.write(report)
    sys.stdout.write(report)
    for note in real_state.get("_notes", []):
        sys.stdout.write("real zone note: %s\n" % note)
    sys.stdout.write("%d difference(s), %d without a documented reason; dumps in %s\n"
                     % (len(found), len(compare.unexplained(found)), out))
    return 1 if compare.unexplained(found) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
