"""Load and validate the admin's policy config (/etc/irods/omero_irods.json) and user maps.

The config is checked against schemas/config.v1.schema.json, each zone's user map against
schemas/user_map.v1.schema.json, then against the rules a schema cannot say (template fields,
nobody mapped to the service account or `rods`: mapping.static_problems). Every problem is a
ConfigError naming the file and the JSON pointer. Anything left out takes the default documented in DEFAULTS / ZONE_DEFAULTS.

`load_config()` caches the result keyed on (path, mtime, size) of the config and of every user
map it names, so a PEP that fires on every put re-reads nothing while the files are unchanged.
"""

import copy
import json
import os
from collections import namedtuple

from omero_irods import names
from omero_irods.archive import ArchiveLimits
from omero_irods.errors import ConfigError, Rejected
from omero_irods.mapping import static_problems
from omero_irods.payload import format_problems, json_pointer, schema_problems, schema_validator, strict_json_loads
from omero_irods.placement import check_template

CONFIG_SCHEMA_FILE = "config.v1.schema.json"
USER_MAP_SCHEMA_FILE = "user_map.v1.schema.json"

_TIB = 1 << 40
#: Where each import attempt's logs and exit status go (under the iRODS server's var folder).
DEFAULTS_LOG_FOLDER = "/var/lib/irods/omero_irods/imports"

DEFAULTS = {
    "admin_mode": False,
    "limits": {
        "payload_bytes": 16 << 20,
        "archive_bytes": _TIB,
        "members": 100000,
        "member_bytes": _TIB,
        "expanded_bytes": _TIB,
        # iRODS paths hold at most MAX_PATH_ALLOWED (1024) characters (irods/irods
        # lib/core/include/irods/rodsDef.h); a vault file system allows 255-byte names.
        "path_length": 1024,
        "name_length": 255,
    },
    "retry": {"attempts": 5, "backoff_seconds": 30, "factor": 2, "max_seconds": 3600, "reprocess_poll_seconds": 300,
              "watch_seconds": 14 * 86400},
    "sweep": {"interval_seconds": 3600, "unclaimed_seconds": 900, "idle_seconds": 3600},
    "delay_instance": names.DEFAULT_PREP_INSTANCE,
    "omero_import": {
        "command": ["omero", "import"],
        "transfer": "ln_s",
        "server": None,
        "port": None,
        "sudo": None,
        "extra_args": [],
        "env": {},
        "timeout_seconds": 3600,
        "transfer_command": ["omero", "transfer"],
        "login": None,
        "log_folder": DEFAULTS_LOG_FOLDER,
        "check_seconds": 30,
        "check_wait_seconds": 0,
        "max_seconds": None,
    },
}
ZONE_DEFAULTS = {
    "user_root": "/{zone}/home/{irods_user}/omero",
    "placement_template": "{user_root}/{operation}/{date}/{name}",
    "acl": {"user": "own", "group": "read", "service_account": "own"},
    "archive_mode": "extract",
    "on_collision": "suffix",
}

Limits = namedtuple(
    "Limits", "payload_bytes archive_bytes members member_bytes expanded_bytes path_length name_length"
)
AclPolicy = namedtuple("AclPolicy", "user group service_account")
SweepPolicy = namedtuple("SweepPolicy", "interval_seconds unclaimed_seconds idle_seconds")
ImportSettings = namedtuple("ImportSettings", "command transfer server port sudo extra_args env timeout_seconds "
                                             "transfer_command login log_folder check_seconds check_wait_seconds max_seconds",
                            defaults=(("omero", "transfer"), None, DEFAULTS_LOG_FOLDER, 30, 0, None))
UserMap = namedtuple("UserMap", "path users groups same_name_users same_name_groups")
UserMap.__doc__ = """`users`/`groups`: dict OMERO name -> iRODS name; `same_name_*`: frozensets."""

ZoneConfig = namedtuple(
    "ZoneConfig",
    "name service_account landing_zone user_root placement_template allowed_roots user_map acl "
    "archive_mode on_collision records integrity_key_file",
    defaults=(None, None),
)


def check_payload_limits(payload, limits):
    """Reject a payload whose declared data breaks the admin's limits, before any data is read."""
    data = payload.data
    if data is None:
        return
    if data.kind == "tar" and data.size > limits.archive_bytes:
        _over("/data/size", "archive of %d bytes" % data.size, limits.archive_bytes, "bytes")
    if len(payload.manifest) > limits.members:
        _over("/manifest", "%d files" % len(payload.manifest), limits.members, "files")
    total = 0
    for index, entry in enumerate(payload.manifest):
        if entry.size > limits.member_bytes:
            _over("/manifest/%d/size" % index, "file of %d bytes" % entry.size, limits.member_bytes, "bytes")
        if len(entry.path) > limits.path_length:
            _over("/manifest/%d/path" % index, "path of %d characters" % len(entry.path), limits.path_length, "characters")
        longest = max(entry.path.split("/"), key=lambda part: len(part.encode("utf-8")))
        if len(longest.encode("utf-8")) > limits.name_length:  # a vault file system's limit on one name
            _over("/manifest/%d/path" % index, "name %r of %d bytes" % (longest[:40] + "...", len(longest.encode("utf-8"))),
                  limits.name_length, "bytes")
        total += entry.size
    if total > limits.expanded_bytes:
        _over("/manifest", "%d bytes in all" % total, limits.expanded_bytes, "bytes")


def _over(pointer, what, limit, unit):
    raise Rejected("limit", "%s: %s; the limit is %d %s" % (pointer, what, limit, unit), pointer=pointer)


class RetryPolicy(namedtuple("RetryPolicy", "attempts backoff_seconds factor max_seconds reprocess_poll_seconds "
                                            "watch_seconds", defaults=(DEFAULTS["retry"]["watch_seconds"],))):
    __slots__ = ()

    def delay_after(self, failures):
        """Seconds to wait after `failures` (1, 2, ...) failed attempts; None when none remain."""
        if failures >= self.attempts:
            return None
        return int(min(self.max_seconds, self.backoff_seconds * self.factor ** (failures - 1)))


class Config(namedtuple("Config", "path admin_mode limits retry delay_instance omero_import zones sweep",
                        defaults=(SweepPolicy(**DEFAULTS["sweep"]),))):
    """The validated policy config; `zones` maps zone name -> ZoneConfig."""

    __slots__ = ()

    def zone(self, name):
        try:
            return self.zones[name]
        except KeyError:
            raise ConfigError(self.path, "/zones", "has no entry for zone %r" % (name,))

    @property
    def archive_limits(self):
        return ArchiveLimits(
            max_members=self.limits.members,
            max_member_bytes=self.limits.member_bytes,
            max_expanded_bytes=self.limits.expanded_bytes,
            max_path_length=self.limits.path_length,
            max_name_length=self.limits.name_length,
        )


def config_path(environ=None):
    """The config file in use: $OMERO_IRODS_CONFIG if set, else /etc/irods/omero_irods.json."""
    environ = os.environ if environ is None else environ
    return environ.get(names.CONFIG_PATH_ENV) or names.CONFIG_PATH


_cache = {}


def load_config(path=None):
    """The Config at `path` (default: config_path()), re-read only when a file changed."""
    path = os.path.abspath(path or config_path())
    cached = _cache.get(path)
    if cached is not None and cached[0] == _stamps([path] + _user_map_paths(cached[1])):
        return cached[1]
    config = read_config(path)
    _cache[path] = (_stamps([path] + _user_map_paths(config)), config)
    return config


_roots_cache = {}


def allowed_roots(zone_name, path=None):
    """Just a zone's `allowed_roots`, for the guard PEPs: plain JSON, no schema, no user maps.

    A guarded call (imv, irm...) may be a connection's first rule: validating the whole config
    there costs a jsonschema import and a validation, around 100 ms per connection
    (bench/pep_cost.py). Cached on (path, mtime, size). () when the config has no such zone;
    ConfigError when the file is unreadable or the roots are not absolute paths, so the guard
    then checks every path instead of trusting a broken file.
    """
    path, zone = _raw_zone(zone_name, path)
    roots = zone.get("allowed_roots", ())
    if not isinstance(roots, (list, tuple)) or not all(isinstance(r, str) and r.startswith("/") for r in roots):
        raise ConfigError(path, "/zones/%s/allowed_roots" % zone_name, "must be a list of absolute paths")
    return tuple(roots)


def records_collection(zone_name, path=None):
    """Just a zone's records collection (for the guard PEPs, as allowed_roots), or None when
    the config has no such zone."""
    path, zone = _raw_zone(zone_name, path)
    if not zone:
        return None
    records = zone.get("records") or default_records(zone_name, zone.get("service_account"))
    if not isinstance(records, str) or not records.startswith("/"):
        raise ConfigError(path, "/zones/%s/records" % zone_name, "must be an absolute path")
    return records


def _raw_zone(zone_name, path):
    """(config path, the zone's plain JSON object or {}), cached on (path, mtime, size)."""
    path = os.path.abspath(path or config_path())
    stamp = _stamps([path])
    cached = _roots_cache.get(path)
    if cached is None or cached[0] != stamp:
        try:
            with open(path, "rb") as handle:
                zones = json.loads(handle.read().decode("utf-8")).get("zones", {})
        except OSError as error:
            raise ConfigError(path, "", "cannot be read: %s" % error)
        except (ValueError, AttributeError) as error:
            raise ConfigError(path, "", "is not valid JSON: %s" % error)
        cached = (stamp, {name: zone if isinstance(zone, dict) else {"allowed_roots": None}
                          for name, zone in zones.items()} if isinstance(zones, dict) else {})
        _roots_cache[path] = cached
    return path, cached[1].get(zone_name, {})


def _user_map_paths(config):
    return sorted({zone.user_map.path for zone in config.zones.values()})


def _stamps(paths):
    stamps = []
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            return None  # missing now: read again so the error names the file
        stamps.append((path, status.st_mtime_ns, status.st_size))
    return tuple(stamps)


def read_config(path):
    """Read and validate the config and its user maps (no cache)."""
    document = _read_json(path, CONFIG_SCHEMA_FILE)
    merged = _with_defaults(document, DEFAULTS)
    zones = {}
    for zone_name in sorted(merged["zones"]):
        zones[zone_name] = _zone(path, zone_name, _with_defaults(merged["zones"][zone_name], ZONE_DEFAULTS))
    return Config(
        path=path,
        admin_mode=merged["admin_mode"],
        limits=Limits(**merged["limits"]),
        retry=RetryPolicy(**merged["retry"]),
        delay_instance=merged["delay_instance"],
        omero_import=_import_settings(path, merged["omero_import"]),
        zones=zones,
        sweep=SweepPolicy(**merged["sweep"]),
    )


def _read_json(path, schema_file):
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise ConfigError(path, "", "cannot be read: %s" % (error.strerror or error))
    try:
        document = strict_json_loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ConfigError(path, "", "is not valid JSON: %s" % (error,))
    problems = schema_problems(schema_validator(schema_file), document)
    if problems:
        raise ConfigError(path, problems[0][0] or "/", format_problems(problems))
    return document


def _with_defaults(document, defaults):
    """document with missing keys (one level into dict defaults) filled from defaults."""
    merged = copy.deepcopy(defaults)
    for key, value in document.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _zone(path, zone_name, zone):
    pointer = json_pointer(["zones", zone_name])
    for field in ("user_root", "placement_template"):
        problem = check_template(zone[field], allow_request_fields=(field == "placement_template"))
        if problem:
            raise ConfigError(path, "%s/%s" % (pointer, field), problem)
    user_map = _user_map(path, zone)
    _refuse_forbidden_mappings(path, pointer, user_map, zone["service_account"])
    return ZoneConfig(
        name=zone_name,
        service_account=zone["service_account"],
        landing_zone=zone["landing_zone"],
        user_root=zone["user_root"],
        placement_template=zone["placement_template"],
        allowed_roots=tuple(zone["allowed_roots"]),
        user_map=user_map,
        acl=AclPolicy(**zone["acl"]),
        archive_mode=zone["archive_mode"],
        on_collision=zone["on_collision"],
        records=zone.get("records") or default_records(zone_name, zone["service_account"]),
        integrity_key_file=zone.get("integrity_key_file"),
    )


def default_records(zone_name, service_account):
    """Where a zone's request records live unless the config says otherwise."""
    return "/%s/home/%s/%s" % (zone_name, service_account, names.DEFAULT_RECORDS_NAME)


def _user_map(config_file, zone):
    settings = zone["user_map"]
    map_path = os.path.normpath(os.path.join(os.path.dirname(config_file), settings["file"]))
    document = _read_json(map_path, USER_MAP_SCHEMA_FILE)
    same_name = settings.get("same_name", {})
    return UserMap(
        path=map_path,
        users=dict(document["users"]),
        groups=dict(document.get("groups", {})),
        same_name_users=frozenset(same_name.get("users", ())),
        same_name_groups=frozenset(same_name.get("groups", ())),
    )


def _refuse_forbidden_mappings(config_file, zone_pointer, user_map, service_account):
    # Mapping an OMERO user onto the service account or rods would hand them rights everywhere
    # (mapping.static_problems says what else); the catalog's part is checked per request.
    for where, pointer, problem in static_problems(user_map, service_account):
        if where == "map":
            raise ConfigError(user_map.path, pointer, problem)
        raise ConfigError(config_file, zone_pointer + "/user_map/same_name" + pointer, problem)


def _import_settings(path, settings):
    if settings["login"] and not settings["server"]:
        raise ConfigError(path, "/omero_import/server", "is needed with omero_import.login (the session is "
                          "opened on that server)")
    if settings["login"] and settings["sudo"]:
        raise ConfigError(path, "/omero_import/sudo", "cannot be combined with omero_import.login (the "
                          "login's light admin opens the user's session; remove sudo)")
    return ImportSettings(
        command=tuple(settings["command"]),
        transfer=settings["transfer"],
        server=settings["server"],
        port=settings["port"],
        sudo=settings["sudo"],
        extra_args=tuple(settings["extra_args"]),
        env=dict(settings["env"]),
        timeout_seconds=settings["timeout_seconds"],
        transfer_command=tuple(settings["transfer_command"]),
        login=dict(settings["login"]) if settings["login"] else None,
        log_folder=settings["log_folder"],
        check_seconds=settings["check_seconds"],
        check_wait_seconds=settings["check_wait_seconds"],
        max_seconds=settings["max_seconds"],
    )
