"""Parse, validate and build payloads (`<request_id>.omero-irods.json`).

A payload is untrusted input: `parse_payload` caps its size before reading it, then checks
UTF-8, JSON (no duplicate keys, no NaN), control characters, the JSON Schema
(schemas/payload.v1.schema.json) and the cross-field rules a schema cannot say. Every failure
is a `Rejected` whose message names the JSON pointer and the problem, e.g.
`/data/sha256: '12' does not match '^[0-9a-f]{64}$'`.

Bad input costs little: nesting is bounded (MAX_NESTING) on the text before anything recurses
(json.loads included), duplicate keys are found by counting in C, at most
MAX_PROBLEMS problems are collected, and the manifest -- nearly all of a large payload -- is
checked by a plain loop with the schema's own `$defs/manifest_entry` (jsonschema takes about
220 us per entry, over 30 s for a payload at the 16 MiB cap; this loop about 8 us, both
measured on a loaded 2-core machine).

The push side builds payloads with `make_payload` and uploads `payload.to_json_bytes()`, so
both sides agree by construction.
"""

import datetime
import itertools
import json
import operator
import os
import re
import secrets
from collections import namedtuple


from omero_irods import names
from omero_irods.errors import Rejected
from omero_irods.manifest import ManifestEntry

PAYLOAD_SCHEMA_FILE = "payload.v1.schema.json"
SCHEMA_TAG = "omero-irods/payload"
SCHEMA_VERSION = 1

_SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
#: JSON's \\uD800 escapes decode to lone surrogates, which no UTF-8 path, AVU or log line can hold.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: The payload's deepest value is 3 containers down (/manifest/0/path); deeper is refused
#: before any recursive code (jsonschema, the walks here) sees it. json.loads itself recurses
#: in C and raises RecursionError at a depth that differs between Python versions.
MAX_NESTING = 8
#: Where parsed JSON can hold a control character or a lone surrogate: an escape for one
#: (\\n, \\u0001, \\ud800...) or a raw DEL; a match may be harmless (an escaped backslash
#: before an 'n', a surrogate pair), and then only costs a walk of the strings.
_SUSPICIOUS_ESCAPE = re.compile(r"\\[bfnrt]|\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]|\x7f")
#: Collect at most this many problems: a payload full of errors costs as little as one with a few.
MAX_PROBLEMS = 20
#: The longest number a payload may hold (sizes fit in 19 digits).
MAX_NUMBER_DIGITS = 40
_MAX_PROBLEMS_SHOWN = 3
_MAX_VALUE_CHARS = 120
_READABLE_PATTERN_CHARS = 40


# --- schema helpers (config.py uses them too) -------------------------------------------------

_validators = {}


def schema_validator(filename):
    """A cached Draft 2020-12 validator for one of the package's schema files."""
    if filename not in _validators:
        import jsonschema  # ~0.1 s: only where a schema is used, not in every agent importing us

        with open(os.path.join(_SCHEMA_DIR, filename), encoding="utf-8") as handle:
            schema = json.load(handle)
        jsonschema.Draft202012Validator.check_schema(schema)
        _validators[filename] = jsonschema.Draft202012Validator(schema)
    return _validators[filename]


def json_pointer(parts):
    """RFC 6901 pointer for a path of keys and indexes ('' is the whole document)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def schema_problems(validator, document, limit=None):
    """Schema violations as (pointer, text), sorted by pointer: all of them, or the first
    `limit` that jsonschema finds (it finds them lazily, so a bound stops its walk)."""
    problems = [_describe(error) for error in itertools.islice(validator.iter_errors(document), limit)]
    return sorted(set(problems), key=lambda problem: problem[0])


def _describe(error):
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return json_pointer(path + missing[:1]), "is required but missing"
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        unexpected = sorted(key for key in error.instance if key not in allowed)
        return json_pointer(path + unexpected[:1]), "is not a known field"
    if error.validator == "not" and error.validator_value == {}:
        return json_pointer(path), "is not allowed: " + error.schema.get("description", "not expected here")
    if error.validator == "pattern" and len(error.validator_value) > _READABLE_PATTERN_CHARS:
        # Long patterns are unreadable; the schema describes them in words.
        described = error.schema.get("description", "the expected form")
        return json_pointer(path), "%s is not %s" % (_shorten(repr(error.instance)), described)
    return json_pointer(path), _shorten(error.message)


def _shorten(text):
    # jsonschema quotes the offending value; a hostile payload may make it huge.
    if len(text) <= 2 * _MAX_VALUE_CHARS:
        return text
    return text[:_MAX_VALUE_CHARS] + "..." + text[-_MAX_VALUE_CHARS:]


def format_problems(problems, complete=True):
    """'/a: x; /b: y (and 3 more)' -- the first few problems, pointer first; `complete` is
    False when the list was cut at MAX_PROBLEMS ('and at least N more')."""
    shown = ["%s: %s" % (pointer or "/", text) for pointer, text in problems[:_MAX_PROBLEMS_SHOWN]]
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    if more <= 0:
        return "; ".join(shown)
    return "; ".join(shown) + " (and %s%d more)" % ("" if complete else "at least ", more)


def strict_json_loads(text):
    """json.loads that refuses duplicate keys and NaN/Infinity; raises ValueError."""
    return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)


def _refuse_duplicate_keys(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):  # the per-object cost stays in C unless a key repeats
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError("duplicate key %r" % (key,))
            seen.add(key)
    return result


def _refuse_constant(name):
    raise ValueError("%s is not valid JSON" % (name,))


# --- the payload view -------------------------------------------------------------------------

DataRef = namedtuple("DataRef", "kind name size sha256 members")
DataRef.__doc__ = """The data a request names: a tar data object or a sibling collection."""

Target = namedtuple("Target", "name omero_dataset")
Target.__doc__ = """Where the data goes: collection name and OMERO import target (both optional)."""


class Payload(
    namedtuple(
        "Payload",
        "operation request_id created omero_user omero_group omero_server omero_objects "
        "data manifest target source_path",
    )
):
    """An immutable, validated payload. `manifest` is a tuple of ManifestEntry;
    `data` and `source_path` are None when the operation has none."""

    __slots__ = ()

    @property
    def name(self):
        """The payload's data object name: <request_id>.omero-irods.json."""
        return payload_name(self.request_id)

    @property
    def target_name(self):
        """Name for the placed collection: target.name, else data.name without '.tar',
        else (load) the source collection's last component."""
        if self.target.name:
            return self.target.name
        if self.data is not None:
            stem = self.data.name[:-4] if self.data.name.endswith(".tar") else self.data.name
            return stem or self.request_id
        return self.source_path.rsplit("/", 1)[-1]

    def to_document(self):
        """The JSON document (dict) this payload was read from / will be written as."""
        document = {
            "schema": SCHEMA_TAG,
            "version": SCHEMA_VERSION,
            "operation": self.operation,
            "request_id": self.request_id,
            "created": self.created,
            "omero": {"user": self.omero_user, "group": self.omero_group},
        }
        if self.omero_server is not None:
            document["omero"]["server"] = self.omero_server
        if self.omero_objects:
            document["omero"]["objects"] = list(self.omero_objects)
        if self.data is not None:
            document["data"] = {key: value for key, value in self.data._asdict().items() if value is not None}
            document["manifest"] = [entry.to_json() for entry in self.manifest]
        target = {key: value for key, value in self.target._asdict().items() if value is not None}
        if target:
            document["target"] = target
        if self.source_path is not None:
            document["source"] = {"path": self.source_path}
        return document

    def to_json_bytes(self):
        """UTF-8 JSON, ready to upload as the payload object."""
        return json.dumps(self.to_document(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def payload_name(request_id):
    """'<request_id>.omero-irods.json' -- the payload object's name in its landing collection."""
    return request_id + names.PAYLOAD_SUFFIX


def new_request_id(now=None):
    """A fresh, sortable request id: '20261122T101500Z-6f1c2a9e' (UTC time + 32 random bits)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def utc_timestamp(now=None):
    """RFC 3339 UTC time for the payload's `created` field."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- parsing ----------------------------------------------------------------------------------


def parse_payload(raw_bytes, max_bytes):
    """Validate payload bytes; return a Payload or raise Rejected (never anything else)."""
    if len(raw_bytes) > max_bytes:
        raise Rejected(
            "too_large",
            "payload is %d bytes; the limit is %d bytes" % (len(raw_bytes), max_bytes),
        )
    try:
        text = bytes(raw_bytes).decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected("not_utf8", "payload is not UTF-8 (byte %d)" % error.start)
    skeleton = _skeleton(bytes(raw_bytes))
    _refuse_too_many_containers(skeleton)
    _refuse_deep_nesting(skeleton)
    try:
        document = json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)
        _refuse_duplicate_keys_in(document, text, skeleton)
    except RecursionError:  # text that is no JSON can still nest deeper than json's own limit
        _raise_nested_too_deep()
    except ValueError as error:
        raise Rejected("not_json", "payload is not valid JSON: %s" % _shorten(str(error)))
    return _validated(document, text)


def validate_document(document, text=None):
    """Check an already-parsed payload document (parsed from `text`, when given); return a
    Payload or raise Rejected."""
    text = json.dumps(document) if text is None else text
    _refuse_deep_nesting(_skeleton(text.encode("utf-8", "surrogatepass")))
    return _validated(document, text)


def _validated(document, text):
    """A document whose nesting is known to be bounded: its problems, or its Payload."""
    reason = "schema"
    problems = _string_problems(document) if _SUSPICIOUS_ESCAPE.search(text) else []
    if not problems:
        problems = schema_problems(_outer_validator(), document, MAX_PROBLEMS)
        if isinstance(document, dict) and isinstance(document.get("manifest"), list):
            room = MAX_PROBLEMS - len(problems)
            problems += _manifest_checker().problems(document["manifest"], room)
            problems.sort(key=lambda problem: problem[0])
    if not problems:
        reason, problems = "inconsistent", _consistency_problems(document)
    if problems:
        raise Rejected(reason, "invalid payload: " + format_problems(problems, len(problems) < MAX_PROBLEMS),
                       pointer=problems[0][0])
    return _view(document)


# Bad input must cost little (a payload at the 16 MiB cap, full of errors, is rejected in
# well under a second): the structure is checked on the text with regular expressions, which
# run in C, and Python code never walks a whole hostile document -- only the manifest loop
# does, and it stops at MAX_PROBLEMS.

#: bytes.translate tables: '{}' read as '[]'; every byte deleted but quotes, brackets and ':'.
_ONE_KIND_OF_BRACKET = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{}:')
#: Of the brackets alone, this many opened in a row: a container that deep.
_TOO_MANY_OPENED = b"[" * (MAX_NESTING + 2)


def _skeleton(raw):
    """The brackets and the ':' of JSON text (UTF-8 bytes) outside its strings: a valid
    document's structure, with one ':' per key of every object.

    Outside strings valid JSON has no backslash, and inside one a run of backslashes pairs up
    from its start ('\\\\' is one backslash): once the pairs and then the escaped quotes are
    gone, every quote opens or closes a string. Of quotes, brackets and ':' alone, two adjacent
    quotes are an empty string or the end of one and the start of the next with nothing of
    the structure between: both can go. What is left in quotes is a string's own brackets and
    colons, rare. Every step runs in C. (On text that is no JSON the result means nothing;
    json.loads then refuses the text.)"""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    return structure


def _bounded_int(digits):
    """json.loads' integers: none longer than any payload field needs (int() of a long one is
    quadratic in its digits where Python has no int_max_str_digits)."""
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ValueError("a number has more than %d digits" % MAX_NUMBER_DIGITS)
    return int(digits)


def _refuse_too_many_containers(skeleton):
    """Rejected before parsing when the text holds more objects and arrays than a payload can
    (a manifest entry each, at most the schema's data.members maximum, and a few more): a
    hostile payload of millions of tiny containers costs json.loads seconds and hundreds of
    MiB, whatever is checked afterwards."""
    count = skeleton.count(b"[") + skeleton.count(b"{")
    if count > _max_containers():
        raise Rejected("schema", "invalid payload: /: holds %d objects and arrays; a payload holds at most %d"
                       % (count, _max_containers()), pointer="")


def _max_containers():
    members = schema_validator(PAYLOAD_SCHEMA_FILE).schema["properties"]["data"]["properties"]["members"]
    return members["maximum"] + _FIXED_CONTAINERS


#: The document, omero, omero.objects, data, manifest, target, source: every container of a
#: payload but the manifest's entries, with room to spare.
_FIXED_CONTAINERS = 16


def _refuse_deep_nesting(skeleton):
    """Rejected when a container lies more than MAX_NESTING levels below the document. Of the
    brackets alone, each pass removes every empty pair -- the innermost level of containers --
    so brackets left after MAX_NESTING + 1 passes lie deeper. Text where a pass finds no pair
    is no JSON, and json.loads says so. All in C, whatever the input: json.loads recurses (in
    C, with a depth limit that differs between Python versions) and never sees deeper input."""
    brackets = skeleton.translate(_ONE_KIND_OF_BRACKET, b":")
    for _level in range(MAX_NESTING + 1):
        if _TOO_MANY_OPENED in brackets:  # so deep that counting on is a waste
            break
        if b"[]" not in brackets:
            return
        brackets = brackets.replace(b"[]", b"")
    if brackets:
        _raise_nested_too_deep()


def _raise_nested_too_deep():
    raise Rejected("schema", "invalid payload: " + format_problems([_NESTED_TOO_DEEP]), pointer="")


def _refuse_duplicate_keys_in(document, text, skeleton):
    """ValueError naming a key that repeats in one object, which json.loads would silently
    merge (the last one wins). Every key in valid JSON text is followed by the only ':' outside
    strings, and re-encoding with a separator no string can hold ('\\x00' is always escaped)
    counts the keys that survived: both counts in C, and the parse with a per-object hook
    (strict_json_loads) only runs to name the key once they differ."""
    if skeleton.count(b":") != json.dumps(document, separators=(",", "\x00")).count("\x00"):
        strict_json_loads(text)
        raise ValueError("an object repeats a key")  # strict_json_loads names it; this is a fallback


_NESTED_TOO_DEEP = ("", "is nested more than %d levels deep" % MAX_NESTING)


def _string_problems(document):
    """Control characters and lone surrogates in keys and strings, at most MAX_PROBLEMS."""
    problems = []
    pending = [(document, [])]
    while pending and len(problems) < MAX_PROBLEMS:
        value, path = pending.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                problems.append((json_pointer(path), problem))
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            problem = _text_problem(key) if isinstance(key, str) else None
            if problem:
                problems.append((json_pointer(path), "has a key that " + problem))
            pending.append((item, path + [key]))
    return sorted(problems, key=lambda problem: problem[0])


def _text_problem(text):
    if _CONTROL_CHARACTER.search(text):
        return "contains a control character"
    if _LONE_SURROGATE.search(text):
        return "contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape)"
    return None


def _outer_validator():
    """The payload schema with the manifest's items left to _ManifestChecker."""
    key = PAYLOAD_SCHEMA_FILE + "#without-manifest-items"
    if key not in _validators:
        import jsonschema

        schema = json.loads(json.dumps(schema_validator(PAYLOAD_SCHEMA_FILE).schema))
        del schema["properties"]["manifest"]["items"]
        _validators[key] = jsonschema.Draft202012Validator(schema)
    return _validators[key]


_checkers = []


def _manifest_checker():
    if not _checkers:
        _checkers.append(_ManifestChecker(schema_validator(PAYLOAD_SCHEMA_FILE).schema))
    return _checkers[0]


class _ManifestChecker(object):
    """Checks manifest entries against the schema's `$defs/manifest_entry`, with jsonschema's
    semantics and messages for the keywords that definition uses (and refuses to be built
    for a definition that uses any other keyword, so the schema stays the one source)."""

    _ENTRY_KEYWORDS = {"description", "type", "additionalProperties", "required", "properties"}
    _FIELD_KEYWORDS = {"description", "type", "pattern", "minimum", "maximum"}

    def __init__(self, schema):
        entry = schema["$defs"]["manifest_entry"]
        self._require(set(entry) <= self._ENTRY_KEYWORDS and entry["type"] == "object"
                      and entry["additionalProperties"] is False, entry)
        self.required = list(entry["required"])
        self.fields = {}
        for name, reference in entry["properties"].items():
            field = schema["$defs"][reference["$ref"].rsplit("/", 1)[-1]]
            self._require(set(reference) == {"$ref"} and set(field) <= self._FIELD_KEYWORDS
                          and field["type"] in ("string", "integer"), field)
            pattern = re.compile(field["pattern"]) if "pattern" in field else None
            self.fields[name] = (field["type"], pattern, field.get("pattern"), field.get("description"),
                                 field.get("minimum"), field.get("maximum"))
        self.names = set(self.fields)
        if set(self.required) != self.names:
            raise ValueError("payload.py expects every manifest entry field to be required")

    @staticmethod
    def _require(condition, schema):
        if not condition:
            raise ValueError("payload.py cannot check a manifest entry defined as %s" % json.dumps(schema))

    #: Entries checked together: a block in the usual shape is checked field by field with
    #: C-level iteration (map); only a block that fails that is checked entry by entry.
    BLOCK = 512

    def problems(self, manifest, limit):
        problems = []
        for start in range(0, len(manifest), self.BLOCK):
            if len(problems) >= limit:
                break
            block = manifest[start:start + self.BLOCK]
            if self._usual(block):
                continue
            for index, entry in enumerate(block, start):
                if len(problems) >= limit:
                    break
                problems.extend(self._entry_problems(entry, ["manifest", index]))
        return problems[:max(limit, 0)]

    def _usual(self, block):
        """True when every entry of `block` is an object with exactly the fields, each valid
        (the same outcome _entry_problems gives, without a Python call per entry)."""
        if set(map(type, block)) != {dict} or set(map(len, block)) != {len(self.fields)}:
            return False
        for name, (kind, pattern, _text, _description, minimum, maximum) in self.fields.items():
            try:
                values = list(map(operator.itemgetter(name), block))
            except KeyError:
                return False
            if kind == "string":
                if set(map(type, values)) != {str} or (pattern is not None and not all(map(pattern.search, values))):
                    return False
            elif set(map(type, values)) != {int} or (minimum is not None and min(values) < minimum) or (
                    maximum is not None and max(values) > maximum):
                return False
        return True

    def _entry_problems(self, entry, path):
        if isinstance(entry, dict) and entry.keys() == self.names:  # the usual shape: one pass
            if not any(self._field_problem(entry[name], *field) for name, field in self.fields.items()):
                return ()
        if not isinstance(entry, dict):
            return [(json_pointer(path), "%s is not of type 'object'" % _shorten(repr(entry)))]
        problems = []
        for name in self.required:
            if name not in entry:
                problems.append((json_pointer(path + [name]), "is required but missing"))
        unknown = sorted(key for key in entry if key not in self.fields)
        if unknown:
            problems.append((json_pointer(path + unknown[:1]), "is not a known field"))
        for name, value in entry.items():
            if name in self.fields:
                problem = self._field_problem(value, *self.fields[name])
                if problem:
                    problems.append((json_pointer(path + [name]), problem))
        return problems

    @staticmethod
    def _field_problem(value, kind, pattern, pattern_text, description, minimum, maximum):
        if kind == "string" and value.__class__ is str and (pattern is None or pattern.search(value)):
            return None  # the common cases first, before any message is made
        if kind == "integer" and value.__class__ is int and (minimum is None or value >= minimum) and (
                maximum is None or value <= maximum):
            return None
        shown = _shorten(repr(value))
        if kind == "string":
            if not isinstance(value, str):
                return "%s is not of type 'string'" % shown
            if len(pattern_text) > _READABLE_PATTERN_CHARS:  # as _describe words it
                return "%s is not %s" % (shown, description or "the expected form")
            return "%s does not match %r" % (shown, pattern_text)
        # jsonschema's integer: an int that is no bool, or a float without a fraction
        if value.__class__ is int and (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
            return None
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            return "%s is not of type 'integer'" % shown
        if minimum is not None and value < minimum:
            return "%s is less than the minimum of %s" % (shown, minimum)
        if maximum is not None and value > maximum:
            return "%s is greater than the maximum of %s" % (shown, maximum)
        return None


def _consistency_problems(document):
    """Rules across fields that JSON Schema cannot express; (pointer, text) pairs."""
    objects = document["omero"].get("objects", [])
    if len(set(objects)) != len(objects):
        return [("/omero/objects", "names an OMERO object more than once")]
    if "data" not in document:
        return []
    data, manifest = document["data"], document["manifest"]
    problems = []
    if data["members"] != len(manifest):
        problems.append(
            ("/data/members", "says %d files but the manifest lists %d" % (data["members"], len(manifest)))
        )
    if data["kind"] == "collection":
        total = sum(entry["size"] for entry in manifest)
        if data["size"] != total:
            problems.append(("/data/size", "says %d bytes but the manifest's sizes add up to %d" % (data["size"], total)))
    if data["name"] == payload_name(document["request_id"]):
        problems.append(("/data/name", "names the payload itself"))
    problems.extend(_manifest_path_problems(manifest))
    return problems


def _manifest_path_problems(manifest):
    """A path listed twice, or a file also used as a folder (set operations, in C, and a
    Python loop over the folders only)."""
    paths = [entry["path"] for entry in manifest]
    unique = set(paths)
    if len(unique) != len(paths):
        seen = {}
        for index, path in enumerate(paths):
            if path in seen:
                return [("/manifest/%d/path" % index, "repeats /manifest/%d/path (%r)" % (seen[path], path))]
            seen[path] = index
    directories = set()
    for folder in {path.rpartition("/")[0] for path in paths}:
        while folder and folder not in directories:
            directories.add(folder)
            folder = folder.rpartition("/")[0]
    clashes = unique & directories
    if not clashes:
        return []
    first = {path: index for index, path in reversed(list(enumerate(paths))) if path in clashes}
    return [
        ("/manifest/%d/path" % first[path], "%r is listed as a file but other entries use it as a folder" % path)
        for path in sorted(clashes, key=first.get)
    ]


def _view(document):
    omero = document["omero"]
    data = document.get("data")
    target = document.get("target", {})
    return Payload(
        operation=document["operation"],
        request_id=document["request_id"],
        created=document["created"],
        omero_user=omero["user"],
        omero_group=omero["group"],
        omero_server=omero.get("server"),
        omero_objects=tuple(omero.get("objects", ())),
        data=None
        if data is None
        else DataRef(data["kind"], data["name"], int(data["size"]), data.get("sha256"), int(data["members"])),
        manifest=tuple(ManifestEntry.from_json(entry) for entry in document.get("manifest", ())),
        target=Target(target.get("name"), target.get("omero_dataset")),
        source_path=document.get("source", {}).get("path"),
    )


# --- building (push side) ---------------------------------------------------------------------


def make_payload(
    operation,
    request_id,
    omero_user,
    omero_group,
    data=None,
    manifest=(),
    target_name=None,
    omero_dataset=None,
    source_path=None,
    omero_server=None,
    omero_objects=(),
    created=None,
):
    """Build a validated Payload (raises Rejected naming the field if an argument is wrong).

    `data` is a DataRef (or None for load); `manifest` an iterable of ManifestEntry;
    `created` an aware datetime (default: now).
    """
    draft = Payload(
        operation=operation,
        request_id=request_id,
        created=utc_timestamp(created),
        omero_user=omero_user,
        omero_group=omero_group,
        omero_server=omero_server,
        omero_objects=tuple(omero_objects),
        data=data,
        manifest=tuple(manifest),
        target=Target(target_name, omero_dataset),
        source_path=source_path,
    )
    return validate_document(draft.to_document())
