"""iRODS 4.3 access levels, their order, and the names clients may use for them.

Levels and numbers: irods/irods `plugins/database/src/icatSysInserts.sql` (R_TOKN_MAIN,
namespace access_type); 4.3 renamed them with underscores (irods/irods
`scripts/irods/database_upgrade.py`, schema version 9). Access checks compare the
numbers, so a higher level implies every lower one. The names a client may grant, with
the aliases `read` and `write`: irods/irods `plugins/api/src/atomic_apply_acl_operations.cpp`
(acl_to_id). ichmod / msiSetACL go through db_mod_access_control_op
(irods/irods `plugins/database/src/db_plugin.cpp`), which accepts every level.
"""

from .error_codes import IrodsError

#: Every access type in the 4.3 catalog, by number.
LEVELS = {
    "null": 1000,
    "execute": 1010,
    "read_annotation": 1020,
    "read_system_metadata": 1030,
    "read_metadata": 1040,
    "read_object": 1050,
    "write_annotation": 1060,
    "create_metadata": 1070,
    "modify_metadata": 1080,
    "delete_metadata": 1090,
    "administer_object": 1100,
    "create_object": 1110,
    "modify_object": 1120,
    "delete_object": 1130,
    "create_token": 1140,
    "delete_token": 1150,
    "curate": 1160,
    "own": 1200,
}

#: What msi_atomic_apply_acl_operations accepts (besides the aliases).
GRANTABLE = ("null", "read_metadata", "read_object", "create_metadata", "modify_metadata",
             "delete_metadata", "create_object", "modify_object", "delete_object", "own")

#: Pre-4.3 spellings still accepted as input.
ALIASES = {"read": "read_object", "write": "modify_object"}

_NAMES_BY_NUMBER = {number: level for level, number in LEVELS.items()}


def canonical(level, grantable_only=False):
    """The 4.3 name of a level or alias; CAT_INVALID_ARGUMENT for anything else.
    grantable_only=True restricts to GRANTABLE (the atomic ACL API's set)."""
    text = ALIASES.get(level, level)
    allowed = GRANTABLE if grantable_only else tuple(LEVELS)
    if text not in allowed:
        raise IrodsError("CAT_INVALID_ARGUMENT", "access level %r is not one of %s (or the aliases read, write)"
                         % (level, ", ".join(allowed)))
    return text


def number(level):
    """The catalog number of a level name or alias (for comparisons)."""
    level = ALIASES.get(level, level)
    try:
        return LEVELS[level]
    except KeyError:
        raise IrodsError("CAT_INVALID_ARGUMENT", "unknown access level %r" % (level,)) from None


def at_least(held, needed):
    """True when level `held` satisfies a check that needs level `needed`."""
    return number(held) >= number(needed)


def highest(levels):
    """The highest of some level names ('null' for none)."""
    best = max((number(level) for level in levels), default=LEVELS["null"])
    return _NAMES_BY_NUMBER[best]
