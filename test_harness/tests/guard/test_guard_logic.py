"""The guard's pure decisions: scope by roots, the one query, which rows refuse, the log line."""

import pytest

from omero_irods import guard
from omero_irods.names import AVU_LINKED_ROOT, AVU_LINKED_UNDER

RUN = "/tempZone/home/alice/omero/ingest/2026-11-22/run1"
RECORDS = "/tempZone/home/omero-svc/omero-irods-records"
LINKS = RECORDS + "/links"


def entry(request_id):
    return LINKS + "/" + request_id


# --- scope: the string test every guarded PEP makes first ----------------------------------


@pytest.mark.parametrize("path", [
    RUN + "/plate/A1.tif",  # below a root
    "/tempZone/home",  # the root itself: everything placed is below it
    "/tempZone",  # above a root: renaming or removing it carries everything below
])
def test_paths_at_below_or_above_a_root_are_in_scope(path):
    assert guard.in_scope(path, ("/tempZone/home",))


@pytest.mark.parametrize("path", [
    "/tempZone/trash/home/alice/x.tif",  # irmtrash of the trash: never placed there
    "/tempZone/homework/x",  # a sibling sharing a prefix, not a child
    "/otherZone/home/alice/x",
])
def test_paths_beside_every_root_are_out_of_scope(path):
    assert not guard.in_scope(path, ("/tempZone/home", "/tempZone/projects/"))


def test_no_roots_means_nothing_is_guarded():
    assert not guard.in_scope(RUN, ())


@pytest.mark.parametrize("raw, normal", [
    ("/tempZone//home/alice/x/", "/tempZone/home/alice/x"),
    ("//tempZone/home/./alice/../bob", "/tempZone/home/bob"),
])
def test_paths_are_normalised_before_the_string_test_and_the_query(raw, normal):
    assert guard.normal_path(raw) == normal
    assert guard.zone_of(guard.normal_path(raw)) == "tempZone"


# --- the roots the string test keeps ----------------------------------------------------------


def test_roots_ever_linked_in_stay_in_scope_after_the_config_narrows():
    columns, condition = guard.linked_under_query(RECORDS)
    assert columns == "META_COLL_ATTR_VALUE"
    assert condition == "COLL_NAME = '%s' and META_COLL_ATTR_NAME = '%s'" % (LINKS, AVU_LINKED_UNDER)
    roots = guard.guarded_roots(("/tempZone/projects",), [["/tempZone/home"]])
    assert roots == ("/tempZone/home", "/tempZone/projects")
    assert guard.in_scope(RUN, roots)


# --- the one query --------------------------------------------------------------------------


def test_one_query_asks_for_links_at_above_and_below_the_path_in_the_records_only():
    columns, condition = guard.holder_query(RUN, RECORDS)
    assert columns == "COLL_NAME, META_COLL_ATTR_VALUE, META_COLL_ATTR_UNITS"
    # parent_of first in its compound: irods/irods plugins/database/src/general_query.cpp
    # insertWhere refuses a quote more than 10 characters into a condition part.
    assert condition == ("COLL_PARENT_NAME = '%s' and META_COLL_ATTR_NAME = '%s' and META_COLL_ATTR_VALUE "
                         "parent_of '%s' || like '%s/%%'" % (LINKS, AVU_LINKED_ROOT, RUN, RUN))


def test_without_a_readable_config_every_links_collection_counts():
    _columns, condition = guard.holder_query(RUN, None)
    assert condition.startswith("COLL_PARENT_NAME like '%/links' and ")


@pytest.mark.parametrize("awkward", ["it's", "back\\slash"])
def test_a_path_genquery_cannot_quote_is_queried_from_its_deepest_plain_ancestor(awkward):
    path = RUN + "/" + awkward + "/a.tif"
    _columns, condition = guard.holder_query(path, RECORDS)
    assert "parent_of '%s' || like '%s/%%'" % (RUN, RUN) in condition
    assert awkward not in condition
    # ... and the superset it returns is narrowed to the path's own family
    rows = [[entry("req-0000007"), RUN + "/" + awkward, "alice"], [entry("req-0000008"), RUN + "/other", "bob"]]
    assert guard.holders_from_rows(path, rows) == ((RUN + "/" + awkward, (("alice", entry("req-0000007")),)),)


# --- rows -> refusal --------------------------------------------------------------------------


def test_an_ancestor_the_path_itself_and_a_descendant_all_guard():
    run2 = "/tempZone/home/alice/omero/ingest/2026-11-23/run2"
    rows = [[entry("req-alice-1"), RUN, "alice"], [entry("req-bob-01"), RUN, "bob"],
            [entry("req-alice-2"), run2, "alice"]]
    held = (("alice", entry("req-alice-1")), ("bob", entry("req-bob-01")))
    assert guard.holders_from_rows(RUN + "/plate/A1.tif", rows) == ((RUN, held),)
    assert guard.holders_from_rows(RUN, rows) == ((RUN, held),)
    above = guard.holders_from_rows("/tempZone/home/alice/omero", rows)
    assert [root for root, _held in above] == [RUN, run2]


def test_like_wildcards_and_name_prefixes_do_not_guard_unrelated_paths():
    # `like 'run_/%'` also matches runX/...; and /run1 is a string prefix of /run10
    path = "/tempZone/home/alice/omero/run_"
    rows = [[entry("r-000001"), "/tempZone/home/alice/omero/runX/sub", "alice"],
            [entry("r-000002"), "/tempZone/home/alice/omero/run_0", "alice"]]
    assert guard.refusal(guard.UNLINK, path, "alice", rows) is None
    assert guard.refusal(guard.UNLINK, RUN + "0/a.tif", "alice", [[entry("r-000001"), RUN, "alice"]]) is None


@pytest.mark.parametrize("operation", [guard.OVERWRITE, guard.TRUNCATE])
def test_a_rewrite_of_one_object_counts_only_links_at_or_above_it(operation):
    rows = [[entry("r-000007"), RUN + "/plate", "alice"]]
    # a link below the path cannot cover an object's bytes (an object has nothing below it)
    assert guard.refusal(operation, RUN, "alice", rows) is None
    assert guard.refusal(operation, RUN + "/plate/a.tif", "alice", rows).holders == (
        (RUN + "/plate", (("alice", entry("r-000007")),)),)
    assert guard.needs_existing_object(operation) and not guard.needs_existing_object(guard.OVERWRITE_BELOW)
    # a forced upload into a collection counts links below it too
    assert guard.refusal(guard.OVERWRITE_BELOW, RUN, "alice", rows) is not None


def test_the_existence_query_names_the_object_and_refuses_what_it_cannot_quote():
    assert guard.object_query(RUN + "/a.tif") == ("DATA_ID", "COLL_NAME = '%s' and DATA_NAME = 'a.tif'" % RUN)
    assert guard.object_query(RUN + "/it's.tif") is None


def test_no_rows_lets_the_call_run():
    assert guard.refusal(guard.RENAME, RUN, "alice", []) is None


@pytest.mark.parametrize("operation, error_name", [
    (guard.RENAME, "SYS_NOT_ALLOWED"), (guard.PHYMV, "SYS_NOT_ALLOWED"),
    (guard.UNLINK, "SYS_DELETE_DISALLOWED"), (guard.RM_COLL, "SYS_DELETE_DISALLOWED"),
    (guard.TRIM, "SYS_DELETE_DISALLOWED"), (guard.OVERWRITE, "SYS_NOT_ALLOWED"),
    (guard.TRUNCATE, "SYS_NOT_ALLOWED"), (guard.OVERWRITE_BELOW, "SYS_NOT_ALLOWED"),
])
def test_each_operation_fails_with_an_error_iRODS_defines(operation, error_name):
    # irods/irods lib/core/include/irods/rodsErrorTable.h: SYS_NOT_ALLOWED -169000,
    # SYS_DELETE_DISALLOWED -41000 (what acDataDeletePolicy's msiDeleteDisallowed returns)
    from omero_irods_sandbox.error_codes import code

    refusal = guard.refusal(operation, RUN + "/a.tif", "alice", [[entry("r-000005"), RUN, "alice"]])
    assert refusal.error_name == error_name
    assert code(error_name) == {"SYS_NOT_ALLOWED": -169000, "SYS_DELETE_DISALLOWED": -41000}[error_name]


def test_the_log_line_names_path_user_who_holds_links_and_how_to_release():
    rows = [[entry("req-alice-1"), RUN, "alice"], [entry("req-bob-001"), RUN, "bob"]]
    line = guard.refusal(guard.UNLINK, RUN + "/a.tif", "rods", rows).log_line()
    assert line.startswith("omero-irods: refused removal of %s/a.tif by rods (SYS_DELETE_DISALLOWED)" % RUN)
    assert "%s (linked by OMERO user alice, request req-alice-1, OMERO user bob, request req-bob-001)" % RUN in line
    assert "delete those images in OMERO first" in line
    assert "imeta rm -C %s %s %s alice" % (entry("req-alice-1"), AVU_LINKED_ROOT, RUN) in line


def test_a_long_list_of_guarded_roots_is_cut_in_the_log():
    rows = [[entry("req-%06d" % n), "/tempZone/home/alice/omero/run%02d" % n, "alice"]
            for n in range(guard.LOG_HOLDERS + 3)]
    line = guard.refusal(guard.RM_COLL, "/tempZone/home/alice/omero", "alice", rows).log_line()
    assert "run04 (linked by OMERO user alice, request req-000004)" in line
    assert "3 more roots" in line
    assert "run05" not in line


def test_a_failed_query_refuses_to_be_safe_and_says_why():
    refusal = guard.unchecked(guard.TRIM, RUN + "/a.tif", "alice", "CAT_SQL_ERR: connection lost")
    assert refusal.error_name == "SYS_DELETE_DISALLOWED"
    line = refusal.log_line()
    assert "could not check whether OMERO links to its vault files (CAT_SQL_ERR: connection lost)" in line
    assert RUN + "/a.tif" in line


def test_an_unknown_operation_is_a_clear_programming_error():
    with pytest.raises(ValueError, match="unknown guarded operation 'copy'"):
        guard.refusal("copy", RUN, "alice", [])
