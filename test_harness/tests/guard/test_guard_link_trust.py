"""Who may change the links the guard reads (`<records>/links/<rid>`): the service account
alone. An entry someone else may write (an admin's grant) is not trusted: a link removed from
it (unprotecting data OMERO links to) is restored by the sweep from the request's record, and
the pipeline never releases a link from it; a link forged into it can only protect more.
"""

import pytest

from guard_zone import IMPORTED_ID, LINKS, RECORDS, SCRATCH, SERVICE, GuardZone
from omero_irods import names

ADMIN = "rods"


@pytest.fixture
def zone(tmp_path):
    return GuardZone(tmp_path, server={"version": "5.0"})


def _entry():
    return LINKS + "/" + IMPORTED_ID


def _run_the_sweep(zone):
    zone._run.run_step(900, "advance_clock", "86401s")
    zone._run.run_step(901, "run_delay_queue", {})


def _bob_removes_the_link(zone):
    (link,) = zone.links(IMPORTED_ID)
    assert zone.call("mod_access_control", ADMIN, "write", "bob", _entry(), admin_mode=True) is None  # the mistake
    assert zone.call("mod_avu_metadata", "bob", "rm", "-C", _entry(), *link) is None
    assert zone.links(IMPORTED_ID) == []
    return link


def test_a_link_removed_by_someone_let_write_its_entry_is_restored_and_their_access_removed(zone):
    link = _bob_removes_the_link(zone)
    inside = zone.imported + "/a.tif"
    assert zone.call("data_obj_put", "alice", inside, b"x", force=True) is None  # unguarded meanwhile...
    _run_the_sweep(zone)
    assert zone.links(IMPORTED_ID) == [link]  # ...until the sweep restores it from the record
    assert "bob" not in zone.zone.acl(_entry())
    assert zone.zone.acl(_entry()).get("public") == "read_object"  # the guard still reads it as anyone
    assert zone.call("data_obj_unlink", "alice", inside, force=True) == "SYS_DELETE_DISALLOWED"
    lines = [line for line in zone.log if "link entry %s was writable by bob (modify_object)" % _entry() in line]
    assert lines and [line for line in zone.log if "sweep: restored links" in line and zone.imported in line]


def test_a_link_released_by_the_service_account_stays_released(zone):
    (link,) = zone.links(IMPORTED_ID)
    assert zone.call("mod_avu_metadata", SERVICE, "rm", "-C", _entry(), *link) is None
    _run_the_sweep(zone)
    assert zone.links(IMPORTED_ID) == []
    assert zone.call("data_obj_unlink", "alice", zone.imported + "/a.tif", force=True) is None


def test_a_link_entry_removed_whole_is_written_again(zone):
    (link,) = zone.links(IMPORTED_ID)
    zone.zone.remove_collection(SERVICE, _entry(), recursive=True, force=True)  # not how a link is released
    assert zone.links(IMPORTED_ID) == []
    _run_the_sweep(zone)
    assert zone.links(IMPORTED_ID) == [link]


def test_a_link_forged_into_an_untrusted_entry_only_protects_more(zone):
    zone.call("mod_access_control", ADMIN, "write", "bob", _entry(), admin_mode=True)
    assert zone.call("mod_avu_metadata", "bob", "add", "-C", _entry(), names.AVU_LINKED_ROOT, SCRATCH, "bob") is None
    # bob can make alice's scratch look linked (refused: more protection), never less
    assert zone.call("data_obj_unlink", "alice", SCRATCH + "/notes.txt", force=True) == "SYS_DELETE_DISALLOWED"
    assert zone.call("data_obj_unlink", "alice", zone.imported + "/a.tif", force=True) == "SYS_DELETE_DISALLOWED"


def test_the_pipeline_secures_an_entry_before_it_writes_a_link(tmp_path):
    """An entry made writable for bob before the import rule records its link: the rule removes
    bob's access first, so the link it writes cannot be removed by him."""
    zone = GuardZone(tmp_path, server={"version": "5.0"})
    queued_entry = LINKS + "/20261122T111500Z-0000bbbb"
    zone.zone.create_collection(SERVICE, queued_entry)
    zone.zone.set_acl(SERVICE, queued_entry, "write", "bob")
    zone._run.run_step(900, "run_delay_queue", {"until_idle": True})
    assert zone.state_of("20261122T111500Z-0000bbbb") == names.IMPORTED
    assert "bob" not in zone.zone.acl(queued_entry)
    assert zone.links("20261122T111500Z-0000bbbb") == [(names.AVU_LINKED_ROOT, zone.queued, "alice")]


class _LinksZone(object):
    """Just what releasing a link touches: the entry's ACL, its AVUs, the log."""

    def __init__(self, acl):
        self.acl, self.removed, self.lines = acl, [], []

    def collection_acl(self, path):
        return self.acl

    def remove_avus(self, path, avus):
        self.removed.append((path, avus))

    def log(self, line):
        self.lines.append(line)


@pytest.mark.parametrize("acl, released", [
    ([(SERVICE, "rodsuser", "own"), ("public", "rodsgroup", "read_object")], True),
    ([(SERVICE, "rodsuser", "own"), ("bob", "rodsuser", "modify_object")], False),
], ids=["trusted", "bob-may-write"])
def test_the_pipeline_releases_a_link_only_from_an_entry_nobody_else_may_write(acl, released):
    from types import SimpleNamespace

    from omero_irods import pipeline

    zone = _LinksZone(acl)
    job = SimpleNamespace(zone=zone, record=RECORDS + "/" + IMPORTED_ID,
                          zone_config=SimpleNamespace(records=RECORDS, service_account=SERVICE))
    link = (names.AVU_LINKED_ROOT, "/tempZone/home/alice/omero/run1", "alice")
    pipeline._remove_link(job, link)
    assert zone.removed == ([(_entry(), [link])] if released else [])
    if not released:
        assert "is kept: bob (modify_object) may write that entry" in zone.lines[0]
