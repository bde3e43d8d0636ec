"""ACLs: 4.3 levels and order, groups, inheritance, admin mode.

Sources (irods/irods, 4-3-stable): `plugins/database/src/icatSysInserts.sql` and
`scripts/irods/database_upgrade.py` (levels), `plugins/database/src/mid_level_routines.cpp`
cmlCheckDir* (checks join the user's groups; no admin bypass), `plugins/database/src/db_plugin.cpp`
db_mod_access_control_op, db_reg_data_obj_op / db_reg_coll_op (inheritance),
`scripts/irods/test/test_ichmod.py` test_ichmod_respects_strict_ACLs__issue_2570.
"""

import pytest

from omero_irods_sandbox import acl
from omero_irods_sandbox.error_codes import IrodsError

HOME = "/tempZone/home/alice"


def test_levels_are_ordered_as_the_catalog_numbers_them():
    order = ["null", "read_metadata", "read_object", "create_metadata", "modify_metadata",
             "delete_metadata", "create_object", "modify_object", "delete_object", "own"]
    numbers = [acl.number(level) for level in order]
    assert numbers == sorted(numbers)
    assert acl.at_least("own", "delete_object") and not acl.at_least("read_object", "modify_metadata")


def test_read_and_write_are_aliases(zone):
    zone.set_acl("alice", HOME, "read", "bob")
    assert zone.acl(HOME)["bob"] == "read_object"
    zone.set_acl("alice", HOME, "write", "bob")
    assert zone.acl(HOME)["bob"] == "modify_object"


def test_unknown_level_is_invalid_argument_and_changes_nothing(zone):
    before = zone.acl(HOME)
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("alice", HOME, "rwx", "bob")
    assert caught.value.name == "CAT_INVALID_ARGUMENT" and "rwx" in caught.value.message
    assert zone.acl(HOME) == before


def test_unknown_user_is_cat_invalid_user(zone):
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("alice", HOME, "read", "mallory")
    assert caught.value.name == "CAT_INVALID_USER"


def test_only_an_owner_changes_acls(zone):
    zone.set_acl("alice", HOME, "delete_object", "bob")
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("bob", HOME, "own", "bob")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.acl(HOME)["bob"] == "delete_object"


def test_null_removes_the_entry(zone):
    zone.set_acl("alice", HOME, "read", "bob")
    zone.set_acl("alice", HOME, "null", "bob")
    assert "bob" not in zone.acl(HOME)


def test_access_through_a_group_counts(zone):
    zone.put("bob", "/tempZone/home/bob/shared", b"x")
    zone.set_acl("bob", "/tempZone/home/bob/shared", "read", "lab")
    zone.set_acl("bob", "/tempZone/home/bob", "read", "lab")
    assert zone.read_bytes("alice", "/tempZone/home/bob/shared") == b"x"
    assert zone.access_level("alice", "/tempZone/home/bob/shared") == "read_object"


def test_public_grants_everyone(zone):
    zone.put("bob", "/tempZone/home/bob/open", b"o")
    zone.set_acl("bob", "/tempZone/home/bob/open", "read", "public")
    assert zone.has_access("alice", "/tempZone/home/bob/open", "read_object")


def test_rodsadmin_gets_no_bypass_without_admin_mode(zone):
    # mid_level_routines.cpp cmlCheckDir: only admin_mode skips the ACL join.
    zone.put("alice", HOME + "/private", b"p")
    with pytest.raises(IrodsError) as caught:
        zone.read_bytes("rods", HOME + "/private")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    with pytest.raises(IrodsError):
        zone.set_acl("rods", HOME + "/private", "own", "rods")


def test_admin_mode_lets_a_rodsadmin_change_any_acl(zone):
    zone.put("alice", HOME + "/private", b"p")
    zone.set_acl("rods", HOME + "/private", "read", "bob", admin_mode=True)
    assert zone.acl(HOME + "/private")["bob"] == "read_object"


def test_admin_mode_is_refused_to_a_rodsuser(zone):
    # db_mod_access_control_op: "You must be the admin to use the -M admin mode".
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("bob", HOME, "own", "bob", admin_mode=True)
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert "bob" not in zone.acl(HOME)


def test_recursive_acl_reaches_everything_below_without_checking_it(zone):
    zone.create_collection("alice", HOME + "/a/b", parents=True)
    zone.put("alice", HOME + "/a/b/f", b"f")
    zone.set_acl("alice", HOME + "/a", "read", "bob", recursive=True)
    for path in (HOME + "/a", HOME + "/a/b", HOME + "/a/b/f"):
        assert zone.acl(path)["bob"] == "read_object"


def test_recursive_acl_on_a_data_object_is_invalid(zone):
    zone.put("alice", HOME + "/f", b"f")
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("alice", HOME + "/f", "read", "bob", recursive=True)
    assert caught.value.name == "CAT_INVALID_ARGUMENT"


def test_inheriting_collection_copies_its_acl_to_new_entries(zone):
    zone.create_collection("alice", HOME + "/inbox")
    zone.set_acl("alice", HOME + "/inbox", "read", "bob")
    zone.set_inheritance("alice", HOME + "/inbox", True)
    zone.put("alice", HOME + "/inbox/f", b"f")
    sub = zone.create_collection("alice", HOME + "/inbox/sub")
    assert zone.acl(HOME + "/inbox/f") == {"alice": "own", "bob": "read_object"}
    assert zone.acl(HOME + "/inbox/sub") == {"alice": "own", "bob": "read_object"}
    assert sub.inherit is True


def test_inheritance_gives_the_creator_nothing_it_did_not_inherit(zone):
    # db_reg_coll_op: with inheritance only the parent's rows are copied; test_ichmod.py
    # issue_2570 shows the creator then cannot ichmod its own new collection.
    zone.create_collection("alice", HOME + "/drop")
    zone.set_acl("alice", HOME + "/drop", "modify_object", "lab")
    zone.set_inheritance("alice", HOME + "/drop", True)
    zone.add_to_group("lab", "bob")
    zone.put("bob", HOME + "/drop/bobs", b"b")
    record = zone.data_object(HOME + "/drop/bobs")
    assert record.owner == "bob"
    assert record.acl == {"alice": "own", "lab": "modify_object"}
    with pytest.raises(IrodsError) as caught:
        zone.set_acl("bob", HOME + "/drop/bobs", "read", "public")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"


def test_inheritance_change_does_not_touch_existing_entries(zone):
    zone.put("alice", HOME + "/old", b"o")
    zone.set_acl("alice", HOME, "read", "bob")
    zone.set_inheritance("alice", HOME, True)
    assert "bob" not in zone.acl(HOME + "/old")


def test_inheritance_needs_own_on_the_collection(zone):
    with pytest.raises(IrodsError) as caught:
        zone.set_inheritance("bob", HOME, True)
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    assert zone.collection(HOME).inherit is False


def test_ichmod_inherit_spelling_routes_to_the_flag(zone):
    zone.set_acl("alice", HOME, "inherit", "")
    assert zone.collection(HOME).inherit is True
