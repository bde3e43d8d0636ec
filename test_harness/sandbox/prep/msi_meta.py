"""ACL and metadata microservices, acting as the rule's client user.

Sources (irods/irods 4.3): server/re/src/icatGeneralMS.cpp msiSetACL,
server/re/src/extractAvuMS.cpp msiModAVUMetadata, plugins/api/src/atomic_apply_acl_operations.cpp
and atomic_apply_metadata_operations.cpp (with their microservices in plugins/microservices/src).

Note for policy authors, from atomic_apply_metadata_operations.cpp execute_metadata_operation
(unchanged from 4.2.9 to 5.0): an "add" of an AVU that is already attached is a silent no-op,
so an atomic add is NOT a once-only claim; msiModAVUMetadata's "add" of an attached AVU does fail
(CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME, from the catalog).
"""

import json
import re

from omero_irods_sandbox import acl as acl_levels
from omero_irods_sandbox.error_codes import IrodsError
from omero_irods_sandbox.records import Avu
from omero_irods_sandbox.prep.callback import microservice
from omero_irods_sandbox.prep.msparam import fail, require_str


@microservice("msiSetACL", 4)
def msiSetACL(ctx, recursive, level, user, path):
    """rsModAccessControl: 'recursive' or anything else (non-recursive); level may carry the
    'admin:' prefix (admin mode); 'inherit' / 'noinherit' set the collection's inheritance;
    'user#zone' names a user of another zone (only the local zone exists here)."""
    for position, value in enumerate((recursive, level, user, path), 1):
        require_str(value, "msiSetACL", position)
    admin_mode = level.startswith("admin:")
    level = level[len("admin:"):] if admin_mode else level
    user = user.split("#", 1)[0]
    is_recursive = recursive == "recursive"
    if level in ("inherit", "noinherit"):
        ctx.zone.set_inheritance(ctx.actor, path, level == "inherit", recursive=is_recursive, admin_mode=admin_mode)
    else:
        ctx.zone.set_acl(ctx.actor, path, level, user, recursive=is_recursive, admin_mode=admin_mode)
    return {}


_AVU_OPERATIONS = ("add", "set", "rm", "rmw")
_ITEM_TYPES = {"-d": "data_object", "-D": "data_object", "-C": "collection", "-c": "collection"}


@microservice("msiModAVUMetadata", 6)
def msiModAVUMetadata(ctx, item_type, item_name, operation, attribute, value, units):
    """rsModAVUMetadata (imeta add/set/rm/rmw) on '-d' data objects and '-C' collections.

    irods/irods server/re/src/extractAvuMS.cpp reads all six arguments with parseMspForStr
    (lib/core/src/msParam.cpp), which turns the exact string "null" into a missing argument:
    SYS_INVALID_INPUT_PARAM (seen on iRODS 5.0.2 for an attribute, value or units "null";
    "NULL" and "Null" are stored)."""
    for position, argument in enumerate((item_type, item_name, operation, attribute, value, units), 1):
        if not isinstance(argument, str) or argument == "null":
            fail("SYS_INVALID_INPUT_PARAM", "msiModAVUMetadata: argument %d is missing (not a string, "
                                            "or the string 'null')" % position)
    if operation not in _AVU_OPERATIONS:
        fail("SYS_INVALID_INPUT_PARAM", "msiModAVUMetadata: operation %r is not one of %s"
             % (operation, ", ".join(_AVU_OPERATIONS)))
    if item_type not in _ITEM_TYPES:
        fail("SYS_NOT_SUPPORTED", "msiModAVUMetadata: the sandbox emulates item types -d and -C, not %r" % item_type)
    if operation == "add":
        ctx.zone.add_avu(ctx.actor, item_name, attribute, value, units)
    elif operation == "set":
        ctx.zone.set_avu(ctx.actor, item_name, attribute, value, units)
    elif operation == "rm":
        ctx.zone.remove_avu(ctx.actor, item_name, attribute, value, units)
    else:
        _remove_with_wildcards(ctx, item_name, attribute, value, units)
    return {}


def _remove_with_wildcards(ctx, path, attribute, value, units):
    """imeta rmw: SQL LIKE patterns ('%' any run, '_' one character) on attribute and value."""
    matches = [avu for avu in ctx.zone.avus(ctx.actor, path)
               if _like(attribute, avu.attribute) and _like(value, avu.value) and (not units or _like(units, avu.units))]
    if not matches:
        fail("CAT_SUCCESS_BUT_WITH_NO_INFO", "no AVU of %s matches (%s, %s, %s)" % (path, attribute, value, units))
    for avu in matches:
        ctx.zone.remove_avu(ctx.actor, path, avu.attribute, avu.value, avu.units)


def _like(pattern, text):
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _load_json(text, msi):
    if not isinstance(text, str) or not text:
        fail("SYS_INVALID_INPUT_PARAM", "%s: the first argument must be a JSON string" % msi)
    try:
        document = json.loads(text)
    except ValueError as error:
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "%s: input is not JSON: %s" % (msi, error))
    if not isinstance(document, dict):
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "%s: input must be a JSON object" % msi)
    return document


def _require_admin(ctx, document, msi):
    if document.get("admin_mode") is True and not ctx.zone.is_admin(ctx.actor):
        fail("CAT_INSUFFICIENT_PRIVILEGE_LEVEL", "%s: user %s is not an administrator" % (msi, ctx.actor))
    return document.get("admin_mode") is True


@microservice("msi_atomic_apply_metadata_operations", 2)
def msi_atomic_apply_metadata_operations(ctx, json_input, _json_output):
    """One transaction: {"entity_name", "entity_type": "data_object"|"collection",
    "admin_mode"?, "operations": [{"operation": "add"|"remove", "attribute", "value", "units"?}]}.
    Needs modify_object on the entity; the first failing operation undoes all of them."""
    msi = "msi_atomic_apply_metadata_operations"
    document = _load_json(json_input, msi)
    entry = _metadata_entity(ctx, document, msi)
    admin_mode = _require_admin(ctx, document, msi)
    if not admin_mode and not ctx.zone.has_access(ctx.actor, entry.path, "modify_object"):
        fail("CAT_NO_ACCESS_PERMISSION", "%s: user %s not allowed to modify metadata of %s"
             % (msi, ctx.actor, entry.path))
    avus = list(entry.avus)
    for index, operation in enumerate(document.get("operations", [])):
        avus = _apply_metadata_operation(avus, operation, index, msi)
    entry.avus = avus  # commit: every operation succeeded
    return {1: "{}"}


def _metadata_entity(ctx, document, msi):
    try:
        name, kind = document["entity_name"], document["entity_type"]
    except KeyError as missing:
        fail("SYS_INVALID_INPUT_PARAM", "%s: input lacks %s" % (msi, missing))
    if kind not in ("data_object", "collection"):
        fail("SYS_INVALID_INPUT_PARAM", "%s: entity_type %r is not data_object or collection "
             "(user and resource are not emulated)" % (msi, kind))
    entry = ctx.zone.collection(name) if kind == "collection" else ctx.zone.data_object(name)
    if entry is None or not ctx.zone.visible(ctx.actor, name):
        fail("SYS_INVALID_INPUT_PARAM", "%s: no %s %s visible to %s" % (msi, kind.replace("_", " "), name, ctx.actor))
    return entry


def _apply_metadata_operation(avus, operation, index, msi):
    try:
        attribute, value = operation["attribute"], operation["value"]
        kind = operation["operation"]
    except (KeyError, TypeError) as error:
        fail("JSON_VALIDATION_ERROR", "%s: operation %d lacks %s" % (msi, index, error))
    if not attribute or not value:
        fail("SYS_INVALID_INPUT_PARAM", "%s: operation %d: empty metadata attribute name or value "
             "[attribute=%s, value=%s]" % (msi, index, attribute, value))
    avu = (attribute, value, operation.get("units", ""))
    existing = [a for a in avus if (a.attribute, a.value, a.units) == avu]
    if kind == "add":
        if existing:
            return avus  # already attached: nothing to do (see the module docstring)
        return avus + [Avu(*avu)]
    if kind == "remove":
        return [a for a in avus if (a.attribute, a.value, a.units) != avu]
    fail("INVALID_OPERATION", "%s: operation %d: invalid metadata operation %r" % (msi, index, kind))


@microservice("msi_atomic_apply_acl_operations", 2)
def msi_atomic_apply_acl_operations(ctx, json_input, _json_output):
    """One transaction: {"logical_path", "admin_mode"?, "operations": [{"entity_name",
    "acl": "null"|"read_metadata"|"read"|"read_object"|...|"write"|"modify_object"|...|"own"}]}.
    Needs own on the object (or admin_mode by a rodsadmin); entries are set directly (no
    recursion, no inheritance)."""
    msi = "msi_atomic_apply_acl_operations"
    document = _load_json(json_input, msi)
    path = document.get("logical_path")
    if not isinstance(path, str):
        fail("SYS_INVALID_INPUT_PARAM", "%s: input lacks logical_path" % msi)
    if ctx.zone.exists(path) is None:
        fail("OBJ_PATH_DOES_NOT_EXIST", "%s: %s does not exist" % (msi, path))
    if not ctx.zone.visible(ctx.actor, path):
        fail("SYS_UNKNOWN_ERROR", "%s: failed to resolve %s to an id for %s" % (msi, path, ctx.actor))
    admin_mode = _require_admin(ctx, document, msi)
    if not admin_mode and not ctx.zone.has_access(ctx.actor, path, "own"):
        fail("CAT_NO_ACCESS_PERMISSION", "%s: user %s not allowed to modify ACLs of %s" % (msi, ctx.actor, path))
    entry = ctx.zone.collection(path) or ctx.zone.data_object(path)
    acl = dict(entry.acl)
    for index, operation in enumerate(document.get("operations", [])):
        _apply_acl_operation(ctx, acl, operation, index, msi)
    entry.acl = acl  # commit
    return {1: "{}"}


def _apply_acl_operation(ctx, acl, operation, index, msi):
    try:
        entity, level = operation["entity_name"], operation["acl"]
    except (KeyError, TypeError) as error:
        fail("JSON_VALIDATION_ERROR", "%s: operation %d lacks %s" % (msi, index, error))
    try:
        level = acl_levels.canonical(level)
    except IrodsError:
        fail("SYS_INVALID_INPUT_PARAM", "%s: operation %d: invalid ACL [acl=%s]" % (msi, index, level))
    if not any(user.name == entity for user in ctx.zone.users()):
        fail("SYS_INVALID_INPUT_PARAM", "%s: operation %d: invalid entity %r" % (msi, index, entity))
    if level == "null":
        acl.pop(entity, None)
    else:
        acl[entity] = level

