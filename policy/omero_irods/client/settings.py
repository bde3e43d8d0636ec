"""Where the OMERO side sends requests: the landing zone collection.

It must match the `landing_zone` of the zone's policy config (/etc/irods/omero_irods.json).
Resolution order: an explicit value (`--landing-zone`), then $OMERO_IRODS_LANDING_ZONE, then
the key `omero_irods_landing_zone` in the service account's irods_environment.json, then
`/<zone>/home/<service account>/landing`.

The OMERO.scripts see none of the server's environment variables: omero-py's processor
gives each script a fixed allow list (HOME, PATH, PYTHONPATH, ...; omero-py
src/omero/processor.py ProcessI.make_env). So for them, put the landing zone in the
environment file found through HOME (~/.irods/irods_environment.json, with
`irods_authentication_file` naming the auth file if it is not ~/.irods/.irodsA). iCommands
and python-irodsclient leave unknown keys alone: iinit merges its updates into the existing
file (irods/irods clients/icommands/src/iinit.cpp save_updates_to_irods_environment), and
PRC keeps extra keys as attributes of its account (python-irodsclient irods/account.py).
"""

import os
import posixpath

LANDING_ZONE_ENV = "OMERO_IRODS_LANDING_ZONE"
#: The irods_environment.json key holding the landing zone (read by omero-irods only).
LANDING_ZONE_KEY = "omero_irods_landing_zone"


MARK_KEY_FILE_ENV = "OMERO_IRODS_MARK_KEY_FILE"
#: The irods_environment.json key naming the zone's integrity key file (omero_irods.integrity).
MARK_KEY_FILE_KEY = "omero_irods_mark_key_file"


class SettingsError(ValueError):
    """A client setting is unusable; the message names it."""


def landing_zone(zone, service_account, explicit=None, env=None, env_path=None):
    """The landing zone collection of `service_account` in `zone`.

    `env` is the service account's irods_environment.json (a dict) read from `env_path`.
    """
    env = env or {}
    for source, value in (("--landing-zone", explicit),
                          ("$" + LANDING_ZONE_ENV, os.environ.get(LANDING_ZONE_ENV)),
                          ("%s in %s" % (LANDING_ZONE_KEY, env_path or "the iRODS environment file"),
                           env.get(LANDING_ZONE_KEY))):
        if value:
            return _checked(value, source)
    return "/%s/home/%s/landing" % (zone, service_account)


def mark_key(explicit=None, env=None, env_path=None):
    """The zone's integrity key (bytes) the payloads are signed with, or None when none is
    configured: from --mark-key-file, $OMERO_IRODS_MARK_KEY_FILE, or `omero_irods_mark_key_file`
    in the service account's irods_environment.json. An unusable file is a SettingsError
    naming it (never its content)."""
    from omero_irods import integrity

    env = env or {}
    for source, value in (("--mark-key-file", explicit),
                          ("$" + MARK_KEY_FILE_ENV, os.environ.get(MARK_KEY_FILE_ENV)),
                          ("%s in %s" % (MARK_KEY_FILE_KEY, env_path or "the iRODS environment file"),
                           env.get(MARK_KEY_FILE_KEY))):
        if value:
            try:
                return integrity.read_key(value, what="the integrity key file (from %s)" % source)
            except integrity.KeyFileError as error:
                raise SettingsError(str(error))
    return None


def _checked(chosen, source):
    if (not isinstance(chosen, str) or not chosen.startswith("/") or "//" in chosen
            or posixpath.normpath(chosen) != chosen.rstrip("/")):
        raise SettingsError("landing zone %r (from %s) must be an absolute iRODS path without "
                            "'..' or '//'" % (chosen, source))
    return chosen.rstrip("/")
