"""Which path of each API's input the guard checks, and when: the APIs the sandbox's clients
do not send (irsync between iRODS paths, iput -b, ibun) are checked here at the adapter, with
the inputs the plugin hands a rule (irods/irods_rule_engine_plugin_python
src/types/irods/bulkDataObjPut.cpp: objPath, condInput; structFileExtAndReg.cpp: objPath,
collection, condInput; a missing KeyValPair key raises KeyError: objInfo.cpp). Key words:
irods/irods lib/core/include/irods/rodsKeyWdDef.h; modes: rodsDef.h."""

from types import SimpleNamespace

import pytest

from omero_irods.adapters import prep
from omero_irods_sandbox.prep import irods_types as types
from omero_irods_sandbox.prep.structs import fill


def _kvp(pairs):
    kvp = types.KeyValPair()
    for key, value in pairs.items():
        types._kvp_add(kvp, key, value)
    return kvp


@pytest.fixture
def guarded_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(prep, "_guard", lambda callback, rei, operation, path: calls.append((operation, path)) or 0)
    monkeypatch.setattr(prep, "_continue", lambda: "continue")
    return calls


def _args(inp):
    return ["instance", "context", inp]


def test_irsync_between_irods_paths_guards_the_destination(guarded_calls):
    inp = fill(types.DataObjInp(), objPath="/z/src",
               condInput=_kvp({"rsyncMode": "IRODS_TO_IRODS", "rsyncDestPath": "/z/dest"}))
    prep.guard_rsync(None, None, _args(inp))
    local = fill(types.DataObjInp(), objPath="/z/src", condInput=_kvp({"rsyncMode": "LOCAL_TO_IRODS"}))
    assert prep.guard_rsync(None, None, _args(local)) == "continue"  # the put that follows is guarded
    assert guarded_calls == [("overwrite", "/z/dest")]


def test_forced_bulk_puts_and_extractions_guard_their_collection_and_unforced_ones_nothing(guarded_calls):
    forced, plain = _kvp({"forceFlag": ""}), _kvp({})
    prep.guard_bulk_put(None, None, _args(SimpleNamespace(objPath="/z/coll", condInput=forced)))
    prep.guard_extract_and_register(None, None, _args(SimpleNamespace(objPath="/z/b.tar", collection="/z/coll2",
                                                                      condInput=forced)))
    prep.guard_bundle(None, None, _args(SimpleNamespace(objPath="/z/b.tar", collection="/z/src", condInput=forced)))
    for handler in (prep.guard_bulk_put, prep.guard_extract_and_register, prep.guard_bundle):
        assert handler(None, None, _args(SimpleNamespace(objPath="/z/x", collection="/z/y", condInput=plain))) \
            == "continue"
    assert guarded_calls == [("overwrite_below", "/z/coll"), ("overwrite_below", "/z/coll2"), ("overwrite", "/z/b.tar")]


def test_puts_and_copies_need_the_force_flag_to_be_checked(guarded_calls):
    put = fill(types.DataObjInp(), objPath="/z/a", condInput=_kvp({"forceFlag": ""}))
    prep.guard_put(None, None, _args(put))
    assert prep.guard_put(None, None, _args(fill(types.DataObjInp(), objPath="/z/b", condInput=_kvp({})))) == "continue"
    copy = fill(types.DataObjCopyInp(),
                srcDataObjInp=fill(types.DataObjInp(), objPath="/z/src", condInput=_kvp({})),
                destDataObjInp=fill(types.DataObjInp(), objPath="/z/dest", condInput=_kvp({"forceFlag": ""})))
    prep.guard_copy(None, None, _args(copy))
    assert guarded_calls == [("overwrite", "/z/a"), ("overwrite", "/z/dest")]


@pytest.mark.parametrize("flags, checked", [(0, False), (1, True), (2, True), (64, True), (512, True), (65, True)])
def test_an_open_is_checked_only_when_it_may_write(guarded_calls, flags, checked):
    inp = fill(types.DataObjInp(), objPath="/z/a", openFlags=flags, condInput=_kvp({}))
    prep.on_open(None, None, _args(inp))
    assert guarded_calls == ([("overwrite", "/z/a")] if checked else [])
