"""Where the OMERO side sends requests: the landing zone collection.

It must match the `landing_zone` of the zone's policy config (/etc/irods/omero_irods.json).
Resolution order: an explicit value (`--landing-zone`), then $OMERO_IRODS_LANDING_ZONE (set it
in the OMERO server's environment for the scripts), then `/<zone>/home/<service account>/landing`.
"""

import os
import posixpath

LANDING_ZONE_ENV = "OMERO_IRODS_LANDING_ZONE"


class SettingsError(ValueError):
    """A client setting is unusable; the message names it."""


def landing_zone(zone, service_account, explicit=None):
    """The landing zone collection of `service_account` in `zone`."""
    chosen = explicit or os.environ.get(LANDING_ZONE_ENV)
    if chosen:
        if (not chosen.startswith("/") or "//" in chosen
                or posixpath.normpath(chosen) != chosen.rstrip("/")):
            raise SettingsError("landing zone %r must be an absolute iRODS path without '..' or '//'"
                             % (chosen,))
        return chosen.rstrip("/")
    return "/%s/home/%s/landing" % (zone, service_account)
