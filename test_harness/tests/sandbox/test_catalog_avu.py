"""AVUs on collections and data objects.

Sources (irods/irods, 4-3-stable): `plugins/database/src/db_plugin.cpp` db_add_avu_metadata_op
(create_metadata; empty attribute/value invalid), db_del_avu_metadata_op (delete_metadata),
db_set_avu_metadata_op, checkAndGetObjectId (admin mode), and
`plugins/database/src/low_level_odbc.cpp` (a duplicate row is CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME).
"""

import pytest

from omero_irods_sandbox.error_codes import IrodsError
from omero_irods_sandbox.records import Avu

PATH = "/tempZone/home/alice/payload.omero-irods.json"


@pytest.fixture
def stored(zone):
    zone.put("alice", PATH, b"{}")
    return zone


def test_add_and_list(stored):
    stored.add_avu("alice", PATH, "omero_irods::state", "received")
    stored.add_avu("alice", PATH, "size", "2", "bytes")
    assert stored.avus("alice", PATH) == [Avu("omero_irods::state", "received", ""), Avu("size", "2", "bytes")]


def test_adding_an_identical_avu_fails_which_makes_a_once_only_claim(stored):
    stored.add_avu("alice", PATH, "omero_irods::claim", "worker-1")
    with pytest.raises(IrodsError) as caught:
        stored.add_avu("alice", PATH, "omero_irods::claim", "worker-1")
    assert caught.value.name == "CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME"
    assert len(stored.avus("alice", PATH)) == 1


def test_same_attribute_other_value_is_a_second_avu(stored):
    stored.add_avu("alice", PATH, "a", "1")
    stored.add_avu("alice", PATH, "a", "2")
    assert [avu.value for avu in stored.avus("alice", PATH)] == ["1", "2"]


def test_set_replaces_every_value_of_the_attribute(stored):
    stored.add_avu("alice", PATH, "omero_irods::state", "received")
    stored.add_avu("alice", PATH, "other", "x")
    stored.set_avu("alice", PATH, "omero_irods::state", "validated")
    assert stored.avus("alice", PATH) == [Avu("other", "x", ""), Avu("omero_irods::state", "validated", "")]


def test_remove_and_removing_a_missing_avu(stored):
    stored.add_avu("alice", PATH, "a", "1", "u")
    stored.remove_avu("alice", PATH, "a", "1", "u")
    assert stored.avus("alice", PATH) == []
    with pytest.raises(IrodsError) as caught:
        stored.remove_avu("alice", PATH, "a", "1", "u")
    assert caught.value.name == "CAT_SUCCESS_BUT_WITH_NO_INFO"


def test_empty_attribute_or_value_is_invalid(stored):
    for attribute, value in (("", "v"), ("a", "")):
        with pytest.raises(IrodsError) as caught:
            stored.add_avu("alice", PATH, attribute, value)
        assert caught.value.name == "CAT_INVALID_ARGUMENT"


def test_metadata_levels_gate_each_operation(stored):
    stored.set_acl("alice", PATH, "create_metadata", "bob")
    stored.add_avu("bob", PATH, "a", "1")
    with pytest.raises(IrodsError) as caught:
        stored.remove_avu("bob", PATH, "a", "1")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    stored.set_acl("alice", PATH, "delete_metadata", "bob")
    stored.remove_avu("bob", PATH, "a", "1")
    stored.set_acl("alice", PATH, "read_object", "bob")
    with pytest.raises(IrodsError) as caught:
        stored.add_avu("bob", PATH, "a", "1")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"


def test_admin_mode_for_rodsadmin_only(stored):
    with pytest.raises(IrodsError) as caught:
        stored.add_avu("rods", PATH, "a", "1")
    assert caught.value.name == "CAT_NO_ACCESS_PERMISSION"
    stored.add_avu("rods", PATH, "a", "1", admin_mode=True)
    with pytest.raises(IrodsError) as caught:
        stored.add_avu("bob", PATH, "b", "1", admin_mode=True)
    assert caught.value.name == "CAT_INSUFFICIENT_PRIVILEGE_LEVEL"


def test_avus_on_collections_and_missing_targets(stored):
    stored.add_avu("alice", "/tempZone/home/alice", "omero_irods::omero_user", "alice")
    assert stored.collection("/tempZone/home/alice").avus == [Avu("omero_irods::omero_user", "alice", "")]
    with pytest.raises(IrodsError) as caught:
        stored.add_avu("alice", "/tempZone/home/alice/ghost", "a", "1")
    assert caught.value.name == "CAT_UNKNOWN_FILE"
