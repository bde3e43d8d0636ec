"""Where a request's data goes: render the admin's template, stay inside the allowed roots,
never overwrite.

Templates use `{field}` placeholders (str.format syntax without conversions, format specs,
attributes or indexes). Fields: zone, user_root, irods_user, irods_group, omero_user,
operation, date (UTC YYYY-MM-DD), request_id, name. Every field value is one path component:
a value holding '/', '.', '..' or a control character is refused, so no payload can steer the
destination outside the template (e.g. an OMERO user called '../rods'). A quote or backslash is
refused too (the target name has them replaced): the policy finds placed data again with
GenQuery1, whose literals are single-quoted with no escape for a quote (irods/irods
lib/core/src/rcMisc.cpp getCondFromString), and whose `like` takes a backslash as an escape.

The placed collection's record is `<name>.omero-irods.json` next to it, so a name gets
`name_max_bytes` minus that suffix: a longer target name is shortened (and a template whose
last component cannot fit is refused at once), never left to fail at the rename.

Collisions: `choose_destination` asks `exists(path)` and returns the first free candidate
(`name`, `name-2`, `name-3`, ...) with on_collision=suffix, or rejects with on_collision=fail
(the user can pick another target name). Checking and creating are two steps, so the caller
creates the collection exclusively and, if it appeared in between, asks for the next candidate
(`candidates()` yields them in order).
"""

import datetime
import re
import string
from collections import namedtuple

from omero_irods import names
from omero_irods.errors import Rejected

USER_ROOT_FIELDS = ("zone", "irods_user", "irods_group", "omero_user")
TEMPLATE_FIELDS = USER_ROOT_FIELDS + ("user_root", "operation", "date", "request_id", "name")
MAX_SUFFIX = 9999

_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
_UNSAFE_IN_NAME = re.compile("[\x00-\x1f\x7f/'\\\\]")

#: Bytes of a placed collection's name taken by its record's suffix.
RECORD_SUFFIX_BYTES = len(names.PAYLOAD_SUFFIX.encode("utf-8"))

#: Everything a template may use; built by `placement_fields`.
Fields = namedtuple("Fields", TEMPLATE_FIELDS)


def check_template(template, allow_request_fields=True):
    """Why `template` is unusable (text for a ConfigError), or None if it is fine."""
    allowed = TEMPLATE_FIELDS if allow_request_fields else USER_ROOT_FIELDS
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return "is not a valid template: %s" % error
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            return "uses {%s}; allowed fields are %s" % (field, ", ".join("{%s}" % f for f in allowed))
    sample = {name: "x" for name in TEMPLATE_FIELDS}
    sample["user_root"] = "/x/x"
    rendered = template.format(**sample)
    problem = _path_problem(rendered)
    return None if problem is None else "renders to a path that %s" % problem


def _path_problem(path):
    if len(path.encode("utf-8")) > MAX_LOGICAL_PATH:
        return "is longer than %d bytes" % MAX_LOGICAL_PATH
    if not path.startswith("/"):
        return "is not absolute"
    if path.endswith("/") or "//" in path:
        return "has an empty component"
    if any(part in (".", "..") for part in path.split("/")):
        return "has a '.' or '..' component"
    if _CONTROL_CHARACTER.search(path):
        return "contains a control character"
    return None


def sanitise_name(name, max_bytes=255):
    """A single safe path component from a user-chosen name: '/', control characters, quotes
    and backslashes become '_', '.'/'..'/empty become '_', at most `max_bytes` UTF-8 bytes."""
    cleaned = _UNSAFE_IN_NAME.sub("_", name).strip()
    if cleaned in ("", ".", ".."):
        cleaned = "_"
    return _truncate_utf8(cleaned, max_bytes)


def _truncate_utf8(text, max_bytes):
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def utc_date(now):
    """'YYYY-MM-DD' of `now` in UTC (a naive datetime is taken as UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc)
    return now.strftime("%Y-%m-%d")


def render_user_root(zone, irods_user, irods_group=None, omero_user=None):
    """The mapped user's provisioned collection, e.g. /tempZone/home/alice/omero."""
    values = {"zone": zone.name, "irods_user": irods_user, "irods_group": irods_group, "omero_user": omero_user}
    return _render(zone.user_root, values, "user_root")


def placement_path(zone, identity, payload, now, name_max_bytes=255):
    """The destination collection (before collision handling) for a payload, checked against
    the zone's allowed roots and landing zone. `identity` comes from mapping.map_identity."""
    values = {
        "zone": zone.name,
        "irods_user": identity.irods_user,
        "irods_group": identity.irods_group,
        "omero_user": payload.omero_user,
        "operation": payload.operation,
        "date": utc_date(now),
        "request_id": payload.request_id,
        "name": sanitise_name(payload.target_name, name_max_bytes - RECORD_SUFFIX_BYTES),
    }
    values["user_root"] = render_user_root(zone, identity.irods_user, identity.irods_group, payload.omero_user)
    path = _render(zone.placement_template, values, "placement_template")
    check_inside_roots(path, zone)
    last = path.rsplit("/", 1)[-1]
    if len(last.encode("utf-8")) + RECORD_SUFFIX_BYTES > name_max_bytes:
        raise Rejected("limit", "the placed collection's name %r leaves no room for its record's name (%s), "
                                "at most %d bytes" % (last, last + names.PAYLOAD_SUFFIX, name_max_bytes))
    return path


def _render(template, values, what):
    used = {field for _literal, field, _spec, _conv in string.Formatter().parse(template) if field}
    for field in sorted(used - {"user_root"}):
        value = values.get(field)
        if value is None:
            raise Rejected(
                "unmapped_user",
                "the %s needs {%s}, which this request does not have (is the OMERO group mapped?)" % (what, field),
            )
        if _UNSAFE_IN_NAME.search(value) or value in ("", ".", ".."):
            raise Rejected("outside_roots", "{%s} = %r cannot be used in a path" % (field, value))
    return template.format(**{field: values.get(field) for field in used})


def check_inside_roots(path, zone):
    """Reject a destination that is not strictly below an allowed root, or is in the landing zone."""
    problem = _path_problem(path)
    if problem:
        raise Rejected("outside_roots", "destination %r %s" % (path, problem))
    if _is_below(path, zone.landing_zone) or path == zone.landing_zone:
        raise Rejected("outside_roots", "destination %r is inside the landing zone" % path)
    if not any(_is_below(path, root) for root in zone.allowed_roots):
        raise Rejected(
            "outside_roots",
            "destination %r is not below an allowed root (%s)" % (path, ", ".join(zone.allowed_roots)),
        )


def _is_below(path, root):
    return path.startswith(root.rstrip("/") + "/")


def candidates(path, on_collision, name_max_bytes=255):
    """`path`, then (suffix mode) `path-2` ... `path-9999`, shortening the name so that it and
    its record's name fit."""
    yield path
    if on_collision != "suffix":
        return
    parent, name = path.rsplit("/", 1)
    for number in range(2, MAX_SUFFIX + 1):
        suffix = "-%d" % number
        yield "%s/%s%s" % (parent, _truncate_utf8(name, name_max_bytes - RECORD_SUFFIX_BYTES - len(suffix)), suffix)


def choose_destination(path, exists, on_collision, name_max_bytes=255):
    """The first candidate for which `exists(candidate)` is false; never an existing path."""
    for candidate in candidates(path, on_collision, name_max_bytes):
        if not exists(candidate):
            return candidate
    if on_collision == "fail":
        raise Rejected(
            "collision",
            "%r already exists; choose another target name (or ask the admin to remove it)" % path,
        )
    raise Rejected("collision", "%r and %d numbered variants already exist" % (path, MAX_SUFFIX - 1))


#: iRODS logical paths live in MAX_NAME_LEN buffers (MAX_PATH_ALLOWED 1024 + 64) (irods/irods
#: lib/core/include/irods/rodsDef.h); staying within MAX_PATH_ALLOWED keeps a margin.
MAX_LOGICAL_PATH = 1024


def check_fits(destination, relative_paths):
    """Reject when destination + '/' + the longest relative path exceeds MAX_LOGICAL_PATH bytes."""
    longest = max(relative_paths, key=lambda path: len(path.encode("utf-8")), default="")
    total = len(destination.encode("utf-8")) + 1 + len(longest.encode("utf-8"))
    if total > MAX_LOGICAL_PATH:
        raise Rejected(
            "limit",
            "%s/%s would be %d bytes long; iRODS paths are limited to %d" % (destination, longest, total, MAX_LOGICAL_PATH),
        )
