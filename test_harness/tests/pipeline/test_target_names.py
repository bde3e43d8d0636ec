"""Any target name a user types ends placed AND imported: the name is made safe before
anything is placed.

A quote cannot appear in a GenQuery1 literal (single-quoted, no escape: irods/irods
lib/core/src/rcMisc.cpp getCondFromString) and a backslash is an escape in `like`, so
placement.sanitise_name replaces both; a name outside the Basic Multilingual Plane travels
through the delayed rule text as itself (triggers.delayed_rule_text).
"""

import pytest

from pipeline_support import (ALICE_ROOT, DRAIN_FAILURES, Request, avus_of, base_scenario, ours, paths, record_of,
                              stored_bytes)
from omero_irods import names

DAY = "%s/ingest/2026-01-01" % ALICE_ROOT


@pytest.mark.parametrize("target, placed", [
    ("Alice's cells", "Alice_s cells"),
    ("C:\\data\\run", "C:_data_run"),
    ("cells \U0001F9EA", "cells \U0001F9EA"),
])
def test_a_target_name_is_placed_under_a_safe_name_and_imported(tmp_path, run_scenario, target, placed):
    rid = "20261122T101500Z-0000a001"
    request = Request(tmp_path, rid, {"a.tif": b"A" * 10}, target_name=target)
    state = run_scenario(base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES]))
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.IMPORTED, ours(state["log"])[-2:]
    assert avus[names.AVU_DESTINATION] == "%s/%s" % (DAY, placed)
    assert stored_bytes(state, "%s/%s/a.tif" % (DAY, placed)) == b"A" * 10


def test_a_target_named_like_an_entry_beside_the_staging_is_refused_not_renamed(tmp_path, run_scenario):
    """irods/irods server/api/src/rsDataObjRename.cpp renames inside the source collection
    first, then moves: the staging collection (`<record>/staging-1`) cannot take the name of
    the attempt's claim beside it (`<record>/attempt-1`), although the destination is free (the
    sandbox emulates the two steps, catalog_tree.Zone.rename). The request is refused with what
    to change, never placed under a name nobody asked for."""
    rid = "20261122T101500Z-0000a002"
    request = Request(tmp_path, rid, {"a.tif": b"A" * 10, "b.tif": b"B" * 10}, target_name="attempt-1")
    state = run_scenario(base_scenario(tmp_path, request.steps() + [DRAIN_FAILURES]))
    avus = avus_of(state, record_of(state, rid))
    assert avus[names.AVU_STATE] == names.REJECTED, ours(state["log"])[-3:]
    assert "another target name" in avus[names.AVU_ERROR]
    assert not [path for path in paths(state) if path.startswith(DAY + "/")]
