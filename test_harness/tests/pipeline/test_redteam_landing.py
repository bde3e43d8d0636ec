"""Red-team cases on the landing zone: what a user an admin let write there can do to
someone else's pending request.

The pipeline authorises a landing payload by its owner (the service account). In iRODS the
owner of a data object stays its creator when someone else with `own` overwrites it
(checked on iRODS 5.0.2: `iput -f` by such a user replaces the bytes, `ils -l` still names the
creator), so "owned by the service account" does not prove that the service account wrote
the bytes. The member check and msiTarFileExtract read the tar twice: whoever may write it in
between decides what libarchive writes on the server's disk.
"""

import json
import os

import pytest

from pipeline_support import (ALICE_ROOT, LANDING, SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, ours, paths,
                              record_of, under)
from omero_irods import names
from omero_irods.archive import list_members as real_list_members
from test_archive_extraction import FILES as TAR_FILES, hostile_tar

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 50}
RID_SWAP = "20261202T110000Z-0000r002"
BOB_ROOT = "/tempZone/home/bob/omero"
USERS = [{"name": SERVICE, "type": "rodsuser"},
         {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
         {"name": "bob", "type": "rodsuser", "groups": ["lab"]}]


def _scenario(tmp_path, steps):
    data = base_scenario(tmp_path, steps, users=USERS, mapped_users={"alice": "alice", "bob": "bob"})
    data["provision"] = ["alice", "bob"]
    return data


def _forged_payload(request, **changes):
    document = json.loads(request.payload_bytes.decode("utf-8"))
    document["omero"].update(changes)
    return json.dumps(document).encode("utf-8")


def _rejected_not_permitted(state, request_id):
    record = avus_of(state, record_of(state, request_id))
    assert record[names.AVU_STATE] == names.REJECTED, record
    assert record[names.AVU_ERROR].startswith("rejected (not_permitted): the landing data cannot be trusted"), record
    return record[names.AVU_ERROR]


def _nothing_placed_nor_imported(state):
    assert under(state, BOB_ROOT) == [] and under(state, ALICE_ROOT) == []
    assert state["imports"] == []


def test_a_landing_co_writer_cannot_redirect_someone_elses_request(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000r001", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    # The careless admin's landing zone: bob may write alice's pending payload.
    zone.catalog.set_acl(SERVICE, request.payload_path, "own", "bob")
    forged = _forged_payload(request, user="bob")
    zone.catalog.put("bob", request.payload_path, forged, force=True)
    assert zone.catalog.data_object(request.payload_path).owner == SERVICE
    zone.step(UNTIL_IDLE)
    state = zone.state()
    # alice's data must never land in bob's root nor be imported as bob
    assert under(state, BOB_ROOT) == []
    assert all("bob" not in " ".join(run["argv"]) for run in state["imports"])
    # and nothing of a request someone else could write is used at all
    _nothing_placed_nor_imported(state)
    error = _rejected_not_permitted(state, request.request_id)
    assert "bob (own)" in error and "ichmod -r -M null NAME %s" % LANDING in error, error
    assert "bob" not in _acl_names(zone, request.payload_path)  # and bob may write there no more


@pytest.mark.parametrize("level", ["write", "own"])
@pytest.mark.parametrize("where", ["collection", "tar"])
def test_any_co_writer_of_the_landing_data_gets_the_request_rejected(tmp_path, live_zone, level, where):
    request = Request(tmp_path, "20261202T110000Z-0000r0%s%s" % (level[0], where[0]), FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    path = request.collection if where == "collection" else request.tar_path
    zone.catalog.set_acl(SERVICE, path, level, "lab")  # a group: every member could write
    zone.step(UNTIL_IDLE)
    state = zone.state()
    _nothing_placed_nor_imported(state)
    error = _rejected_not_permitted(state, request.request_id)
    assert "lab (%s)" % {"write": "modify_object"}.get(level, level) in error, error
    assert "lab" not in _acl_names(zone, request.collection) | _acl_names(zone, request.tar_path)


def test_a_reader_of_the_landing_data_only_loses_their_access(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000r003", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    zone.catalog.set_acl(SERVICE, request.tar_path, "read", "bob")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    assert [line for line in ours(state["log"]) if "removed the access of bob" in line]


def test_a_landing_zone_that_hands_others_write_by_inheritance_rejects_every_request(tmp_path, live_zone):
    """The admin opened the landing zone with inheritance: every new request collection copies
    bob's write, so bob could have written any of them before the seal."""
    request = Request(tmp_path, "20261202T110000Z-0000r004", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, []))
    zone.catalog.set_acl(SERVICE, LANDING, "write", "bob")
    zone.catalog.set_inheritance(SERVICE, LANDING, True)
    for step in request.steps() + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    _nothing_placed_nor_imported(state)
    error = _rejected_not_permitted(state, request.request_id)
    assert "inheritance on" in error and "ichmod -M noinherit %s" % LANDING in error, error


def test_a_landing_root_grant_without_inheritance_is_not_a_writer_of_the_request(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000r005", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, []))
    zone.catalog.set_acl(SERVICE, LANDING, "write", "bob")  # bob may create his own collections there
    for step in request.steps() + [UNTIL_IDLE]:
        zone.step(step)
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED


def _acl_names(zone, path):
    return set(zone.catalog.acl(path))


def test_a_landing_co_writer_still_holding_write_gets_the_tar_refused_before_it_is_read(tmp_path, live_zone):
    """A co-writer who keeps their access: the request is rejected before the tar is read, so
    msiTarFileExtract never reads it and libarchive writes nothing anywhere."""
    request = Request(tmp_path, RID_SWAP, TAR_FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    zone.catalog.set_acl(SERVICE, request.tar_path, "own", "bob")  # the careless admin's landing zone
    zone.catalog.put("bob", request.tar_path, hostile_tar(), force=True)  # before the rule runs
    read = []

    def recording_check(reader, limits, what="archive"):
        read.append(what)
        return real_list_members(reader, limits, what)

    def patch_the_agents_pipeline():
        import omero_irods.pipeline

        omero_irods.pipeline.list_members = recording_check

    zone.runtime.rules.agent_hooks.append(patch_the_agents_pipeline)
    zone.step(UNTIL_IDLE)
    state = zone.state()
    core_py = tmp_path / "work" / "zone" / "server_root" / "etc" / "irods" / "core.py"
    assert core_py.read_bytes() != TAR_FILES["run1/c.tif"]
    assert read == [] and [p for p in paths(state, "collections") if "/staging-" in p] == []
    assert "bob (own)" in _rejected_not_permitted(state, RID_SWAP)
    _nothing_placed_nor_imported(state)


def test_a_landing_co_writer_cannot_swap_the_tar_between_its_check_and_its_extraction(tmp_path, live_zone):
    """The member check reads the tar, then msiTarFileExtract reads it again: whoever may still
    write it in between decides what libarchive writes on the server's disk. Here the co-writer
    gave up their access before the seal (so the seal sees no writer): the swap is refused."""
    request = Request(tmp_path, RID_SWAP, TAR_FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    zone.catalog.set_acl(SERVICE, request.tar_path, "own", "bob")  # the careless admin's landing zone
    swaps = []

    def check_then_swap(reader, limits, what="archive"):
        members = real_list_members(reader, limits, what)  # the check passes on the honest tar
        try:  # bob, polling, rewrites it at once
            zone.catalog.put("bob", request.tar_path, hostile_tar(), force=True)
            swaps.append("swapped")
        except Exception as refused:  # the catalog's refusal: bob may no longer write it
            swaps.append("refused: %s" % refused)
        return members

    def patch_the_agents_pipeline():  # each agent imports the policy afresh, as on a server
        import omero_irods.pipeline

        omero_irods.pipeline.list_members = check_then_swap

    zone.runtime.rules.agent_hooks.append(patch_the_agents_pipeline)
    # bob's access is gone when the seal looks (removed by bob himself, or by the admin)
    zone.catalog.set_acl(SERVICE, request.tar_path, "null", "bob")
    zone.step(UNTIL_IDLE)
    state = zone.state()
    core_py = tmp_path / "work" / "zone" / "server_root" / "etc" / "irods" / "core.py"
    assert core_py.read_bytes() != TAR_FILES["run1/c.tif"], swaps
    assert not [line for line in state["log"] if line.startswith("ERROR") and "extraction folder" in line]
    assert swaps and all(swap.startswith("refused") for swap in swaps), swaps
    assert avus_of(state, record_of(state, RID_SWAP))[names.AVU_STATE] == names.IMPORTED


# --- the integrity mark: a zone whose config names a key --------------------------------------

MARK_KEY = b"0123456789abcdef" * 4


def _keyed_scenario(tmp_path, steps, mode=0o600):
    key_file = tmp_path / "omero-irods-mark.key"
    key_file.write_bytes(MARK_KEY + b"\n")
    os.chmod(str(key_file), mode)
    data = _scenario(tmp_path, steps)
    data["config"]["zones"]["tempZone"]["integrity_key_file"] = str(key_file)
    return data


def _signed_steps(tmp_path, request, mark=None):
    """The push client's steps with the mark put just before the payload (`mark`: its bytes,
    default the honest mark; None-like b"" is no mark at all)."""
    from omero_irods import integrity

    mark = integrity.make_mark(MARK_KEY, request.payload_bytes) if mark is None else mark
    steps = request.steps()
    if mark == b"":
        return steps
    mark_file = tmp_path / ("%s.mark" % request.request_id)
    mark_file.write_bytes(mark)
    put = {"put": {"as": SERVICE, "client": "prc", "file": str(mark_file),
                   "to": "%s/%s.omero-irods.mark" % (request.collection, request.request_id)}}
    return steps[:-1] + [put, steps[-1]]


def _mark_rejection(state, request_id):
    record = avus_of(state, record_of(state, request_id))
    assert record[names.AVU_STATE] == names.REJECTED, record
    assert record[names.AVU_ERROR].startswith("rejected (not_permitted): the payload"), record
    return record[names.AVU_ERROR]


def test_with_a_key_a_marked_request_is_placed_and_imported(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000m001", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE]))
    state = zone.state()
    assert avus_of(state, record_of(state, request.request_id))[names.AVU_STATE] == names.IMPORTED
    assert not [line for line in state["log"] if MARK_KEY.decode() in line]  # the key is never logged


@pytest.mark.parametrize("mark, problem", [
    (b"", "has no integrity mark"),
    (b"omero-irods-mark-v1 hmac-sha256 " + b"0" * 64 + b"\n", "does not match its content"),
    (b"not a mark", "is not a omero-irods-mark-v1 hmac-sha256 mark"),
], ids=["missing", "forged", "malformed"])
def test_with_a_key_a_payload_without_a_valid_mark_is_rejected_before_it_is_read(tmp_path, live_zone, mark,
                                                                                   problem):
    request = Request(tmp_path, "20261202T110000Z-0000m002", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request, mark) + [UNTIL_IDLE]))
    state = zone.state()
    assert problem in _mark_rejection(state, request.request_id)
    _nothing_placed_nor_imported(state)
    # rejected before the payload was parsed: nothing it says was recorded
    assert names.AVU_OMERO_USER not in avus_of(state, record_of(state, request.request_id))


def test_with_a_key_a_mark_over_another_payload_is_rejected(tmp_path, live_zone):
    """bob replays the honest mark of another request (or of alice's payload before he changed
    it): the mark binds the exact bytes."""
    other = Request(tmp_path, "20261202T110000Z-0000m009", FILES, target_name="run1")
    from omero_irods import integrity

    request = Request(tmp_path, "20261202T110000Z-0000m003", FILES, target_name="run1")
    steps = _signed_steps(tmp_path, request, integrity.make_mark(MARK_KEY, other.payload_bytes))
    zone = live_zone(_keyed_scenario(tmp_path, steps + [UNTIL_IDLE]))
    state = zone.state()
    assert "does not match its content" in _mark_rejection(state, request.request_id)
    _nothing_placed_nor_imported(state)


def test_with_a_key_a_co_writer_who_rewrote_payload_and_tar_then_left_is_caught(tmp_path, live_zone):
    """The residual risk of the seal alone: bob, let write the landing data, rewrites alice's
    tar AND payload consistently (the payload names bob and the new tar's sha256), then removes
    his own access, so the seal sees nobody. Only the mark, which bob cannot make, tells."""
    request = Request(tmp_path, "20261202T110000Z-0000m004", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request)))
    evil = Request(tmp_path, "20261202T110000Z-0000m004", {"run1/evil.tif": b"E" * 10}, omero_user="bob",
                   target_name="run1")
    for path in (request.tar_path, request.payload_path):
        zone.catalog.set_acl(SERVICE, path, "own", "bob")
    zone.catalog.put("bob", request.tar_path, evil.tar_bytes, force=True)
    zone.catalog.put("bob", request.payload_path, evil.payload_bytes, force=True)
    for path in (request.tar_path, request.payload_path):
        zone.catalog.set_acl("bob", path, "null", "bob")  # bob covers his tracks
    zone.step(UNTIL_IDLE)
    state = zone.state()
    assert "does not match its content" in _mark_rejection(state, request.request_id)
    _nothing_placed_nor_imported(state)


def test_a_key_file_others_may_read_stops_processing_and_says_how_to_fix_it(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000m005", FILES, target_name="run1")
    zone = live_zone(_keyed_scenario(tmp_path, _signed_steps(tmp_path, request) + [UNTIL_IDLE], mode=0o644))
    state = zone.state()
    record = avus_of(state, record_of(state, request.request_id))
    assert record[names.AVU_STATE] == names.FAILED, record  # never checked without its key: retried, then failed
    assert "has mode 0644" in record[names.AVU_ERROR] and "chmod 600" in record[names.AVU_ERROR]
    _nothing_placed_nor_imported(state)
    assert not [line for line in state["log"] if MARK_KEY.decode() in line]
