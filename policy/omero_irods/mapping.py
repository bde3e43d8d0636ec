"""OMERO user/group -> iRODS user/group, from the admin's user map. Never a guess.

Order: the map file's entry; else, if the OMERO name is in the config's same_name allow list,
the iRODS account of the same name; else the request is refused (`unmapped_user`) with a
message the OMERO user can act on. There is no wildcard for same_name: with one, anybody who
can pick an OMERO user name (e.g. 'rods') would be handed the iRODS account of that name.

The OMERO group is decided the same way: the importer runs in it (`-g`), so a group the admin
did not list is refused, never passed through. A group mapped to null is an OMERO group the
admin allows whose data gets no iRODS group permission.

The identity is checked twice. `static_problems` (config load, `admin validate-config`): no
OMERO user stands for the service account or the zone's bootstrap admin `rods`, no group for
`public` (every user) or `rodsadmin`. `check_in_zone` (each request, against the catalog):
the mapped user is a plain `rodsuser` (not a rodsadmin or groupadmin, whose rights reach far
beyond their own data) other than the service account, and a member of the mapped group.
"""

from collections import namedtuple

from omero_irods.errors import Rejected

#: `irods_group` is None when the OMERO group is mapped to no iRODS group.
Identity = namedtuple("Identity", "irods_user irods_group")

#: The zone's bootstrap rodsadmin (irods/irods scripts/setup_irods.py's default admin name):
#: never an OMERO user's account, whatever its type in a given zone.
RESERVED_USERS = frozenset(["rods"])
#: Groups that stand for far more than a lab: every user, every administrator.
RESERVED_GROUPS = frozenset(["public", "rodsadmin"])
#: The only user type an OMERO user may be mapped to (irods/irods
#: plugins/database/src/db_plugin.cpp user types: rodsadmin, groupadmin, rodsuser, rodsgroup).
MAPPABLE_USER_TYPE = "rodsuser"

_UNMAPPED = object()


def map_identity(user_map, omero_user, omero_group, zone_name=None):
    """Identity for an OMERO user and group, or Rejected('unmapped_user')."""
    where = " in zone %s" % zone_name if zone_name else ""
    irods_user = _lookup(user_map.users, user_map.same_name_users, omero_user)
    if irods_user is _UNMAPPED:
        raise Rejected(
            "unmapped_user",
            "OMERO user %r has no iRODS account%s; ask your iRODS administrator to add you to the "
            "omero-irods user map (%s)" % (omero_user, where, user_map.path),
        )
    irods_group = _lookup(user_map.groups, user_map.same_name_groups, omero_group)
    if irods_group is _UNMAPPED:
        raise Rejected(
            "unmapped_user",
            "OMERO group %r is not in the omero-irods user map%s (%s); ask your iRODS administrator "
            "to add it (mapped to an iRODS group, or to null for no group permission)"
            % (omero_group, where, user_map.path),
        )
    return Identity(irods_user, irods_group)


def _lookup(explicit, same_name_allowed, omero_name):
    if omero_name in explicit:
        return explicit[omero_name]
    if omero_name in same_name_allowed:
        return omero_name
    return _UNMAPPED


def static_problems(user_map, service_account):
    """What the user map may never say, as (where, pointer, text): `where` is 'map' (the user
    map file) or 'same_name' (the config's same_name lists)."""
    problems = []
    forbidden_users = {service_account: "the service account", **{name: "the zone's bootstrap rodsadmin"
                                                                   for name in RESERVED_USERS}}
    for omero_user, irods_user in sorted(user_map.users.items()):
        if irods_user in forbidden_users:
            problems.append(("map", "/users/" + _escape(omero_user), "maps to %s %r; map this OMERO user to "
                             "their own iRODS user" % (forbidden_users[irods_user], irods_user)))
    for name in sorted(user_map.same_name_users & set(forbidden_users)):
        problems.append(("same_name", "/users", "lists %s %r; it may not stand for an OMERO user"
                         % (forbidden_users[name], name)))
    for omero_group, irods_group in sorted(user_map.groups.items(), key=lambda item: item[0]):
        if irods_group in RESERVED_GROUPS or irods_group == service_account:
            problems.append(("map", "/groups/" + _escape(omero_group), "maps to %r, which is not a lab's group; "
                             "map this OMERO group to its own iRODS group (or to null)" % irods_group))
    for name in sorted(user_map.same_name_groups & (RESERVED_GROUPS | {service_account})):
        problems.append(("same_name", "/groups", "lists %r, which is not a lab's group" % name))
    return problems


def _escape(key):
    return key.replace("~", "~0").replace("/", "~1")


def check_in_zone(identity, service_account, user_info):
    """Rejected('unmapped_user') unless the catalog agrees with the mapping; `user_info(name)`
    is ZonePort.user_info ({'type', 'groups'} or None)."""
    user = identity.irods_user
    if user == service_account or user in RESERVED_USERS:
        raise Rejected("unmapped_user", "the user map gives iRODS user %r, which may not stand for an OMERO "
                                        "user; ask your iRODS administrator to fix the user map" % user)
    info = user_info(user)
    if info is None:
        raise Rejected("unmapped_user", "the user map gives iRODS user %r, which does not exist in this zone; "
                                        "ask your iRODS administrator to fix the user map" % user)
    if info["type"] != MAPPABLE_USER_TYPE:
        raise Rejected("unmapped_user", "the user map gives iRODS user %r, a %s; only a %s may stand for an "
                                        "OMERO user" % (user, info["type"], MAPPABLE_USER_TYPE))
    group = identity.irods_group
    if group is not None and group not in info["groups"]:
        raise Rejected("unmapped_user", "the user map gives iRODS group %r, and iRODS user %r is not a member "
                                        "of it; ask your iRODS administrator to add them or fix the user map"
                       % (group, user))


def zone_problems(user_map, service_account, user_info):
    """What the zone says against a user map, as texts (`admin validate-config --irods-env`):
    each mapped user as check_in_zone sees it, each mapped group an existing rodsgroup.
    Whether a user is in a group is a property of a request (which group it names), checked then."""
    problems = []
    users = dict(user_map.users, **{name: name for name in user_map.same_name_users})
    for omero_user, irods_user in sorted(users.items()):
        try:
            check_in_zone(Identity(irods_user, None), service_account, user_info)
        except Rejected as error:
            problems.append("OMERO user %r: %s" % (omero_user, error.message))
    groups = dict(user_map.groups, **{name: name for name in user_map.same_name_groups})
    for omero_group, irods_group in sorted(groups.items()):
        info = None if irods_group is None else user_info(irods_group)
        if irods_group is not None and (info is None or info["type"] != "rodsgroup"):
            problems.append("OMERO group %r: the user map gives iRODS group %r, which %s" % (
                omero_group, irods_group, "does not exist in this zone" if info is None else "is a " + info["type"]))
    return problems
