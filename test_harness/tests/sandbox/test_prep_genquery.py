"""genquery.py over the sandbox catalog, through the callback like the real module.

Sources: irods/irods_rule_engine_plugin_python genquery.py + README (Query, row_iterator,
paged_iterator, AS_*); irods/irods lib/core/src/rcMisc.cpp fillGenQueryInpFromStrCond,
plugins/database/src/general_query.cpp (DISTINCT, conditions, access control for non-admins),
server/re/src/genQueryMS.cpp (no rows is not an error).
"""

import textwrap

import pytest

from omero_irods_sandbox.prep import irods_errors
from omero_irods_sandbox.prep.callback import Callback
from omero_irods_sandbox.prep.loader import RuleBase
from omero_irods_sandbox.prep.runtime import PrepRuntime

HOME = "/tempZone/home/alice"


@pytest.fixture
def runtime(zone, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text("")
    for name in ("a.json", "b.json", "c.txt"):
        zone.put("alice", "%s/%s" % (HOME, name), name.encode())
    zone.add_avu("alice", HOME + "/a.json", "omero_irods::state", "received")
    return PrepRuntime(zone, etc)


@pytest.fixture
def genquery(runtime):
    with runtime.rules.active():
        runtime.rules.core()
        import genquery as module
        yield module


def run(runtime, genquery, user, *args, **kwargs):
    callback = Callback(runtime, runtime.make_rei(user))
    return list(genquery.Query(callback, *args, **kwargs))


def test_single_column_as_tuple_yields_strings_and_like_filters(runtime, genquery):
    rows = run(runtime, genquery, "alice", "DATA_NAME", "COLL_NAME = '%s' and DATA_NAME like '%%.json'" % HOME)
    assert rows == ["a.json", "b.json"]


def test_as_dict_keys_are_the_column_strings_and_values_are_strings(runtime, genquery):
    rows = run(runtime, genquery, "alice", "DATA_NAME, DATA_SIZE", "DATA_NAME = 'c.txt'", output=genquery.AS_DICT)
    assert rows == [{"DATA_NAME": "c.txt", "DATA_SIZE": "5"}]


def test_in_not_like_and_numeric_comparison(runtime, genquery):
    assert run(runtime, genquery, "alice", "DATA_NAME", "DATA_NAME in ('a.json', 'c.txt')") == ["a.json", "c.txt"]
    assert run(runtime, genquery, "alice", "DATA_NAME", "DATA_NAME not like '%.json'") == ["c.txt"]
    assert run(runtime, genquery, "alice", "DATA_NAME", "DATA_SIZE > '5' and COLL_NAME = '%s'" % HOME) == ["a.json", "b.json"]


def test_metadata_join_and_aggregates(runtime, genquery):
    rows = run(runtime, genquery, "alice", "COLL_NAME, DATA_NAME, META_DATA_ATTR_VALUE",
               "META_DATA_ATTR_NAME = 'omero_irods::state'")
    assert rows == [(HOME, "a.json", "received")]
    assert run(runtime, genquery, "alice", "COUNT(DATA_ID)", "COLL_NAME = '%s'" % HOME) == ["3"]


def test_parent_of_is_the_path_and_its_parents_begin_of_any_string_prefix(runtime, genquery, zone):
    # irods/irods plugins/database/src/general_query.cpp: parent_of -> COLL_NAME IN (each
    # prefix of the value, the value included); begin_of -> col = substr(value, 1, len(col)).
    zone.create_collection("alice", HOME + "/run1/plate", parents=True)
    zone.create_collection("alice", HOME + "/run", parents=True)
    names = "COLL_NAME parent_of '%s/run1/plate/A1.tif'" % HOME
    assert run(runtime, genquery, "rods", "COLL_NAME", names + " and COLL_NAME like '%s%%'" % HOME) == [
        HOME, HOME + "/run1", HOME + "/run1/plate"]
    assert run(runtime, genquery, "rods", "COLL_NAME", "COLL_NAME begin_of '%s/run1'" % HOME
               + " and COLL_NAME like '%s%%'" % HOME) == [HOME, HOME + "/run", HOME + "/run1"]
    below = "COLL_NAME parent_of '%s/run1' || like '%s/run1/%%'" % (HOME, HOME)
    assert run(runtime, genquery, "rods", "COLL_NAME", below + " and COLL_NAME like '%s/%%'" % HOME) == [
        HOME + "/run1", HOME + "/run1/plate"]


def test_results_respect_the_querying_users_permissions(runtime, genquery):
    assert run(runtime, genquery, "bob", "DATA_NAME", "COLL_NAME = '%s'" % HOME) == []
    assert len(run(runtime, genquery, "rods", "DATA_NAME", "COLL_NAME = '%s'" % HOME)) == 3


def test_no_rows_is_an_empty_iteration(runtime, genquery):
    assert run(runtime, genquery, "alice", "DATA_NAME", "DATA_NAME = 'none'") == []


def test_limit_offset_order_and_total_rows(runtime, genquery):
    callback = Callback(runtime, runtime.make_rei("alice"))
    query = genquery.Query(callback, "ORDER_DESC(DATA_NAME)", "COLL_NAME = '%s'" % HOME, limit=2)
    assert list(query) == ["c.txt", "b.json"]
    assert genquery.Query(callback, "DATA_NAME", "COLL_NAME = '%s'" % HOME).total_rows() == 3
    assert list(genquery.Query(callback, "ORDER(DATA_NAME)", "COLL_NAME = '%s'" % HOME, offset=1)) == ["b.json", "c.txt"]


def test_paging_beyond_256_rows_and_paged_iterator(runtime, genquery, zone):
    zone.create_collection("alice", HOME + "/many")
    for index in range(300):
        zone.put("alice", "%s/many/f%03d" % (HOME, index), b"")
    callback = Callback(runtime, runtime.make_rei("alice"))
    names = list(genquery.row_iterator("DATA_NAME", "COLL_NAME = '%s/many'" % HOME, genquery.AS_LIST, callback))
    assert len(names) == 300
    pages = list(genquery.paged_iterator("DATA_NAME", "COLL_NAME = '%s/many'" % HOME, genquery.AS_LIST, callback, 128))
    assert [len(page) for page in pages] == [128, 128, 44]


def test_unknown_column_is_an_error(runtime, genquery):
    with pytest.raises(RuntimeError, match=str(irods_errors.NO_COLUMN_NAME_FOUND)):
        run(runtime, genquery, "alice", "DATA_NAM", "")


def test_an_admins_own_genquery_py_in_the_etc_dir_wins(zone, tmp_path):
    # The shipped modules live in /etc/irods; the sandbox supplies them only when absent.
    etc = tmp_path / "etc2"
    etc.mkdir()
    (etc / "genquery.py").write_text("MARK = 'site copy'\n")
    rules = RuleBase(etc)
    (etc / "core.py").write_text(textwrap.dedent("import genquery\nMARK = genquery.MARK\n"))
    with rules.active():
        assert rules.core().MARK == "site copy"


def test_indexed_lookups_follow_renames_and_metadata_changes(runtime, genquery, zone):
    # The catalog answers by index (irods/irods schema/icatSysTables.sql: collection names,
    # data names per collection, R_META_MAIN attribute names); the sandbox's indexes must
    # follow every rename and AVU change exactly as a full scan would.
    zone.create_collection("alice", HOME + "/run")
    zone.put("alice", HOME + "/run/x.tif", b"x")
    zone.add_avu("alice", HOME + "/run/x.tif", "kind", "image")
    zone.rename("alice", HOME + "/run", HOME + "/moved")
    assert run(runtime, genquery, "alice", "DATA_NAME", "COLL_NAME = '%s/run'" % HOME) == []
    assert run(runtime, genquery, "alice", "DATA_NAME", "COLL_NAME = '%s/moved'" % HOME) == ["x.tif"]
    assert run(runtime, genquery, "alice", "COLL_NAME", "COLL_PARENT_NAME = '%s'" % HOME) == [HOME + "/moved"]
    assert run(runtime, genquery, "alice", "DATA_NAME", "COLL_NAME like '%s/%%'" % HOME) == ["x.tif"]
    assert run(runtime, genquery, "alice", "COLL_NAME, DATA_NAME", "META_DATA_ATTR_NAME = 'kind'") == [
        (HOME + "/moved", "x.tif")]
    zone.remove_avu("alice", HOME + "/moved/x.tif", "kind", "image")
    assert run(runtime, genquery, "alice", "DATA_NAME", "META_DATA_ATTR_NAME = 'kind'") == []
    zone.set_avu("alice", HOME + "/moved", "kind", "plate")
    assert run(runtime, genquery, "alice", "COLL_NAME", "META_COLL_ATTR_NAME in ('kind', 'other')") == [
        HOME + "/moved"]
