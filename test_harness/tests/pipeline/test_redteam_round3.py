"""Red-team round 3 (issue 8 remainder): attacks on the landing seal, the integrity mark, the
in-place guard and the link entries, as an ordinary zone user would make them.

The root of the first four: the Python rule engine plugin runs a DELAYED rule's text as Python
in the delay server, as the iRODS OS user, with no privilege check
(irods/irods_rule_engine_plugin_python src/main.cpp: `exec_rule_text`, what `irule` reaches,
refuses a client or proxy below REMOTE_PRIV_USER_AUTH; `exec_rule_expression`, what the delay
server runs, checks nothing). A rodsuser reached it with irule and a native-language
`delay("<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME>") { ... }` (the
sandbox's `user_rule` step; seen on iRODS 5.0.2). A microservice such a rule calls goes straight
to the rs* function: no `pep_api_*` fires, so the guard would never see it. The rules now refuse
that irule itself (omero_irods.rule_gate): each test shows the attack refused at the irule and
nothing done.
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
    """The user's irule that would queue `text` for the Python instance: refused by the gate."""
    zone.step({"user_rule": {"as": user, "rule": text, "expect_error": "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"}})
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert state["client_errors"][-1]["name"] == "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"
    assert [line for line in state["log"] if "refused irule" in line and user in line]


def _imported(zone, request):
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    return state


# --- secrets ----------------------------------------------------------------------------------


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


def test_a_mapped_users_own_delayed_rule_cannot_remove_linked_data(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x004", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps() + [UNTIL_IDLE]))
    state = _imported(zone, request)
    linked = _linked_file(state)
    _run_user_rule(zone, "alice", "callback.msiDataObjUnlink('objPath=%s++++forceFlag=', 0)\n" % linked)
    state = zone.state()
    assert linked in paths(state), "the linked file %s was removed; the guard said nothing: %s" % (
        linked, [line for line in state["log"] if "refused" in line])


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


def test_a_marked_payload_in_a_zone_without_a_key_is_not_processed_in_silence(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T130000Z-0000x006", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE]))
    state = zone.state()
    said = [line for line in state["log"] if "omero-irods" in line and "integrity mark" in line
            and "NOT checked" in line and request.request_id in line]
    assert said, "the mark was ignored without a word; the request ended %s" % (
        avus_of(state, record_of(state, request.request_id))[names.AVU_STATE])


# --- a landing co-writer ----------------------------------------------------------------------


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
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "not_permitted" in avus[names.AVU_ERROR] and "bob" in avus[names.AVU_ERROR]
