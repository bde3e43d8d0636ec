"""The guard's pure decisions: scope by roots, the one query, which rows refuse, the log line."""

import pytest

from omero_irods import guard
from omero_irods.names import AVU_OMERO_IMAGE

RUN = "/tempZone/home/alice/omero/ingest/2026-11-22/run1"


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


# --- the one query --------------------------------------------------------------------------


def test_one_query_asks_for_the_avu_at_above_and_below_the_path():
    columns, condition = guard.holder_query(RUN)
    assert columns == "COLL_NAME, META_COLL_ATTR_VALUE"
    # parent_of first in its compound: irods/irods plugins/database/src/general_query.cpp
    # insertWhere refuses a quote more than 10 characters into a condition part.
    assert condition == ("META_COLL_ATTR_NAME = '%s' and COLL_NAME parent_of '%s' || like '%s/%%'"
                         % (AVU_OMERO_IMAGE, RUN, RUN))


@pytest.mark.parametrize("awkward", ["it's", "back\\slash"])
def test_a_path_genquery_cannot_quote_is_queried_from_its_deepest_plain_ancestor(awkward):
    path = RUN + "/" + awkward + "/a.tif"
    _columns, condition = guard.holder_query(path)
    assert "parent_of '%s' || like '%s/%%'" % (RUN, RUN) in condition
    assert awkward not in condition
    # ... and the superset it returns is narrowed to the path's own family
    rows = [[RUN + "/" + awkward, "7"], [RUN + "/other", "8"]]
    assert guard.holders_from_rows(path, rows) == ((RUN + "/" + awkward, ("7",)),)


# --- rows -> refusal --------------------------------------------------------------------------


def test_an_ancestor_the_path_itself_and_a_descendant_all_guard():
    rows = [[RUN, "12"], [RUN, "3"], ["/tempZone/home/alice/omero/ingest/2026-11-23/run2", "40"]]
    assert guard.holders_from_rows(RUN + "/plate/A1.tif", rows) == ((RUN, ("3", "12")),)
    assert guard.holders_from_rows(RUN, rows) == ((RUN, ("3", "12")),)
    above = guard.holders_from_rows("/tempZone/home/alice/omero", rows)
    assert [collection for collection, _images in above] == [RUN, "/tempZone/home/alice/omero/ingest/2026-11-23/run2"]


def test_like_wildcards_and_name_prefixes_do_not_guard_unrelated_paths():
    # `like 'run_/%'` also matches runX/...; and /run1 is a string prefix of /run10
    path = "/tempZone/home/alice/omero/run_"
    rows = [["/tempZone/home/alice/omero/runX/sub", "1"], ["/tempZone/home/alice/omero/run_0", "2"]]
    assert guard.refusal(guard.UNLINK, path, "alice", rows) is None
    assert guard.refusal(guard.UNLINK, RUN + "0/a.tif", "alice", [[RUN, "1"]]) is None


def test_no_rows_lets_the_call_run():
    assert guard.refusal(guard.RENAME, RUN, "alice", []) is None


@pytest.mark.parametrize("operation, error_name", [
    (guard.RENAME, "SYS_NOT_ALLOWED"), (guard.PHYMV, "SYS_NOT_ALLOWED"),
    (guard.UNLINK, "SYS_DELETE_DISALLOWED"), (guard.RM_COLL, "SYS_DELETE_DISALLOWED"),
    (guard.TRIM, "SYS_DELETE_DISALLOWED"),
])
def test_each_operation_fails_with_an_error_iRODS_defines(operation, error_name):
    # irods/irods lib/core/include/irods/rodsErrorTable.h: SYS_NOT_ALLOWED -169000,
    # SYS_DELETE_DISALLOWED -41000 (what acDataDeletePolicy's msiDeleteDisallowed returns)
    from omero_irods_sandbox.error_codes import code

    refusal = guard.refusal(operation, RUN + "/a.tif", "alice", [[RUN, "5"]])
    assert refusal.error_name == error_name
    assert code(error_name) == {"SYS_NOT_ALLOWED": -169000, "SYS_DELETE_DISALLOWED": -41000}[error_name]


def test_the_log_line_names_path_user_images_and_how_to_release():
    refusal = guard.refusal(guard.UNLINK, RUN + "/a.tif", "rods", [[RUN, "12"], [RUN, "3"]])
    line = refusal.log_line()
    assert line.startswith("omero-irods: refused removal of %s/a.tif by rods (SYS_DELETE_DISALLOWED)" % RUN)
    assert "%s (OMERO images 3, 12)" % RUN in line
    assert "delete those images in OMERO first" in line
    assert "imeta rmw -C %s %s %%" % (RUN, AVU_OMERO_IMAGE) in line


def test_a_long_list_of_guarding_collections_is_cut_in_the_log():
    rows = [["/tempZone/home/alice/omero/run%02d" % n, str(n)] for n in range(guard.LOG_HOLDERS + 3)]
    line = guard.refusal(guard.RM_COLL, "/tempZone/home/alice/omero", "alice", rows).log_line()
    assert "run04 (OMERO images 4)" in line
    assert "3 more collections" in line
    assert "imeta rmw -C <each collection above> %s %%" % AVU_OMERO_IMAGE in line
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
