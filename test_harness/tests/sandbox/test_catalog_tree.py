"""Zone set-up, users, collections, stat/visibility, rename, trash and removal.

Sources (irods/irods, 4-3-stable): `plugins/database/src/db_plugin.cpp` (db_reg_coll_op,
_delColl, db_rename_object_op, db_move_object_op, db_reg_user_re_op),
`server/api/src/rsObjStat.cpp`, `plugins/database/src/general_query.cpp` (what a query shows),
`server/api/src/rsDataObjRename.cpp` and `server/core/src/physPath.cpp` (files follow renames),
`server/api/src/rsDataObjUnlink.cpp` and `server/api/src/rsRmColl.cpp` (trash, removal).
"""

import os

import pytest

from omero_irods_sandbox.catalog import Zone
from omero_irods_sandbox.error_codes import IrodsError

HOME = "/tempZone/home/alice"


def test_fresh_zone_has_the_install_collections_and_users(tmp_path):
    # scripts/irods/database_connect.py: install collections, owned by rods.
    zone = Zone("tempZone", tmp_path)
    assert [c.path for c in zone.collections()] == [
        "/", "/tempZone", "/tempZone/home", "/tempZone/home/public", "/tempZone/home/rods",
        "/tempZone/trash", "/tempZone/trash/home", "/tempZone/trash/home/public", "/tempZone/trash/home/rods"]
    assert {c.owner for c in zone.collections()} == {"rods"}
    assert zone.acl("/tempZone/home/public") == {"public": "own"}
    assert zone.acl("/tempZone/home") == {"rods": "own"}
    assert zone.is_admin("rods") and zone.user("public").is_group
    assert zone.resources() == ["demoResc", "replResc"]


def test_add_group_makes_its_home_collections(zone):
    # packaging/core.re.template acCreateUser runs for groups too.
    assert zone.collection("/tempZone/home/lab").acl == {"lab": "own"}
    assert zone.exists("/tempZone/trash/home/lab") == "collection"


def test_add_user_makes_owned_home_and_trash(zone):
    for path in (HOME, "/tempZone/trash/home/alice"):
        record = zone.collection(path)
        assert (record.owner, record.acl) == ("alice", {"alice": "own"})
    assert zone.user_groups("alice") == ["lab", "public"]


def test_user_errors_name_the_user(zone):
    with pytest.raises(IrodsError) as caught:
        zone.user("mallory")
    assert caught.value.name == "CAT_INVALID_USER" and "mallory" in caught.value.message
    with pytest.raises(IrodsError) as caught:
        zone.add_user("alice")
    assert caught.value.name == "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME"
    with pytest.raises(IrodsError) as caught:
        zone.add_user("carol", "superuser")
    assert caught.value.name == "CAT_INVALID_USER_TYPE"


def test_create_collection_rules(zone):
    zone.create_collection("alice", HOME + "/a")
    with pytest.raises(IrodsError) as caught:
        zone.create_collection("alice", HOME + "/a")
    assert caught.value.name == "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME"
    assert zone.create_collection("alice", HOME + "/a", parents=True).path == HOME + "/a"
    with pytest.raises(IrodsError) as caught:
        zone.create_collection("alice", HOME + "/x/y")
    assert caught.value.name == "CAT_UNKNOWN_COLLECTION"
    zone.create_collection("alice", HOME + "/x/y", parents=True)
    assert zone.exists(HOME + "/x") == "collection"
    zone.put("alice", HOME + "/f", b"")
    with pytest.raises(IrodsError) as caught:
        zone.create_collection("alice", HOME + "/f")
    assert caught.value.name == "CAT_NAME_EXISTS_AS_DATAOBJ"


def test_create_collection_needs_modify_object_on_the_parent(zone):
    with pytest.raises(IrodsError) as caught:
        zone.create_collection("bob", HOME + "/bobs")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION" and "modify_object" in caught.value.message
    zone.set_acl("alice", HOME, "modify_object", "bob")
    assert zone.create_collection("bob", HOME + "/bobs").acl == {"bob": "own"}


def test_stat_hides_what_the_user_cannot_read(zone):
    # rsObjStat.cpp: a miss is USER_FILE_DOES_NOT_EXIST; general_query.cpp: no read_object, no row.
    zone.put("alice", HOME + "/secret", b"s")
    with pytest.raises(IrodsError) as caught:
        zone.stat("bob", HOME + "/secret")
    assert caught.value.name == "USER_FILE_DOES_NOT_EXIST"
    zone.set_acl("alice", HOME + "/secret", "read", "bob")
    assert not zone.visible("bob", HOME + "/secret")  # the collection must be readable too
    zone.set_acl("alice", HOME, "read", "bob")
    assert zone.stat("bob", HOME + "/secret").size == 1


def test_rodsadmin_sees_everything_in_queries(zone):
    zone.put("alice", HOME + "/secret", b"s")
    assert zone.stat("rods", HOME + "/secret").owner == "alice"


def test_list_collection_shows_visible_children(zone):
    zone.create_collection("alice", HOME + "/sub")
    zone.put("alice", HOME + "/a", b"a")
    zone.put("alice", HOME + "/b", b"b")
    assert zone.list_collection("alice", HOME) == ([HOME + "/sub"], [HOME + "/a", HOME + "/b"])
    zone.set_acl("alice", HOME, "read", "bob")
    zone.set_acl("alice", HOME + "/b", "read", "bob")
    assert zone.list_collection("bob", HOME) == ([], [HOME + "/b"])


def test_rename_moves_the_physical_file_of_every_replica(zone):
    zone.put("alice", HOME + "/old.tif", b"img")
    zone.replicate("alice", HOME + "/old.tif", "replResc")
    old_files = [r.physical_path for r in zone.data_object(HOME + "/old.tif").replicas]
    zone.create_collection("alice", HOME + "/moved")
    zone.rename("alice", HOME + "/old.tif", HOME + "/moved/new.tif")
    record = zone.data_object(HOME + "/moved/new.tif")
    assert zone.exists(HOME + "/old.tif") is None
    for replica, old in zip(record.replicas, old_files):
        assert replica.physical_path == zone.physical_path(replica.resource, HOME + "/moved/new.tif")
        assert not os.path.exists(old)
        with open(replica.physical_path, "rb") as handle:
            assert handle.read() == b"img"


def test_rename_of_a_collection_moves_everything_below(zone):
    zone.create_collection("alice", HOME + "/run/sub", parents=True)
    zone.put("alice", HOME + "/run/sub/f", b"f")
    zone.rename("alice", HOME + "/run", HOME + "/run2")
    assert zone.exists(HOME + "/run2/sub") == "collection"
    replica = zone.data_object(HOME + "/run2/sub/f").replicas[0]
    assert replica.physical_path.endswith(os.path.join("home", "alice", "run2", "sub", "f"))
    assert os.path.exists(replica.physical_path)
    assert zone.exists(HOME + "/run") is None


def test_rename_onto_an_existing_name_fails_and_moves_nothing(zone):
    zone.put("alice", HOME + "/a", b"a")
    zone.put("alice", HOME + "/b", b"b")
    zone.create_collection("alice", HOME + "/c")
    for target, code in ((HOME + "/b", "CAT_NAME_EXISTS_AS_DATAOBJ"), (HOME + "/c", "CAT_NAME_EXISTS_AS_COLLECTION")):
        with pytest.raises(IrodsError) as caught:
            zone.rename("alice", HOME + "/a", target)
        assert caught.value.name == code
    assert zone.read_bytes("alice", HOME + "/a") == b"a"


def test_rename_needs_own(zone):
    # db_rename_object_op: the access check asks for 'own'.
    zone.put("alice", HOME + "/a", b"a")
    zone.set_acl("alice", HOME + "/a", "delete_object", "bob")
    with pytest.raises(IrodsError) as caught:
        zone.rename("bob", HOME + "/a", HOME + "/b")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"


def test_move_into_another_collection_needs_modify_object_there(zone):
    zone.put("alice", HOME + "/a", b"a")
    with pytest.raises(IrodsError) as caught:
        zone.rename("alice", HOME + "/a", "/tempZone/home/bob/a")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.exists(HOME + "/a") == "data_object"


def test_collection_cannot_move_into_itself(zone):
    zone.create_collection("alice", HOME + "/c")
    with pytest.raises(IrodsError) as caught:
        zone.rename("alice", HOME + "/c", HOME + "/c/d")
    assert caught.value.name == "CAT_RECURSIVE_MOVE"


def test_unlink_moves_to_the_trash_with_the_home_part_dropped(zone):
    zone.create_collection("alice", HOME + "/run")
    zone.put("alice", HOME + "/run/f", b"f")
    trash = zone.unlink("alice", HOME + "/run/f")
    assert trash == "/tempZone/trash/home/alice/run/f"
    assert zone.read_bytes("alice", trash) == b"f"
    assert os.path.exists(zone.physical_path("demoResc", trash))


def test_unlink_of_a_trashed_name_again_gets_a_random_suffix(zone):
    zone.put("alice", HOME + "/f", b"1")
    zone.unlink("alice", HOME + "/f")
    zone.put("alice", HOME + "/f", b"2")
    second = zone.unlink("alice", HOME + "/f")
    assert second.startswith("/tempZone/trash/home/alice/f.") and second[len("/tempZone/trash/home/alice/f."):].isdigit()


def test_trash_path_of_another_users_object_keeps_its_home(zone):
    assert zone.trash_path("alice", "/tempZone/home/bob/x") == "/tempZone/trash/home/alice/home/bob/x"


def test_force_unlink_removes_entry_and_files(zone):
    zone.put("alice", HOME + "/f", b"f")
    zone.replicate("alice", HOME + "/f", "replResc")
    files = [r.physical_path for r in zone.data_object(HOME + "/f").replicas]
    assert zone.unlink("alice", HOME + "/f", force=True) is None
    assert zone.exists(HOME + "/f") is None
    assert not any(os.path.exists(path) for path in files)


def test_unlink_needs_delete_object(zone):
    zone.put("alice", HOME + "/f", b"f")
    zone.set_acl("alice", HOME + "/f", "modify_object", "bob")
    with pytest.raises(IrodsError) as caught:
        zone.unlink("bob", HOME + "/f", force=True)
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.read_bytes("alice", HOME + "/f") == b"f"


def test_remove_collection_non_recursive_needs_it_empty(zone):
    zone.create_collection("alice", HOME + "/c")
    zone.put("alice", HOME + "/c/f", b"f")
    with pytest.raises(IrodsError) as caught:
        zone.remove_collection("alice", HOME + "/c")
    assert caught.value.name == "CAT_COLLECTION_NOT_EMPTY"
    zone.unlink("alice", HOME + "/c/f", force=True)
    zone.remove_collection("alice", HOME + "/c")
    assert zone.exists(HOME + "/c") is None


def test_remove_collection_recursive_goes_to_the_trash(zone):
    zone.create_collection("alice", HOME + "/c/d", parents=True)
    zone.put("alice", HOME + "/c/d/f", b"f")
    trash = zone.remove_collection("alice", HOME + "/c", recursive=True)
    assert trash == "/tempZone/trash/home/alice/c"
    assert zone.read_bytes("alice", trash + "/d/f") == b"f"


def test_remove_collection_force_deletes_files_and_keeps_going_past_failures(zone):
    zone.create_collection("alice", HOME + "/c")
    zone.set_acl("alice", HOME + "/c", "own", "bob")
    zone.put("alice", HOME + "/c/mine", b"m")
    zone.put("bob", HOME + "/c/bobs", b"b")
    zone.set_acl("bob", HOME + "/c/bobs", "null", "alice")
    with pytest.raises(IrodsError) as caught:
        zone.remove_collection("alice", HOME + "/c", recursive=True, force=True)
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.exists(HOME + "/c/mine") is None
    assert zone.exists(HOME + "/c/bobs") == "data_object"


def test_non_empty_home_cannot_be_force_removed(zone):
    zone.put("alice", HOME + "/f", b"f")
    with pytest.raises(IrodsError) as caught:
        zone.remove_collection("alice", HOME, recursive=True, force=True)
    assert caught.value.name == "CANT_RM_NON_EMPTY_HOME_COLL"
    assert zone.exists(HOME + "/f") == "data_object"
