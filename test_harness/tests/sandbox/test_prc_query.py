"""`SandboxSession.query`: python-irodsclient's own Query, answered as rsGenQuery answers it.

Sources (as cited in omero_irods_sandbox/prc_session.py):
- python-irodsclient irods/query.py (filter, limit, all, one, first, iteration over continued
  batches, close), irods/models.py and irods/column.py (columns, Criterion, Like, In),
  irods/results.py (rows keyed by column, values converted by the column type).
- irods/irods plugins/database/src/general_query.cpp chlGenQuery (statements, continueInx,
  CAT_NO_ROWS_FOUND, maxRows <= 0 closes, AUTO_CLOSE), and its read_object access check for
  non-admins; lib/core/include/irods/rodsGenQuery.h, rodsGenQueryNames.h (column numbers).
"""

import datetime
import sys

import pytest

irods_models = pytest.importorskip("irods.models")
from irods.column import Criterion, In, Like  # noqa: E402
from irods.exception import CAT_UNKNOWN_TABLE, NoResultFound  # noqa: E402
from irods.models import Collection, DataObject, DataObjectMeta  # noqa: E402

from omero_irods_sandbox import prc_session  # noqa: E402
from omero_irods_sandbox.clients import Server  # noqa: E402
from omero_irods_sandbox.prc_session import SandboxSession  # noqa: E402
from omero_irods_sandbox.prep.runtime import PrepRuntime  # noqa: E402

ALICE = "/tempZone/home/alice"
BOB = "/tempZone/home/bob"


@pytest.fixture
def server(zone, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("core.py", "genquery.py", "session_vars.py"):
        (etc / name).write_text("")
    return Server(zone, PrepRuntime(zone, str(etc)))


def _tagged(zone, owner, path, avus):
    zone.put(owner, path, b"x")
    for attribute, value in avus:
        zone.add_avu(owner, path, attribute, value)


def test_rows_are_keyed_by_prcs_columns_with_typed_values(zone, server):
    _tagged(zone, "alice", ALICE + "/a.json", [("kind", "record"), ("state", "placed")])
    zone.clock.advance(60)
    _tagged(zone, "alice", ALICE + "/b.txt", [("kind", "other")])
    session = SandboxSession(server, "alice")
    rows = list(session.query(DataObject.id, Collection.name, DataObject.name, DataObject.create_time,
                              DataObjectMeta.value)
                .filter(DataObjectMeta.name == "kind"))
    assert [(r[Collection.name], r[DataObject.name], r[DataObjectMeta.value]) for r in rows] == [
        (ALICE, "a.json", "record"), (ALICE, "b.txt", "other")]
    assert all(isinstance(r[DataObject.id], int) for r in rows)
    assert [r[DataObject.create_time] for r in rows] == [
        datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.timezone.utc)]


def test_criteria_like_in_and_explicit_criterion_select_as_genquery_does(zone, server):
    for name in ("r1.json", "r2.json", "notes.txt"):
        _tagged(zone, "alice", "%s/%s" % (ALICE, name), [("n", name)])
    session = SandboxSession(server, "alice")

    def names(criterion):
        return sorted(row[DataObject.name] for row in session.query(DataObject.name).filter(criterion))

    ids = {row[DataObject.name]: row[DataObject.id] for row in session.query(DataObject.id, DataObject.name)}
    assert names(Like(DataObject.name, "%.json")) == ["r1.json", "r2.json"]
    assert names(In(DataObject.id, [ids["r2.json"], ids["notes.txt"]])) == ["notes.txt", "r2.json"]
    assert names(Criterion("=", DataObjectMeta.value, "r1.json")) == ["r1.json"]
    assert names(DataObject.owner_name == "bob") == []


def test_a_user_sees_only_what_they_may_read_and_a_rodsadmin_sees_all(zone, server):
    _tagged(zone, "alice", ALICE + "/mine.json", [("tag", "t")])
    _tagged(zone, "bob", BOB + "/secret.json", [("tag", "t")])

    def query(user):
        tagged = SandboxSession(server, user).query(DataObject.name).filter(DataObjectMeta.name == "tag")
        return sorted(row[DataObject.name] for row in tagged)

    assert query("alice") == ["mine.json"]
    zone.set_acl("bob", BOB, "read", "alice")
    zone.set_acl("bob", BOB + "/secret.json", "read", "alice")
    assert query("alice") == ["mine.json", "secret.json"]
    assert query("rods") == ["mine.json", "secret.json"]


def test_iteration_continues_batch_by_batch_and_leaves_no_statement_open(zone, server):
    _tagged(zone, "alice", ALICE + "/many.json", [("n", "%02d" % i) for i in range(6)])
    session = SandboxSession(server, "alice")
    query = session.query(DataObjectMeta.value).filter(DataObjectMeta.name == "n")
    # limit() is PRC's batch size; 6 rows: batches of 4 + 2, and of 3 + 3 + (no rows)
    for batch in (4, 3, 6, 10):
        assert sorted(r[DataObjectMeta.value] for r in query.limit(batch)) == ["%02d" % i for i in range(6)]
        assert session.pool.statements.open == {}
    first_batch = query.limit(2).all()  # one batch, then PRC closes the statement (maxRows 0)
    assert (len(first_batch), session.pool.statements.open) == (2, {})


def test_no_rows_is_an_empty_result_and_one_or_first_say_so(zone, server):
    session = SandboxSession(server, "alice")
    query = session.query(DataObject.name).filter(DataObject.name == "absent")
    assert (len(query.all()), list(query), query.first()) == (0, [], None)
    with pytest.raises(NoResultFound):
        query.one()


def test_aggregates_and_ordering_reach_the_engine(zone, server):
    for name, size in (("a", 3), ("b", 5)):
        zone.put("alice", "%s/%s" % (ALICE, name), b"x" * size)
    session = SandboxSession(server, "alice")
    totals = session.query(DataObject.owner_name).count(DataObject.id).sum(DataObject.size).one()
    assert (totals[DataObject.owner_name], totals[DataObject.id], totals[DataObject.size]) == ("alice", 2, 8)
    ordered = session.query(DataObject.name).order_by(DataObject.name, "desc")
    assert [r[DataObject.name] for r in ordered] == ["b", "a"]


def test_a_column_the_sandbox_does_not_emulate_is_named(server):
    session = SandboxSession(server, "alice")
    with pytest.raises(CAT_UNKNOWN_TABLE, match="GenQuery column number 405 is not emulated"):
        session.query(DataObject.version).all()


def test_without_python_irodsclient_the_session_has_no_query(server, monkeypatch):
    monkeypatch.setitem(sys.modules, "irods.query", None)  # `from irods.query import ...` fails
    session = SandboxSession(server, "alice")
    assert not hasattr(session, "query") and session.collections.exists(ALICE)
    monkeypatch.undo()
    assert prc_session._prc_query_class() is not None
