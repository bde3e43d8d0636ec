"""`omero-irods sandbox run SCENARIO [--dump FILE] [--rules DIR]` and `omero-irods sandbox demo`.

Exit codes:
  0  the scenario ran and every step did what it said (failed only where `expect_error` says so)
  1  the scenario ran, but a step failed unexpectedly or an expected failure did not happen
     (the dump is still written: it shows what happened)
  2  the scenario (or an option) is wrong: nothing ran; the message names file, step and field
"""

import sys

EXIT_OK, EXIT_STEP_FAILED, EXIT_BAD_SCENARIO = 0, 1, 2


def add_arguments(parser, name):
    """Add the `sandbox` actions to the `omero-irods sandbox` parser."""
    actions = parser.add_subparsers(dest="sandbox_action", metavar="ACTION")
    actions.required = True
    run_parser = actions.add_parser(
        "run", help="run a scenario in a fresh emulated zone and write the final state",
        description="Run SCENARIO (JSON; paths in it are relative to it) in a fresh emulated "
                    "zone with the rules loaded. " + __doc__.split("\n\n", 1)[1])
    run_parser.add_argument("scenario", metavar="SCENARIO.json")
    demo_parser = actions.add_parser(
        "demo", help="run the bundled demo scenario and print what happened",
        description="Run the bundled demo scenario: one upload by each client kind (iput, "
                    "python-irodsclient, python-irodsclient parallel) and an instrument run pushed "
                    "as the service account; print each request's story (placed with its ACLs "
                    "and AVUs, imported), the tree, imports, errors and the server log.")
    demo_parser.add_argument("--pep-trace", action="store_true",
                             help="also print the PEPs the server consulted for each upload, in order")
    for sub in (run_parser, demo_parser):
        sub.add_argument("--dump", metavar="STATE.json", help="write the final state here (JSON)")
        sub.add_argument("--rules", metavar="DIR",
                         help="the rules to load (default: the checkout's rules/, else "
                              "<prefix>/share/omero-irods/rules)")
        sub.add_argument("--workdir", metavar="DIR",
                         help="keep the zone (vaults, etc/irods, import log) in DIR instead of "
                              "a temporary directory removed at exit")


def run(args):
    """Run the chosen action; returns the exit code."""
    from omero_irods_sandbox import demo, dump, scenario

    try:
        if args.sandbox_action == "demo":
            loaded = scenario.load(demo.SCENARIO_PATH)
        else:
            loaded = scenario.load(args.scenario)
        rules_dir = scenario.rules_dir(args.rules)
    except scenario.ScenarioError as error:
        print("omero-irods sandbox: %s" % error, file=sys.stderr)
        return EXIT_BAD_SCENARIO
    result = scenario.run(loaded, rules_dir, workdir=args.workdir)
    if args.dump:
        dump.write(result.state, args.dump)
    if args.sandbox_action == "demo":
        print(demo.summary(result.state, pep_trace=args.pep_trace), end="")
    else:
        print(result.report(), end="")
    for problem in result.unexpected:
        print("omero-irods sandbox: %s" % problem, file=sys.stderr)
    return EXIT_STEP_FAILED if result.unexpected else EXIT_OK
