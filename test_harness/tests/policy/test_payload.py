"""Payload parsing: what the policy accepts from the landing zone, and how it says no."""

import datetime
import hashlib
import json

import pytest

from omero_irods.errors import Rejected
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import (
    MAX_PROBLEMS,
    DataRef,
    make_payload,
    new_request_id,
    parse_payload,
    payload_name,
)

SHA_A = hashlib.sha256(b"a").hexdigest()
SHA_TAR = hashlib.sha256(b"tar").hexdigest()
LIMIT = 1 << 20


def ingest_document(**changes):
    document = {
        "schema": "omero-irods/payload",
        "version": 1,
        "operation": "ingest",
        "request_id": "20261122T101500Z-6f1c2a9e",
        "created": "2026-11-22T10:15:00Z",
        "omero": {"server": "omero.example.org", "user": "alice", "group": "lab"},
        "data": {"kind": "tar", "name": "run1.tar", "size": 10240, "sha256": SHA_TAR, "members": 1},
        "manifest": [{"path": "run1/a.tif", "size": 1, "sha256": SHA_A}],
        "target": {"omero_dataset": "Dataset:name:run1"},
    }
    document.update(changes)
    return document


def encode(document):
    return json.dumps(document).encode("utf-8")


def rejection(raw, max_bytes=LIMIT):
    with pytest.raises(Rejected) as caught:
        parse_payload(raw, max_bytes)
    return caught.value


def test_valid_ingest_payload_gives_an_immutable_view():
    payload = parse_payload(encode(ingest_document()), LIMIT)
    assert payload.operation == "ingest"
    assert (payload.omero_user, payload.omero_group) == ("alice", "lab")
    assert payload.data == DataRef("tar", "run1.tar", 10240, SHA_TAR, 1)
    assert payload.manifest == (ManifestEntry("run1/a.tif", 1, SHA_A),)
    assert payload.target.omero_dataset == "Dataset:name:run1"
    assert payload.target_name == "run1"
    assert payload.source_path is None
    with pytest.raises(AttributeError):
        payload.operation = "load"


def test_valid_load_payload_names_only_a_source():
    document = ingest_document(operation="load", source={"path": "/tempZone/home/alice/omero/save/snap"})
    del document["data"], document["manifest"]
    payload = parse_payload(encode(document), LIMIT)
    assert payload.source_path == "/tempZone/home/alice/omero/save/snap"
    assert payload.data is None and payload.manifest == ()
    assert payload.target_name == "snap"


def test_size_cap_is_applied_before_parsing():
    error = rejection(b"{" * 5000, max_bytes=4096)
    assert error.reason == "too_large"
    assert "5000" in error.message and "4096" in error.message


def test_not_utf8_and_not_json_are_named():
    assert rejection(b"\xff\xfe{}").reason == "not_utf8"
    assert rejection(b'{"schema": ').reason == "not_json"
    assert rejection(b"[NaN]").reason == "not_json"


def test_duplicate_keys_are_rejected_not_silently_merged():
    raw = encode(ingest_document())[:-1] + b', "operation": "load"}'
    error = rejection(raw)
    assert error.reason == "not_json"
    assert "duplicate key 'operation'" in error.message


def test_deep_nesting_is_a_clear_rejection_not_a_crash():
    error = rejection(b"[" * 100000 + b"]" * 100000, max_bytes=1 << 21)
    assert error.summary() == "rejected (schema): invalid payload: /: is nested more than 8 levels deep"


def test_schema_error_names_pointer_and_reason():
    document = ingest_document()
    document["data"]["sha256"] = "12"
    error = rejection(encode(document))
    assert error.reason == "schema"
    assert error.pointer == "/data/sha256"
    assert "/data/sha256: '12' does not match '^[0-9a-f]{64}$'" in error.message


def test_unknown_field_is_named_by_its_own_pointer():
    document = ingest_document()
    document["omero"]["password"] = "secret"
    error = rejection(encode(document))
    assert error.pointer == "/omero/password"
    assert "not a known field" in error.message


def test_missing_field_is_named_by_its_own_pointer():
    document = ingest_document()
    del document["omero"]["group"]
    assert rejection(encode(document)).pointer == "/omero/group"


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "run1/../../x", "run1//a", "run1/", ".", "run1/./a", ""],
)
def test_manifest_paths_must_be_safe_relative_paths(path):
    document = ingest_document()
    document["manifest"][0]["path"] = path
    error = rejection(encode(document))
    assert error.pointer == "/manifest/0/path"
    assert "relative POSIX path" in error.message or "too short" in error.message


def test_trailing_newline_does_not_slip_past_a_pattern():
    # Python's `$` matches before a final newline: the control-character check catches it.
    document = ingest_document(request_id="20261122T101500Z-6f1c2a9e\n")
    error = rejection(encode(document))
    assert error.pointer == "/request_id"
    assert "control character" in error.message


@pytest.mark.parametrize("request_id", ["short", "-leadingdash1", "has space 123", "x" * 129, "a/b/c/d/e/f"])
def test_request_id_pattern(request_id):
    assert rejection(encode(ingest_document(request_id=request_id))).pointer == "/request_id"


def test_operation_dependent_fields():
    load_with_data = ingest_document(operation="load", source={"path": "/tempZone/home/alice/x"})
    error = rejection(encode(load_with_data))
    assert error.pointer == "/data"
    assert "load takes no data" in error.message
    ingest_with_source = ingest_document(source={"path": "/tempZone/home/alice/x"})
    assert rejection(encode(ingest_with_source)).pointer == "/source"
    save_without_manifest = ingest_document(operation="save")
    del save_without_manifest["manifest"]
    assert rejection(encode(save_without_manifest)).pointer == "/manifest"


def test_tar_needs_sha256_and_collection_must_not_have_one():
    tar = ingest_document()
    del tar["data"]["sha256"]
    assert rejection(encode(tar)).pointer == "/data/sha256"
    collection = ingest_document()
    collection["data"]["kind"] = "collection"
    error = rejection(encode(collection))
    assert error.pointer == "/data/sha256" and "only a tar" in error.message


def test_member_count_must_match_manifest():
    document = ingest_document()
    document["data"]["members"] = 2
    error = rejection(encode(document))
    assert error.reason == "inconsistent"
    assert error.pointer == "/data/members"


def test_collection_size_must_add_up():
    document = ingest_document()
    document["data"].update(kind="collection", name="run1", size=5)
    del document["data"]["sha256"]
    error = rejection(encode(document))
    assert (error.reason, error.pointer) == ("inconsistent", "/data/size")


def test_duplicate_manifest_paths_are_rejected():
    document = ingest_document()
    document["manifest"].append(dict(document["manifest"][0]))
    document["data"]["members"] = 2
    error = rejection(encode(document))
    assert (error.reason, error.pointer) == ("inconsistent", "/manifest/1/path")


def test_a_path_cannot_be_both_file_and_folder():
    document = ingest_document()
    document["manifest"] = [
        {"path": "run1", "size": 1, "sha256": SHA_A},
        {"path": "run1/a.tif", "size": 1, "sha256": SHA_A},
    ]
    document["data"]["members"] = 2
    error = rejection(encode(document))
    assert (error.reason, error.pointer) == ("inconsistent", "/manifest/0/path")


def test_huge_offending_value_is_shortened_in_the_message():
    error = rejection(encode(ingest_document(operation="x" * 100000)), max_bytes=1 << 21)
    assert error.pointer == "/operation"
    assert len(error.message) < 1000


def test_several_problems_are_reported_together():
    document = ingest_document(version=2, operation="nope")
    error = rejection(encode(document))
    assert "/operation" in error.message and "/version" in error.message


def test_make_payload_round_trips_through_the_validator():
    created = datetime.datetime(2026, 11, 22, 10, 15, tzinfo=datetime.timezone.utc)
    request_id = new_request_id(created)
    assert request_id.startswith("20261122T101500Z-")
    made = make_payload(
        "save",
        request_id,
        "alice",
        "lab",
        data=DataRef("tar", "snap.tar", 10240, SHA_TAR, 1),
        manifest=[ManifestEntry("img/a.tif", 1, SHA_A)],
        omero_objects=["Image:12"],
        created=created,
    )
    assert made.created == "2026-11-22T10:15:00Z"
    assert parse_payload(made.to_json_bytes(), LIMIT) == made
    assert made.name == payload_name(request_id) == request_id + ".omero-irods.json"


def test_make_payload_refuses_bad_arguments_with_the_field_named():
    with pytest.raises(Rejected) as caught:
        make_payload("ingest", "20261122T101500Z-6f1c2a9e", "alice", "lab")
    assert caught.value.pointer == "/data"


# --- bad input costs little (issue 8.7); the cost itself is measured by bench/payload_reject.py


@pytest.mark.parametrize("depth", [9, 100, 5000])
def test_nesting_beyond_the_bound_is_a_clear_rejection_at_any_depth(depth):
    # deeper than any payload value, shallower or deeper than json's own recursion limit
    raw = encode(ingest_document(target={"name": "HERE"})).replace(b'"HERE"', b"[" * depth + b"]" * depth)
    # the same words on every Python, whichever of json's limit or ours is met first
    assert rejection(raw).summary() == "rejected (schema): invalid payload: /: is nested more than 8 levels deep"


def test_nesting_up_to_the_bound_is_left_to_the_schema():
    # containers 8 levels below the document: not refused for its depth (the schema refuses a list as a name)
    raw = encode(ingest_document(target={"name": "HERE"})).replace(b'"HERE"', b"[" * 7 + b"]" * 7)
    error = rejection(raw)
    assert "nested" not in error.message and error.pointer == "/target/name"


@pytest.mark.parametrize("text", [b'[:]{}[]"', b'\\"', b'\\\\"[[[[[[[[[[[[', b'\\""]]]]:::'])
def test_brackets_colons_quotes_and_backslashes_inside_strings_are_only_text(text):
    # the nesting and duplicate-key checks read the JSON text without its strings
    document = ingest_document()
    document["target"] = {"name": text.decode()}
    try:
        assert parse_payload(encode(document), LIMIT).target.name == text.decode()
    except Rejected as error:  # refused by the schema for what the name is, nothing else
        assert error.reason == "schema" and error.pointer == "/target/name", error.summary()


def test_a_key_repeated_in_a_nested_object_is_found():
    raw = encode(ingest_document()).replace(b'"user": "alice"', b'"user": "alice", "user": "root"')
    error = rejection(raw)
    assert error.reason == "not_json" and "duplicate key 'user'" in error.message


def test_a_number_too_long_for_any_field_is_refused_before_it_is_converted():
    error = rejection(b'{"version": ' + b"9" * 100000 + b"}")
    assert error.reason == "not_json" and "more than 40 digits" in error.message


def test_an_unterminated_string_of_escaped_quotes_is_not_json():
    assert rejection(b'{"a": "' + b'\\"' * 100000).reason == "not_json"


def test_a_payload_full_of_errors_reports_a_bounded_number_of_them():
    manifest = [{"path": "f%d" % index, "size": 1, "sha256": "zz"} for index in range(5000)]
    error = rejection(encode(ingest_document(manifest=manifest)))
    assert error.reason == "schema"
    assert error.message.endswith("(and at least %d more)" % (MAX_PROBLEMS - 3))


@pytest.mark.parametrize("entry", [
    {"path": "a", "size": 1, "sha256": "zz"}, {"path": "a", "size": "1", "sha256": SHA_A},
    {"path": "a", "size": True, "sha256": SHA_A}, {"path": "a", "size": 1.5, "sha256": SHA_A},
    {"path": "a", "size": -1, "sha256": SHA_A}, {"path": "a", "size": 2 ** 60, "sha256": SHA_A},
    {"path": "/a", "size": 1, "sha256": SHA_A}, {"path": "a/../b", "size": 1, "sha256": SHA_A},
    {"path": 7, "size": 1, "sha256": SHA_A}, {"size": 1, "sha256": SHA_A}, {"path": "a", "size": 1},
    {"path": "a", "size": 1, "sha256": SHA_A, "mode": 420}, ["a", 1, SHA_A], "a",
])
def test_the_manifest_loop_agrees_with_the_schema(entry):
    # the loop stands in for jsonschema on manifest entries: same verdict, same words
    from omero_irods.payload import _describe, _manifest_checker, schema_validator

    expected = sorted({_describe(e) for e in schema_validator("payload.v1.schema.json").iter_errors(
        ingest_document(manifest=[entry])) if list(e.absolute_path)[:1] == ["manifest"]})
    assert sorted(_manifest_checker().problems([entry], MAX_PROBLEMS)) == expected
    assert expected


def test_the_manifest_loop_accepts_what_the_schema_accepts():
    from omero_irods.payload import _manifest_checker

    entries = [{"path": "a/b c/é.tif", "size": 0, "sha256": SHA_A}, {"path": "x", "size": 1.0, "sha256": SHA_A}]
    assert _manifest_checker().problems(entries, MAX_PROBLEMS) == []


@pytest.mark.parametrize("where, value", [
    ("/manifest/0/path", "run1/\ud800.tif"), ("/omero/user", "al\udfffice"), ("/target/name", "\udc00"),
])
def test_lone_surrogates_are_rejected_where_they_are(where, value):
    document = ingest_document()
    parent = document
    parts = where.strip("/").split("/")
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
    parent[parts[-1]] = value
    error = rejection(json.dumps(document).encode("ascii"))  # JSON's \ud800 escapes
    assert error.reason == "schema" and error.pointer == where and "lone surrogate" in error.message


def test_a_surrogate_pair_is_a_character_not_a_problem():
    payload = parse_payload(json.dumps(ingest_document(target={"name": "run \U0001F52C"})).encode("ascii"), LIMIT)
    assert payload.target.name == "run \U0001F52C"


@pytest.mark.parametrize("name", ["--sudo", "-g", " alice", "alice ", "a/b", ""])
def test_omero_names_that_the_importer_or_the_catalog_would_misread_are_refused(name):
    for field in ("user", "group"):
        error = rejection(encode(ingest_document(omero={"user": "alice", "group": "lab", field: name})))
        assert error.reason == "schema" and error.pointer == "/omero/" + field


@pytest.mark.parametrize("name", ["jo.smith@example.org", "Lab of Imaging", "Müller", "a-b_c", "nullable"])
def test_omero_names_as_omero_allows_them(name):
    payload = parse_payload(encode(ingest_document(omero={"user": name, "group": name})), LIMIT)
    assert (payload.omero_user, payload.omero_group) == (name, name)


@pytest.mark.parametrize("name", ["it's.tar", "a\\b.tar", "run++++1.tar"])
def test_data_names_the_policy_could_never_query_or_open_are_refused(name):
    # GenQuery1 literals cannot hold a quote (and iRODS 5 decodes backslashes in them);
    # '++++' splits the key-value strings of msiDataObjOpen
    error = rejection(encode(ingest_document(data={"kind": "tar", "name": name, "size": 10240, "sha256": SHA_TAR,
                                                   "members": 1})))
    assert error.reason == "schema" and error.pointer == "/data/name"


def test_target_names_with_quotes_stay_allowed_they_are_sanitised():
    assert parse_payload(encode(ingest_document(target={"name": "Bob's run++++1"})), LIMIT).target.name == \
        "Bob's run++++1"


@pytest.mark.parametrize("path", ["/tempZone/home/o'brien/snap", "/tempZone/home/a\\b"])
def test_load_sources_that_cannot_be_queried_are_refused(path):
    document = ingest_document(operation="load", source={"path": path})
    del document["data"], document["manifest"]
    assert rejection(encode(document)).pointer == "/source/path"


def test_an_omero_object_named_twice_is_inconsistent():
    error = rejection(encode(ingest_document(omero={"user": "alice", "group": "lab",
                                                    "objects": ["Image:1", "Image:1"]})))
    assert error.reason == "inconsistent" and error.pointer == "/omero/objects"


def test_more_containers_than_a_payload_can_hold_are_refused_before_parsing():
    # one per manifest entry (at most data.members' maximum, 1,000,000) and a few more
    raw = b"[" + b",".join([b"[]"] * 1000020) + b"]"
    error = rejection(raw, max_bytes=len(raw))
    assert error.summary().startswith("rejected (schema): invalid payload: /: holds 1000021 objects and arrays")


def test_a_file_used_as_a_folder_deeper_down_is_named():
    document = ingest_document()
    entry = document["manifest"][0]
    document["manifest"] = [dict(entry, path="run1/a"), dict(entry, path="run1/a/b/c.tif")]
    document["data"]["members"] = 2
    error = rejection(encode(document))
    assert error.pointer == "/manifest/0/path" and "'run1/a' is listed as a file" in error.message
