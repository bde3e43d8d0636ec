"""The guard with the real rules in the sandbox: after an ingest is imported into OMERO, the
client APIs that move or delete its vault files are refused and nothing changes.

Why these calls break an in-place import: irods/irods `server/api/src/rsDataObjRename.cpp`
(syncDataObjPhyPath / syncCollPhyPath rename the vault files), `rsDataObjUnlink.cpp` (delete,
rsMvDataObjToTrash, UNREG_OPR), `rsRmColl.cpp`, `rsDataObjTrim.cpp`, `rsDataObjPhymv.cpp`.
A pre-PEP's error fails the call before the operation runs (`lib/core/include/irods/
apiHandler.hpp`); the guard's query uses GenQuery1 `parent_of` (`plugins/database/src/
general_query.cpp` addInClauseToWhereForParentOf: the path and each of its parents).
"""

import os

import pytest

from guard_zone import IMPORTED_ID, LINKS, SCRATCH, SERVICE, GuardZone
from omero_irods import names
from omero_irods_sandbox.prep import genquery_engine

ADMIN = "rods"


#: Both server versions the sandbox emulates (docs/sandbox.md, "Server versions and hashing"),
#: and 5.0 with the delay server's default of 4 executors running the placing and importing
#: rules at once (irods/irods server/delay_server/src/irodsDelayServer.cpp).
SERVERS = {"4.3": {"version": "4.3"}, "5.0": {"version": "5.0"},
           "5.0-x4": {"version": "5.0", "number_of_concurrent_delay_rule_executors": 4}}
_ONLY = [v for v in os.environ.get("OMERO_IRODS_VARIANTS", "").split(",") if v]  # see tests/pipeline/conftest.py
SERVERS = {name: server for name, server in SERVERS.items() if not _ONLY or name in _ONLY}


@pytest.fixture(params=sorted(SERVERS))
def zone(tmp_path, request):
    """A zone of one's own, for tests whose calls change it."""
    return GuardZone(tmp_path, server=SERVERS[request.param])


@pytest.fixture(scope="module", params=sorted(SERVERS))
def guarded(tmp_path_factory, request):
    """One zone shared by the tests whose calls are all refused (each proves nothing changed)."""
    return GuardZone(tmp_path_factory.mktemp("guarded"), server=SERVERS[request.param])


def _refused(zone, api, *args, **kwargs):
    """Run a call that must be refused; return the error and the refusal's log line, and
    prove that no collection, object, replica, vault path or byte changed."""
    before = zone.snapshot()
    refusals = len(zone.refusals())
    error = zone.call(api, *args, **kwargs)
    assert zone.snapshot() == before
    new_lines = zone.refusals()[refusals:]
    assert len(new_lines) == 1, zone.log[-3:]
    return error, new_lines[0]


def test_the_fixture_has_one_imported_and_one_queued_ingest(guarded):
    assert guarded.images(guarded.imported) == [(names.AVU_OMERO_IMAGE_COUNT, "2", ""),
                                                 (names.AVU_OMERO_IMAGES, "1-2", "0")]
    assert guarded.images(guarded.queued) == []
    assert guarded.state_of("20261122T111500Z-0000bbbb") == names.IMPORT_QUEUED
    assert guarded.links(IMPORTED_ID) == [(names.AVU_LINKED_ROOT, guarded.imported, "alice")]
    assert guarded.links("20261122T111500Z-0000bbbb") == []


# --- refused: the imported collection, what is inside it, what is above it ------------------


def test_imv_of_the_imported_collection_is_refused_with_images_and_release_in_the_log(guarded):
    error, line = _refused(guarded, "data_obj_rename", "alice", guarded.imported, guarded.imported + "-renamed")
    assert error == "SYS_NOT_ALLOWED"
    assert "refused rename of %s by alice" % guarded.imported in line
    assert "%s (linked by OMERO user alice, request %s)" % (guarded.imported, IMPORTED_ID) in line
    assert "delete those images in OMERO first" in line
    assert "imeta rm -C %s/%s %s %s alice" % (LINKS, IMPORTED_ID, names.AVU_LINKED_ROOT, guarded.imported) in line


def test_imv_of_a_file_inside_is_refused(guarded):
    inside = guarded.imported + "/plate/b.tif"
    error, line = _refused(guarded, "data_obj_rename", "alice", inside, guarded.imported + "/b-moved.tif")
    assert error == "SYS_NOT_ALLOWED"
    assert "refused rename of %s" % inside in line


def test_imv_of_a_collection_above_it_is_refused(guarded):
    above = guarded.imported.rsplit("/", 1)[0]
    error, line = _refused(guarded, "data_obj_rename", "alice", above, above + "-renamed")
    assert error == "SYS_NOT_ALLOWED"
    assert "vault files of %s (linked by OMERO user alice" % guarded.imported in line


@pytest.mark.parametrize("force", [False, True], ids=["to-trash", "force"])
def test_irm_of_a_file_inside_is_refused(guarded, force):
    error, line = _refused(guarded, "data_obj_unlink", "alice", guarded.imported + "/a.tif", force=force)
    assert error == "SYS_DELETE_DISALLOWED"
    assert "refused removal of %s/a.tif by alice" % guarded.imported in line


@pytest.mark.parametrize("force", [False, True], ids=["to-trash", "force"])
def test_irm_r_of_the_collection_or_of_the_user_root_is_refused(guarded, force):
    for collection in (guarded.imported + "/plate", guarded.imported, "/tempZone/home/alice/omero"):
        error, _line = _refused(guarded, "rm_coll", "alice", collection, recurse=True, force=force)
        assert error == "SYS_DELETE_DISALLOWED", collection


def test_irepl_stays_allowed_but_itrim_and_iphymv_are_refused(zone):
    inside = zone.imported + "/a.tif"
    assert zone.call("data_obj_repl", "alice", inside, "replResc") is None
    assert zone.call("data_obj_repl", "alice", inside, "archResc") is None
    assert zone.replica_resources(inside) == ["archResc", "demoResc", "replResc"]

    error, line = _refused(zone, "data_obj_trim", "alice", inside, "archResc")
    assert error == "SYS_DELETE_DISALLOWED" and "refused trim of %s" % inside in line
    error, line = _refused(zone, "data_obj_phymv", "alice", inside, "archResc", source_resource="replResc")
    assert error == "SYS_NOT_ALLOWED" and "refused physical move of %s" % inside in line


def test_a_rodsadmin_is_refused_until_the_link_is_released(zone):
    inside = zone.imported + "/a.tif"
    for resource in ("replResc", "archResc"):
        assert zone.call("data_obj_repl", "alice", inside, resource) is None
    error, line = _refused(zone, "data_obj_trim", ADMIN, inside, "archResc", admin=True)
    assert error == "SYS_DELETE_DISALLOWED" and "by rods" in line

    for attribute, value, units in zone.images(zone.imported):  # the users' AVUs on their data release nothing
        zone.zone.remove_avu(ADMIN, zone.imported, attribute, value, units=units, admin_mode=True)
    error, _line = _refused(zone, "data_obj_trim", ADMIN, inside, "archResc", admin=True)
    # the release docs/deploy.md describes: imeta -M rm -C <records>/links/<rid> linked_root <root> <user>
    zone.zone.remove_avu(ADMIN, LINKS + "/" + IMPORTED_ID, names.AVU_LINKED_ROOT, zone.imported, units="alice",
                         admin_mode=True)
    assert zone.call("data_obj_trim", ADMIN, inside, "archResc", admin=True) is None
    assert zone.replica_resources(inside) == ["demoResc", "replResc"]


# --- allowed: unrelated data, not-yet-imported data, the payload record ------------------------


def test_unrelated_data_moves_trims_and_goes_as_usual(zone):
    notes = SCRATCH + "/notes.txt"
    assert zone.call("data_obj_rename", "alice", notes, SCRATCH + "/renamed.txt") is None
    assert zone.call("data_obj_repl", "alice", SCRATCH + "/renamed.txt", "replResc") is None
    assert zone.call("data_obj_repl", "alice", SCRATCH + "/renamed.txt", "archResc") is None
    assert zone.call("data_obj_trim", "alice", SCRATCH + "/renamed.txt", "archResc") is None
    assert zone.call("data_obj_phymv", "alice", SCRATCH + "/renamed.txt", "archResc",
                     source_resource="replResc") is None
    assert zone.replica_resources(SCRATCH + "/renamed.txt") == ["archResc", "demoResc"]
    assert zone.call("data_obj_unlink", "alice", SCRATCH + "/renamed.txt", force=True) is None
    assert zone.call("rm_coll", "alice", SCRATCH, recurse=True, force=True) is None
    assert zone.zone.exists(SCRATCH) is None
    assert zone.refusals() == []


def test_not_yet_imported_data_moves_and_goes_as_usual(zone):
    assert zone.call("data_obj_rename", "alice", zone.queued + "/a.tif", zone.queued + "/a2.tif") is None
    assert zone.call("data_obj_unlink", "alice", zone.queued + "/a2.tif", force=True) is None
    assert zone.call("rm_coll", "alice", zone.queued, recurse=True) is None  # to the trash
    assert zone.zone.exists(zone.queued) is None
    assert zone.refusals() == []


def test_the_user_cannot_release_by_removing_avus_or_links_on_their_own_data(zone):
    # alice owns her placed data: she may strip its AVUs, but the links live in the records
    for attribute, value, units in zone.images(zone.imported):
        zone.zone.remove_avu("alice", zone.imported, attribute, value, units=units)
    error, _line = _refused(zone, "rm_coll", "alice", zone.imported, recurse=True, force=True)
    assert error == "SYS_DELETE_DISALLOWED"
    with pytest.raises(Exception, match="CAT_NO_ACCESS_PERMISSION"):
        zone.zone.remove_avu("alice", LINKS + "/" + IMPORTED_ID, names.AVU_LINKED_ROOT, zone.imported,
                             units="alice")


def test_the_service_account_releases_a_link_and_the_data_goes(zone):
    zone.zone.remove_avu(SERVICE, LINKS + "/" + IMPORTED_ID, names.AVU_LINKED_ROOT, zone.imported, units="alice")
    assert zone.call("rm_coll", "alice", zone.imported, recurse=True, force=True) is None
    assert zone.zone.exists(zone.imported) is None


# --- cost and robustness ------------------------------------------------------------------------


@pytest.fixture
def queries(monkeypatch):
    """Every GenQuery the rules run, as its condition text."""
    seen = []
    execute = genquery_engine.execute

    def counting(zone, user, query, options=0):
        seen.append(" and ".join("%s %s" % condition for condition in query.conditions))
        return execute(zone, user, query, options)
    monkeypatch.setattr(genquery_engine, "execute", counting)
    return seen


def test_inside_the_roots_costs_one_query_outside_one_per_agent(zone, queries):
    zone.zone.put("alice", SCRATCH + "/more.txt", b"more\n")
    del queries[:]
    assert zone.call("data_obj_unlink", "alice", SCRATCH + "/notes.txt") is None  # into the trash
    (query,) = queries
    assert "parent_of '%s/notes.txt'" % SCRATCH in query
    assert zone.call("data_obj_unlink", "alice", SCRATCH + "/more.txt") is None
    trashed = sorted(obj.path for obj in zone.zone.data_objects() if obj.path.startswith("/tempZone/trash/"))
    assert len(trashed) == 2
    del queries[:]
    zone._run.runtime.new_agent()  # one connection removes both from the trash (irmtrash)
    for path in trashed:
        zone._run.server.data_obj_unlink("alice", path, force=True)
    (query,) = queries  # the roots ever linked in, read once by this agent; no holder query
    assert names.AVU_LINKED_UNDER in query


def test_an_unreadable_config_still_guards_everything_by_query_and_says_so_once(zone):
    with open(zone._run.config_file, "w") as handle:
        handle.write("{ not json")
    assert zone.call("data_obj_unlink", "alice", SCRATCH + "/notes.txt", force=True) is None
    error, _line = _refused(zone, "data_obj_unlink", "alice", zone.imported + "/a.tif")
    assert error == "SYS_DELETE_DISALLOWED"
    for name in ("more.txt", "other.txt"):
        zone.zone.put("alice", SCRATCH + "/" + name, b"x\n")
    zone._run.runtime.new_agent()  # one connection (one agent process) removes both
    for name in ("more.txt", "other.txt"):
        zone._run.server.data_obj_unlink("alice", SCRATCH + "/" + name, force=True)
    complaints = [line for line in zone.log if "the guard checks every path by query" in line]
    # once per agent: each connection is a process of its own, and says so once
    assert len(complaints) == 3 and all("is not valid JSON" in line for line in complaints)


def test_narrowing_the_allowed_roots_keeps_data_imported_earlier_guarded(zone):
    import json

    with open(zone._run.config_file, encoding="utf-8") as handle:
        config = json.load(handle)
    config["zones"]["tempZone"]["allowed_roots"] = ["/tempZone/projects"]
    with open(zone._run.config_file, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    error, line = _refused(zone, "rm_coll", "alice", zone.imported, recurse=True, force=True)
    assert error == "SYS_DELETE_DISALLOWED" and "linked by OMERO user alice" in line
    error, _line = _refused(zone, "data_obj_rename", "alice", zone.imported + "/a.tif", zone.imported + "/z.tif")
    assert error == "SYS_NOT_ALLOWED"
    # data OMERO does not link to goes as usual
    assert zone.call("data_obj_unlink", "alice", zone.queued + "/a.tif", force=True) is None
