"""OMERO user/group -> iRODS user/group, from the admin's user map. Never a guess.

Order: the map file's entry; else, if the OMERO name is in the config's same_name allow list,
the iRODS account of the same name; else the user is refused (`unmapped_user`) with a message
the OMERO user can act on. There is no wildcard for same_name: with one, anybody who can pick
an OMERO user name (e.g. 'rods') would be handed the iRODS account of that name.

A group without a mapping is not an error: the data simply gets no group permission (and a
placement template that needs {irods_group} refuses the request, see placement.py).
"""

from collections import namedtuple

from omero_irods.errors import Rejected

#: `irods_group` is None when the OMERO group has no iRODS counterpart.
Identity = namedtuple("Identity", "irods_user irods_group")


def map_identity(user_map, omero_user, omero_group, zone_name=None):
    """Identity for an OMERO user and group, or Rejected('unmapped_user')."""
    irods_user = _lookup(user_map.users, user_map.same_name_users, omero_user)
    if irods_user is None:
        where = " in zone %s" % zone_name if zone_name else ""
        raise Rejected(
            "unmapped_user",
            "OMERO user %r has no iRODS account%s; ask your iRODS administrator to add you to the "
            "omero-irods user map (%s)" % (omero_user, where, user_map.path),
        )
    return Identity(irods_user, _lookup(user_map.groups, user_map.same_name_groups, omero_group))


def _lookup(explicit, same_name_allowed, omero_name):
    if omero_name in explicit:
        return explicit[omero_name]
    if omero_name in same_name_allowed:
        return omero_name
    return None
