"""Apply provisioning operations through python-irodsclient, as a rodsadmin.

A collection inside a user's home is created by a session acting for that user (a
rodsadmin may open a proxy session with `client_user`), so it is owned by them; ACLs and
inheritance are set with admin mode (`ichmod -M`), so the admin needs no rights of its own
on the users' data.
"""

from omero_irods.provisioning import CREATE_COLLECTION, SET_ACL, SET_INHERITANCE, home_owner, landing_zone_problems


class PrcProvisioner(object):
    def __init__(self, open_session):
        """`open_session(client_user=None)` returns an iRODSSession of the admin account
        (acting for client_user when given)."""
        self._open_session = open_session

    def __call__(self, operation):
        if operation.op == CREATE_COLLECTION:
            self._create(operation.path)
        elif operation.op == SET_ACL:
            self._set_acl(operation.path, operation.user, operation.level)
        elif operation.op == SET_INHERITANCE:
            self._set_acl(operation.path, "", "inherit" if operation.inherit else "noinherit")
        else:
            raise ValueError("unknown provisioning operation %r" % (operation.op,))

    def _create(self, path):
        with self._open_session(client_user=home_owner(path)) as session:
            if not session.collections.exists(path):
                session.collections.create(path, recurse=True)

    def _set_acl(self, path, user, level):
        from irods.access import iRODSAccess

        with self._open_session() as session:
            session.acls.set(iRODSAccess(level, path, user), admin=True)

    def landing_problems(self, zone_config):
        """What makes the zone's landing zone unsafe, as it is now (provisioning.landing_zone_problems)."""
        with self._open_session() as session:
            return landing_problems_in(session, zone_config)


def landing_problems_in(session, zone_config):
    """provisioning.landing_zone_problems of the landing zone as it is (none while it does not
    exist: provision creates it the service account's alone)."""
    from irods.models import Collection

    landing = zone_config.landing_zone
    rows = list(session.query(Collection.inheritance).filter(Collection.name == landing))
    if not rows:
        return []
    inherits = str(rows[0][Collection.inheritance]) == "1"
    acl = [(entry.user_name, getattr(entry, "user_type", "") or "", entry.access_name)
           for entry in session.acls.get(session.collections.get(landing))]
    return landing_zone_problems(zone_config, acl, inherits)
