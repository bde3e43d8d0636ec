"""User mapping and destination planning."""

import datetime

import pytest

from omero_irods.config import AclPolicy, UserMap, ZoneConfig
from omero_irods.errors import Rejected
from omero_irods.mapping import Identity, check_in_zone, map_identity, static_problems
from omero_irods.payload import DataRef, Payload, Target
from omero_irods.placement import (
    candidates,
    check_fits,
    choose_destination,
    placement_path,
    render_user_root,
    sanitise_name,
)

USER_MAP = UserMap(
    path="/etc/irods/user_map.json",
    users={"alice": "alice", "bob.smith": "bsmith"},
    groups={"Lab of Imaging": "imaging_lab", "Visitors": None},
    same_name_users=frozenset(["carol"]),
    same_name_groups=frozenset(["lab"]),
)
ZONE = ZoneConfig(
    name="tempZone",
    service_account="omero-svc",
    landing_zone="/tempZone/home/omero-svc/landing",
    user_root="/{zone}/home/{irods_user}/omero",
    placement_template="{user_root}/{operation}/{date}/{name}",
    allowed_roots=("/tempZone/home",),
    user_map=USER_MAP,
    acl=AclPolicy("own", "read", "own"),
    archive_mode="extract",
    on_collision="suffix",
)
NOW = datetime.datetime(2026, 11, 22, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))


def payload(target_name=None, data_name="run1.tar", operation="ingest", omero_user="alice"):
    return Payload(
        operation=operation,
        request_id="20261122T101500Z-6f1c2a9e",
        created="2026-11-22T10:15:00Z",
        omero_user=omero_user,
        omero_group="lab",
        omero_server=None,
        omero_objects=(),
        data=DataRef("tar", data_name, 10240, "0" * 64, 1),
        manifest=(),
        target=Target(target_name, None),
        source_path=None,
    )


# --- mapping --------------------------------------------------------------------------------


def test_mapped_user_and_group():
    assert map_identity(USER_MAP, "bob.smith", "Lab of Imaging") == Identity("bsmith", "imaging_lab")


def test_same_name_only_for_listed_names():
    assert map_identity(USER_MAP, "carol", "lab") == Identity("carol", "lab")
    with pytest.raises(Rejected) as caught:
        map_identity(USER_MAP, "dave", "lab", zone_name="tempZone")
    error = caught.value
    assert error.reason == "unmapped_user"
    assert "'dave'" in error.message and "tempZone" in error.message and "administrator" in error.message


def test_an_unmapped_group_is_refused_never_passed_to_the_importer():
    # the importer runs in the OMERO group (-g): an unlisted one, e.g. '--sudo', is no decision
    for group in ("Some Other Group", "--sudo"):
        with pytest.raises(Rejected) as caught:
            map_identity(USER_MAP, "alice", group)
        assert caught.value.reason == "unmapped_user" and repr(group) in caught.value.message


def test_a_group_mapped_to_null_gets_no_irods_group():
    assert map_identity(USER_MAP, "alice", "Visitors") == Identity("alice", None)


def _zone_users(**users):
    """user_info over {name: (type, groups)}, as ZonePort.user_info answers."""
    return lambda name: ({"type": users[name][0], "groups": set(users[name][1])} if name in users else None)


PLAIN = _zone_users(alice=("rodsuser", ["lab", "public"]), boss=("rodsadmin", ["lab"]),
                    lead=("groupadmin", ["lab"]), lab=("rodsgroup", []))


@pytest.mark.parametrize("identity, words", [
    (Identity("boss", "lab"), ["'boss'", "rodsadmin"]),
    (Identity("lead", "lab"), ["'lead'", "groupadmin"]),
    (Identity("lab", None), ["'lab'", "rodsgroup"]),
    (Identity("ghost", None), ["'ghost'", "does not exist"]),
    (Identity("omero-svc", None), ["'omero-svc'", "may not stand"]),
    (Identity("rods", None), ["'rods'", "may not stand"]),
    (Identity("alice", "imaging_lab"), ["'imaging_lab'", "not a member"]),
])
def test_the_catalog_must_agree_with_the_mapping(identity, words):
    with pytest.raises(Rejected) as caught:
        check_in_zone(identity, "omero-svc", PLAIN)
    assert caught.value.reason == "unmapped_user"
    assert all(word in caught.value.message for word in words), caught.value.message


def test_a_plain_member_passes_the_catalog_check():
    check_in_zone(Identity("alice", "lab"), "omero-svc", PLAIN)
    check_in_zone(Identity("alice", None), "omero-svc", PLAIN)


def test_static_problems_name_every_forbidden_mapping():
    user_map = USER_MAP._replace(users={"a": "omero-svc", "b": "rods", "c": "alice"},
                                 groups={"everyone": "public", "admins": "rodsadmin", "lab": "lab"},
                                 same_name_users=frozenset(["rods", "carol"]), same_name_groups=frozenset(["public"]))
    problems = static_problems(user_map, "omero-svc")
    assert [(where, pointer) for where, pointer, _text in problems] == [
        ("map", "/users/a"), ("map", "/users/b"), ("same_name", "/users"),
        ("map", "/groups/admins"), ("map", "/groups/everyone"), ("same_name", "/groups")]
    assert "service account" in problems[0][2] and "bootstrap rodsadmin" in problems[1][2]
    assert static_problems(USER_MAP, "omero-svc") == []


# --- placement ------------------------------------------------------------------------------


def test_default_template_renders_under_the_users_root_with_utc_date():
    path = placement_path(ZONE, Identity("alice", "lab"), payload(), NOW)
    assert path == "/tempZone/home/alice/omero/ingest/2026-11-23/run1"  # 23:30 at UTC-5 is the 23rd in UTC
    assert render_user_root(ZONE, "alice") == "/tempZone/home/alice/omero"


def test_target_name_wins_and_is_sanitised():
    assert placement_path(ZONE, Identity("alice", None), payload(target_name="My run"), NOW).endswith("/My run")
    assert sanitise_name("a/b\x00c") == "a_b_c"
    assert sanitise_name("..") == "_"
    assert len(sanitise_name("é" * 300, max_bytes=255).encode()) <= 255


@pytest.mark.parametrize("omero_user", ["..", "a/b", "o'brien", "a\\b"])
def test_field_values_cannot_escape_the_template(omero_user):
    zone = ZONE._replace(placement_template="/tempZone/home/{omero_user}/x/{name}")
    with pytest.raises(Rejected) as caught:
        placement_path(zone, Identity("alice", None), payload(omero_user=omero_user), NOW)
    assert caught.value.reason == "outside_roots"


def test_destination_outside_allowed_roots_is_rejected():
    zone = ZONE._replace(allowed_roots=("/tempZone/projects",))
    with pytest.raises(Rejected) as caught:
        placement_path(zone, Identity("alice", None), payload(), NOW)
    assert caught.value.reason == "outside_roots" and "/tempZone/projects" in caught.value.message


def test_a_root_is_not_below_its_lookalike_sibling():
    zone = ZONE._replace(allowed_roots=("/tempZone/home/al",))
    with pytest.raises(Rejected):
        placement_path(zone, Identity("alice", None), payload(), NOW)


def test_destination_inside_the_landing_zone_is_rejected():
    zone = ZONE._replace(placement_template="/tempZone/home/omero-svc/landing/{name}")
    with pytest.raises(Rejected) as caught:
        placement_path(zone, Identity("alice", None), payload(), NOW)
    assert "landing zone" in caught.value.message


def test_template_needing_an_unmapped_group_is_a_clear_rejection():
    zone = ZONE._replace(placement_template="/tempZone/home/{irods_group}/{name}")
    with pytest.raises(Rejected) as caught:
        placement_path(zone, Identity("alice", None), payload(), NOW)
    assert caught.value.reason == "unmapped_user" and "{irods_group}" in caught.value.message


def test_collisions_get_numbered_suffixes_and_never_overwrite():
    taken = {"/z/h/run1", "/z/h/run1-2"}
    assert choose_destination("/z/h/run1", taken.__contains__, "suffix") == "/z/h/run1-3"
    assert choose_destination("/z/h/free", taken.__contains__, "suffix") == "/z/h/free"


def test_collision_with_fail_mode_is_rejected_with_advice():
    with pytest.raises(Rejected) as caught:
        choose_destination("/z/h/run1", {"/z/h/run1"}.__contains__, "fail")
    assert caught.value.reason == "collision" and "another target name" in caught.value.message


def test_suffix_keeps_the_name_and_its_records_name_within_the_length_limit():
    long_name = "n" * 238
    suffixed = list(candidates("/z/" + long_name, "suffix"))[1]
    assert suffixed.endswith("-2") and len(suffixed.rsplit("/", 1)[1] + ".omero-irods.json") == 255


def test_a_long_target_name_is_shortened_so_that_its_record_name_fits():
    # the record <name>.omero-irods.json must be a valid name too (255 bytes on a vault file system)
    path = placement_path(ZONE, Identity("alice", "lab"), payload(target_name="é" * 200), NOW)
    record_name = path.rsplit("/", 1)[1] + ".omero-irods.json"
    assert len(record_name.encode("utf-8")) <= 255 and path.rsplit("/", 1)[1] == "é" * 119


def test_a_template_whose_last_name_cannot_fit_its_record_is_refused_at_once():
    zone = ZONE._replace(placement_template="{user_root}/" + "x" * 230 + "-{request_id}")
    with pytest.raises(Rejected) as caught:
        placement_path(zone, Identity("alice", "lab"), payload(), NOW)
    assert caught.value.reason == "limit" and "record" in caught.value.message


def test_member_paths_must_fit_irods_path_limit():
    check_fits("/tempZone/home/alice/omero/run1", ["a/b.tif"])
    with pytest.raises(Rejected) as caught:
        check_fits("/tempZone/home/alice/omero/run1", ["d/" * 500 + "x"])
    assert caught.value.reason == "limit"


def test_quotes_and_backslashes_in_a_target_name_are_replaced():
    # GenQuery1 cannot express a quote in a literal (irods/irods lib/core/src/rcMisc.cpp
    # getCondFromString), and `like` takes a backslash as an escape
    from omero_irods.placement import sanitise_name

    assert sanitise_name("Alice's \\cells\\") == "Alice_s _cells_"


def test_zone_problems_name_each_mapping_the_zone_does_not_back():
    from omero_irods.mapping import zone_problems

    user_map = USER_MAP._replace(users={"alice": "alice", "boss": "lead", "ghost": "nobody"},
                                 groups={"lab": "lab", "x": "alice", "v": None},
                                 same_name_users=frozenset(), same_name_groups=frozenset())
    problems = zone_problems(user_map, "omero-svc", PLAIN)
    assert problems == [
        "OMERO user 'boss': the user map gives iRODS user 'lead', a groupadmin; only a rodsuser may stand for an "
        "OMERO user",
        "OMERO user 'ghost': the user map gives iRODS user 'nobody', which does not exist in this zone; ask your "
        "iRODS administrator to fix the user map",
        "OMERO group 'x': the user map gives iRODS group 'alice', which is a rodsuser"]
