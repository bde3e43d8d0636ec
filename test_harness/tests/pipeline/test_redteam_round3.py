"""Red-team round 3 (issue 8 remainder): attacks on the landing seal, the integrity mark, the
in-place guard and the link entries, as an ordinary zone user would make them.

Every test here states what a user must NOT be able to do and is a strict xfail while they
can: the suite stays green, and a fix turns the xfail into a failure that says to remove the
mark.

The common root of the first tests: the Python rule engine plugin runs a DELAYED rule's text
as Python in the delay server, as the iRODS OS user, with no privilege check
(irods/irods_rule_engine_plugin_python src/main.cpp: `exec_rule_text`, what `irule` reaches,
refuses a client or proxy below REMOTE_PRIV_USER_AUTH; `exec_rule_expression`, what the delay
server runs, checks nothing and `bp::exec`s `def expressionFcn(...)` + the text). A rodsuser
reaches it without a Python irule: a native-language
`delay("<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME>") { ... }` through
irule (the sandbox's `user_rule` step, test_harness/sandbox/scenario.py). docs/deploy.md
installs the Python instance above the native one, so every zone running this project offers
it. A microservice such a rule calls goes straight to the rs* function: no `pep_api_*` fires
(irods/irods lib/core/include/irods/apiHandler.hpp), so the guard never sees it.
"""

import os

import pytest

from pipeline_support import ALICE_ROOT, SERVICE, UNTIL_IDLE, Request, avus_of, paths, record_of, stored_bytes
from omero_irods import names
from test_redteam_landing import MARK_KEY, _keyed_scenario, _scenario, _signed_steps

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 50}
BOB_HOME = "/tempZone/home/bob"
ALICE_HOME = "/tempZone/home/alice"

#: What an attacker's delayed rule does first: find the policy config the way the policy does
#: (omero_irods.config: $OMERO_IRODS_CONFIG, else /etc/irods/omero_irods.json).
_READ_CONFIG = (
    "import json, os\n"
    "config = json.load(open(os.environ.get('OMERO_IRODS_CONFIG', '/etc/irods/omero_irods.json')))\n"
    "zone = config['zones']['tempZone']\n"
)


def _run_user_rule(zone, user, text):
    zone.step({"user_rule": {"as": user, "rule": text}})
    zone.step(UNTIL_IDLE)


def _imported(zone, request):
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    return state


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-1 (critical): any rodsuser's delayed Python rule runs as the iRODS OS user and reads the "
    "integrity key file (which that OS user must be able to read): bob copies it into an AVU of his home; with "
    "it he can make marks for any payload, so the mark protects nothing (seen on iRODS 5.0.2: alice's delayed "
    "Python ran as uid 999; the API log context is EXEC_RULE_EXPRESSION_AN with client and proxy rods, so a "
    "pep_api_exec_rule_expression_pre cannot simply refuse by user). Fix: a mark the server can check but not "
    "make (an Ed25519/RSA signature verified with a public key; the private key only on the OMERO side), and "
    "a deployment rule that users cannot reach the Python instance through delay() (docs/deploy.md)."))
def test_a_users_delayed_python_rule_cannot_read_the_integrity_key(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x001", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE]))
    _imported(zone, request)
    stolen = _READ_CONFIG + (
        "key = open(zone['integrity_key_file']).read().strip()\n"
        "callback.msiModAVUMetadata('-C', '%s', 'add', 'stolen_key', key, '')\n" % BOB_HOME)
    _run_user_rule(zone, "bob", stolen)
    state = zone.state()
    bob_avus = [avu for entry in state["collections"] if entry["path"] == BOB_HOME for avu in entry["avus"]]
    assert not [avu for avu in bob_avus if MARK_KEY.decode() in " ".join(avu)], bob_avus


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-1b (critical, same mechanism): with the stolen key bob makes a valid mark for a payload that "
    "says what he wants; the integrity check accepts a mark made by a user. Fix as R3-1."))
def test_a_mark_made_with_a_key_a_user_stole_is_not_accepted_as_the_omero_sides(tmp_path, live_zone):
    from omero_irods import integrity

    request = Request(tmp_path, "20261202T130000Z-0000x002", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE]))
    _imported(zone, request)
    stolen = _READ_CONFIG + (
        "key = open(zone['integrity_key_file']).read().strip()\n"
        "callback.msiModAVUMetadata('-C', '%s', 'add', 'stolen_key', key, '')\n" % BOB_HOME)
    _run_user_rule(zone, "bob", stolen)
    state = zone.state()
    values = [avu[1] for entry in state["collections"] if entry["path"] == BOB_HOME for avu in entry["avus"]
              if avu[0] == "stolen_key"]
    key = values[0].encode() if values else b"not stolen: a key bob could not read" + b"x" * 32
    forged = b'{"request_id": "20261202T130000Z-0000x003", "omero": {"user": "bob"}}'
    # the check the pipeline makes must not accept bob's mark; it does whenever he holds the key
    with pytest.raises(Exception):
        integrity.check_mark(MARK_KEY, forged, integrity.make_mark(key, forged))


# --- the guard --------------------------------------------------------------------------------


def _linked_file(state):
    placed = [path for path in paths(state) if path.startswith(ALICE_ROOT + "/") and path.endswith("/a.tif")]
    assert placed, paths(state)
    return placed[0]


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-2 (high): the mapped user's own delayed rule removes data OMERO links to: msiDataObjUnlink "
    "calls rsDataObjUnlink directly, no pep_api_data_obj_unlink_pre fires, and the guard defines none of the "
    "static PEPs that do fire inside (acDataDeletePolicy, acPreProcForObjRename, acPreprocForRmColl, "
    "acPreprocForDataObjOpen). docs/ARCHITECTURE.md lists it as a known gap; it is the main way to break the "
    "guard. Fix: the guard also in acDataDeletePolicy (msiDeleteDisallowed) and acPreProcForObjRename/"
    "acPreprocForRmColl, or stop users' delayed Python (R3-1)."))
def test_a_mapped_users_own_delayed_rule_cannot_remove_linked_data(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x004", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))
    state = _imported(zone, request)
    linked = _linked_file(state)
    _run_user_rule(zone, "alice", "callback.msiDataObjUnlink('objPath=%s++++forceFlag=', 0)\n" % linked)
    state = zone.state()
    assert linked in paths(state), "the linked file %s was removed; the guard said nothing: %s" % (
        linked, [line for line in state["log"] if "refused" in line])


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-3 (high): the mapped user's own delayed rule rewrites linked data in place: msiDataObjOpen "
    "(openFlags=O_RDWR) + msiDataObjWrite fire no pep_api_data_obj_open_pre, so the new in-place guard never "
    "runs. Fix: guard acPreprocForDataObjOpen (fires inside rsDataObjOpen for msi calls) or R3-1."))
def test_a_mapped_users_own_delayed_rule_cannot_rewrite_linked_data(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x005", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))
    state = _imported(zone, request)
    linked = _linked_file(state)
    rewrite = ("fd = callback.msiDataObjOpen('objPath=%s++++openFlags=O_RDWR', 0)['arguments'][1]\n"
               "callback.msiDataObjWrite(fd, 'EVIL', 0)\n"
               "callback.msiDataObjClose(fd, 0)\n" % linked)
    _run_user_rule(zone, "alice", rewrite)
    assert stored_bytes(zone.state(), linked) == FILES["run1/a.tif"], "the linked file's vault bytes changed"


# --- the integrity mark's design --------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-4 (medium): the key configured on the OMERO side only (or removed from the zone's config by "
    "mistake) switches the check off in silence: a marked payload is processed unchecked and nothing says so, "
    "while the facility believes its requests are protected. Fix: when a `.mark` is present and the zone names "
    "no integrity_key_file, log it on the request (and have validate-config say whether the zone checks marks); "
    "better, a config switch `require_integrity_mark` that makes a missing key a ConfigError."))
def test_a_marked_payload_in_a_zone_without_a_key_is_not_processed_in_silence(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x006", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE]))
    state = zone.state()
    said = [line for line in state["log"] if "omero-irods" in line and "integrity" in line]
    assert said, "the mark was ignored without a word; the request ended %s" % (
        avus_of(state, record_of(state, request.request_id))[names.AVU_STATE])


# --- a landing co-writer ----------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason=(
    "FINDING R3-5 (medium): a landing co-writer with delete rights (the careless admin's `own` or "
    "`delete_object` with inheritance on the landing zone) removes someone else's pending payload before its "
    "rule runs: the request vanishes without a record or a state (`omero-irods status` knows nothing), the log "
    "calls it a 'duplicate event', the sweep never reports it, and its tar stays in the landing zone forever. "
    "The seal never runs, so the co-writer is not even named. Fix: the push client seals its own request "
    "collection right after creating it (inheritance off, `ichmod -r null` for every inherited principal), "
    "before any byte is put; and a put event whose payload is gone with no record for its request id is "
    "recorded as lost (rejected, naming the landing collection's holders), not ignored as a duplicate."))
@pytest.mark.parametrize("level", ["own", "delete_object"])
def test_a_landing_co_writer_cannot_make_someone_elses_request_vanish(tmp_path, live_zone, level):
    from pipeline_support import LANDING, RECORDS, under

    request = Request(tmp_path, "20261202T130000Z-0000x0%s" % level[0], FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, []))
    zone.catalog.set_acl(SERVICE, LANDING, level, "bob")  # the careless admin
    zone.catalog.set_inheritance(SERVICE, LANDING, True)
    for step in request.steps():
        zone.step(step)
    zone.catalog.unlink("bob", request.payload_path, force=True)  # before the delay server runs
    zone.step(UNTIL_IDLE)
    zone.step({"advance_clock": "3d"})  # several sweeps
    zone.step(UNTIL_IDLE)
    state = zone.state()
    duplicates = [line for line in state["log"] if request.request_id in line and "duplicate event" in line]
    assert "%s/%s" % (RECORDS, request.request_id) in under(state, RECORDS, "collections"), (
        "alice's request left no record; the log says only: %s" % duplicates)
