"""Concurrent delay executors, the server version switch, hash schemes and the two-step rename.

Sources (each test names its own):
- irods/irods server/delay_server/src/irodsDelayServer.cpp: due rules run on a pool of
  number_of_concurrent_delay_rule_executors threads, each in its own agent;
- irods/irods plugins/database/src/db_plugin.cpp findOrInsertAVU and schema/icatSysTables.sql:
  an AVU add looks the triple up, inserts a new one, and only the (object_id, meta_id) unique
  index rejects a duplicate -- two concurrent adds of a NEW triple both succeed (seen on
  iRODS 5.0.2); collection names have a unique index;
- irods/irods_rule_engine_plugin_python commit 30445f2: 5.0 raises on CAT_SUCCESS_BUT_WITH_NO_INFO;
- irods/irods lib/genquery1/dsl/lexer.l (5.0): `''` and `\\xHH` decoded inside literals;
- irods/irods server/api/src/rsFileChksum.cpp: default_hash_scheme, match_hash_policy (an
  original checksum keeps its scheme); rsDataObjChksum.cpp: a forced one hands in none;
  lib/core/src/putUtil.cpp: `iput -K` sends the client-side checksum;
- irods/irods server/api/src/rsDataObjRename.cpp: chlRenameObject in the source collection,
  then chlMoveObject.
"""

import hashlib
import textwrap

import pytest

from omero_irods_sandbox.catalog import ServerSettings, Zone
from omero_irods_sandbox.error_codes import IrodsError
from omero_irods_sandbox.prep.callback import Callback
from omero_irods_sandbox.prep.runtime import PrepRuntime

INST = "<INST_NAME>irods_rule_engine_plugin-python-instance</INST_NAME>"
HOME = "/tempZone/home/alice"


def make_zone(tmp_path, **server):
    zone = Zone("tempZone", tmp_path / "zone", server=ServerSettings(**server))
    zone.add_user("alice")
    zone.add_user("bob")
    return zone


def make_runtime(zone, tmp_path, core=""):
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "core.py").write_text(textwrap.dedent("""
        seen = []
        def schedule(rule_args, callback, rei):
            callback.delayExec(rule_args[0], rule_args[1], '')
    """) + textwrap.dedent(core))
    return PrepRuntime(zone, etc)


def schedule(runtime, body, user="alice"):
    result = runtime.invoke("schedule", [INST, body], runtime.make_rei(user))
    assert result.ok, result.message


def logged(runtime, word):
    return [line.split("inString = ", 1)[1] for line in runtime.log if "inString = " + word in line]


CLAIM = "callback.msiModAVUMetadata('-C', '%s', 'add', 'claim', 'once', '')\n" \
        "callback.writeLine('serverLog', 'claimed')" % HOME


@pytest.mark.parametrize("executors, claims", [(1, 1), (2, 2), (4, 2)])
def test_two_concurrent_adds_of_a_new_avu_both_succeed(tmp_path, executors, claims):
    zone = make_zone(tmp_path)
    runtime = make_runtime(zone, tmp_path)
    schedule(runtime, CLAIM)
    schedule(runtime, CLAIM)
    results = runtime.run_due(executors=executors)
    assert len(logged(runtime, "claimed")) == claims
    assert [code < 0 for code in (r.code for r in results)].count(True) == 2 - claims
    assert zone.collection(HOME).avus.count(("claim", "once", "")) == claims


def test_a_triple_the_catalog_knows_is_rejected_by_the_unique_index_even_concurrently(tmp_path):
    zone = make_zone(tmp_path)
    zone.add_avu("bob", "/tempZone/home/bob", "claim", "once")  # the triple has a meta_id now
    runtime = make_runtime(zone, tmp_path)
    schedule(runtime, CLAIM)
    schedule(runtime, CLAIM)
    runtime.run_due(executors=4)
    assert logged(runtime, "claimed") == ["claimed"]
    assert zone.collection(HOME).avus.count(("claim", "once", "")) == 1


def test_creating_a_collection_stays_atomic_under_concurrency(tmp_path):
    zone = make_zone(tmp_path)
    runtime = make_runtime(zone, tmp_path)
    body = "callback.msiCollCreate('%s/claim', 0, 0)\ncallback.writeLine('serverLog', 'created')" % HOME
    schedule(runtime, body)
    schedule(runtime, body)
    results = runtime.run_due(executors=2)
    assert logged(runtime, "created") == ["created"]
    assert sorted(r.code < 0 for r in results) == [False, True]


def test_executors_interleave_round_robin_at_each_microservice_call(tmp_path):
    zone = make_zone(tmp_path)
    runtime = make_runtime(zone, tmp_path)
    for name in ("A", "B"):
        schedule(runtime, "callback.writeLine('serverLog', '%s1')\ncallback.writeLine('serverLog', '%s2')"
                 % (name, name))
    runtime.run_due(executors=2)
    assert logged(runtime, "") == ["A1", "B1", "A2", "B2"]
    runtime.log[:] = []
    for name in ("A", "B"):
        schedule(runtime, "callback.writeLine('serverLog', '%s1')\ncallback.writeLine('serverLog', '%s2')"
                 % (name, name))
    runtime.run_due()
    assert logged(runtime, "") == ["A1", "A2", "B1", "B2"]


def test_each_executor_has_its_own_agent_no_module_state_is_shared(tmp_path):
    zone = make_zone(tmp_path)
    runtime = make_runtime(zone, tmp_path, """
        def remember(rule_args, callback, rei):
            seen.append(1)
            callback.writeLine('serverLog', 'seen %d' % len(seen))
            callback.writeLine('serverLog', 'seen %d' % len(seen))
    """)
    for _ in range(3):
        schedule(runtime, "callback.remember()")
    runtime.run_due(executors=3)
    assert logged(runtime, "seen") == ["seen 1"] * 6


def test_rules_a_running_rule_schedules_run_in_the_same_drain(tmp_path):
    zone = make_zone(tmp_path)
    runtime = make_runtime(zone, tmp_path)
    schedule(runtime, "callback.delayExec('%s', \"callback.writeLine('serverLog', 'second')\", '')" % INST)
    schedule(runtime, "callback.writeLine('serverLog', 'first')")
    runtime.run_due(executors=4)
    assert sorted(logged(runtime, "")) == ["first", "second"]
    assert runtime.pending() == []


# ---- server versions ---------------------------------------------------------------------

@pytest.mark.parametrize("version, raises", [("4.3", False), ("5.0", True)])
def test_cat_success_but_with_no_info_raises_on_5_0_only(tmp_path, version, raises):
    zone = make_zone(tmp_path, version=version)
    runtime = make_runtime(zone, tmp_path)
    callback = Callback(runtime, runtime.make_rei("alice"))
    with runtime.rules.active():
        if raises:
            with pytest.raises(RuntimeError, match="CAT_SUCCESS_BUT_WITH_NO_INFO"):
                callback.msiModAVUMetadata("-C", HOME, "rm", "absent", "x", "")
        else:
            assert callback.msiModAVUMetadata("-C", HOME, "rm", "absent", "x", "")["status"] is False


@pytest.mark.parametrize("version, found", [("4.3", []), ("5.0", ["it's A"])])
def test_genquery_literals_are_decoded_on_5_0_only(tmp_path, version, found):
    zone = make_zone(tmp_path, version=version)
    zone.put("alice", HOME + "/it's A", b"x")
    runtime = make_runtime(zone, tmp_path)
    with runtime.rules.active():
        runtime.rules.core()
        import genquery
        callback = Callback(runtime, runtime.make_rei("alice"))
        condition = "COLL_NAME = '%s' and DATA_NAME = 'it''s \\x41'" % HOME
        if found:
            assert list(genquery.Query(callback, "DATA_NAME", condition)) == found
        else:
            with pytest.raises(RuntimeError):  # 4.3: two literals where one is expected
                list(genquery.Query(callback, "DATA_NAME", condition))


# ---- checksums ---------------------------------------------------------------------------

def test_checksums_follow_the_default_hash_scheme(tmp_path):
    zone = make_zone(tmp_path, default_hash_scheme="MD5")
    zone.put("alice", HOME + "/a", b"hello")
    assert zone.checksum("alice", HOME + "/a") == hashlib.md5(b"hello").hexdigest()


@pytest.mark.parametrize("policy", ["compatible", "strict"])
def test_a_forced_checksum_recomputes_an_md5_one_in_the_default_scheme(tmp_path, policy):
    # rsDataObjChksum.cpp: a forced recompute hands no ORIG_CHKSUM to file_checksum, so the
    # stored MD5 scheme is not kept (seen on iRODS 5.0.2 with ichksum -f and msiDataObjChksum)
    zone = make_zone(tmp_path, match_hash_policy=policy)
    zone.put("alice", HOME + "/a", b"hello")
    zone.data_object(HOME + "/a").replicas[0].checksum = hashlib.md5(b"hello").hexdigest()
    assert zone.checksum("alice", HOME + "/a") == hashlib.md5(b"hello").hexdigest()  # not forced: as stored
    assert zone.checksum("alice", HOME + "/a", force=True).startswith("sha2:")


def test_an_iput_k_from_an_md5_client_keeps_md5_under_the_compatible_policy(tmp_path):
    # putUtil.cpp + rsFileChksum.cpp file_checksum: the client's checksum is the original one
    zone = make_zone(tmp_path)
    zone.put("alice", HOME + "/a", b"hello")
    assert zone.verify_put_checksum(HOME + "/a", hashlib.md5(b"hello").hexdigest()) == hashlib.md5(b"hello").hexdigest()
    assert zone.data_object(HOME + "/a").checksum == hashlib.md5(b"hello").hexdigest()
    with pytest.raises(IrodsError) as caught:
        zone.verify_put_checksum(HOME + "/a", hashlib.md5(b"other").hexdigest())
    assert caught.value.name == "USER_CHKSUM_MISMATCH"


def test_an_iput_k_from_an_md5_client_is_refused_under_the_strict_policy(tmp_path):
    # seen on iRODS 5.0.2: USER_HASH_TYPE_MISMATCH, the replica stale without a checksum
    zone = make_zone(tmp_path, match_hash_policy="strict")
    zone.put("alice", HOME + "/a", b"hello")
    with pytest.raises(IrodsError) as caught:
        zone.verify_put_checksum(HOME + "/a", hashlib.md5(b"hello").hexdigest())
    assert caught.value.name == "USER_HASH_TYPE_MISMATCH"
    replica = zone.data_object(HOME + "/a").replicas[0]
    assert (replica.status, replica.checksum) == ("stale", "")


# ---- rename ------------------------------------------------------------------------------

def test_a_rename_clashes_with_a_sibling_in_the_source_collection(tmp_path):
    zone = make_zone(tmp_path)
    zone.create_collection("alice", HOME + "/src")
    zone.create_collection("alice", HOME + "/dst")
    zone.put("alice", HOME + "/src/a", b"a")
    zone.put("alice", HOME + "/src/b", b"b")
    with pytest.raises(IrodsError) as caught:
        zone.rename("alice", HOME + "/src/a", HOME + "/dst/b")  # dst/b is free; src/b is not
    assert caught.value.name == "CAT_NAME_EXISTS_AS_DATAOBJ"
    assert zone.data_object(HOME + "/src/a") is not None and zone.data_object(HOME + "/dst/b") is None
    zone.rename("alice", HOME + "/src/a", HOME + "/dst/a")  # same name: no intermediate step
    zone.rename("alice", HOME + "/src", HOME + "/dst/moved")
    assert zone.data_object(HOME + "/dst/moved/b") is not None
