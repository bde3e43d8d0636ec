"""What an admin does once per zone and once per mapped user, as plain data.

Least-privilege model (admin_mode false): the service account is a plain `rodsuser`. It owns
the landing zone (where the OMERO side pushes) and, per mapped user, is given `own` on that
user's `user_root` (default /<zone>/home/<user>/omero) with inheritance on. So the policy,
running as the service account, can create collections there, place data, set AVUs and grant
the mapped user `own` -- and can do nothing anywhere else: no other user's data, no admin
microservices. The mapped user also owns their `user_root`, so they keep full control of it.

`plan_zone_provisioning` / `plan_user_provisioning` return Operations; an executor with
rodsadmin rights applies them in order (the admin tool through python-irodsclient, the
sandbox's `provision` step through its catalog). `provision_user` runs a plan through such an
executor. Every operation is idempotent: re-provisioning a user changes nothing.
"""

from collections import namedtuple

from omero_irods.placement import render_user_root

CREATE_COLLECTION = "create_collection"  # path (parents created too; existing is fine)
SET_ACL = "set_acl"  # path, user, level ('own' | 'write' | 'read' | 'null')
SET_INHERITANCE = "set_inheritance"  # path, inherit (True / False)


class Operation(namedtuple("Operation", "op path user level inherit")):
    """One provisioning step; unused fields are None."""

    __slots__ = ()

    def to_json(self):
        return {key: value for key, value in self._asdict().items() if value is not None}


def _create(path):
    return Operation(CREATE_COLLECTION, path, None, None, None)


def _acl(path, user, level):
    return Operation(SET_ACL, path, user, level, None)


def _inherit(path, inherit=True):
    return Operation(SET_INHERITANCE, path, None, None, inherit)


def plan_zone_provisioning(zone_config):
    """The landing zone, owned by the service account (pushes land there), and the records
    collection (omero_irods.records): the service account's `own` only, inheritance off, so
    nothing placed elsewhere lends anyone a right there. An admin who wants others to read
    the records grants `read` by hand; any more makes the pipeline refuse to run."""
    landing, records = zone_config.landing_zone, zone_config.records
    service = zone_config.service_account
    return [_create(landing), _acl(landing, service, "own"),
            _create(records), _acl(records, service, "own"), _inherit(records, False)]


def plan_user_provisioning(zone_config, irods_user):
    """The mapped user's root: created, owned by the user and the service account, inheriting.

    Inheritance is switched on before anything is placed, so every collection and object the
    service account creates below carries both `own` grants without further admin work.
    """
    root = render_user_root(zone_config, irods_user)
    return [
        _create(root),
        _acl(root, irods_user, "own"),
        _acl(root, zone_config.service_account, zone_config.acl.service_account),
        _inherit(root),
    ]


def provision_user(zone_config, irods_user, apply):
    """Apply plan_user_provisioning through `apply(operation)`; returns the operations."""
    operations = plan_user_provisioning(zone_config, irods_user)
    for operation in operations:
        apply(operation)
    return operations


def home_owner(path):
    """The user whose home holds `path` (/zone/home/<user>/...), or None.

    Executors create a collection in a home as that user, so it is theirs from the start:
    a rodsadmin has no right to create inside another user's home (no admin bypass for
    ordinary operations), but may act for them as a proxy user.
    """
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "home":
        return parts[2]
    return None


def landing_zone_problems(zone_config, acl, inherits):
    """What makes a landing zone unsafe (docs/ARCHITECTURE.md, trust model): anyone but the
    service account (and rodsadmins) with write on it, which with inheritance on is handed to
    every new request collection, whose requests are then rejected (pipeline: the seal).
    `acl`: [(name, user type, level)] of the landing zone collection. Each problem says the fix."""
    from omero_irods.records import content_writers

    landing, service = zone_config.landing_zone, zone_config.service_account
    writers = content_writers(acl, service)
    if not writers:
        return []
    named = ", ".join("%s (%s)" % writer for writer in writers)
    if inherits:
        return ["the landing zone %s gives %s write with inheritance on: every request pushed there is rejected "
                "(its data could have been written by them); remove it: ichmod -r -M null NAME %s; "
                "ichmod -M noinherit %s" % (landing, named, landing, landing)]
    return ["the landing zone %s gives %s write: only the service account %s may write there (ichmod -M null "
            "NAME %s)" % (landing, named, service, landing)]
