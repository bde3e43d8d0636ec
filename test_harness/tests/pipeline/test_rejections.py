"""Every way a payload can be wrong ends `rejected`, says why, and loses nothing.

For each rejection reason (omero_irods.errors.REJECT_REASONS) a request is pushed as the
push client does and the queue drained; then:
- the request's record (in the records collection) has `omero_irods::state` `rejected` and
  `omero_irods::error` names the reason and the problem (for a schema error, the JSON pointer
  of the field); nothing is written on the payload;
- the serverLog has a line saying so;
- nothing was placed under the user's root, no staging collection is left, nothing is queued
  or imported (a rejected request is never retried);
- the landing collection holds exactly what was uploaded, byte for byte.

Why the tar checks must happen before extraction: msiTarFileExtract extracts with libarchive
and no secure-extraction flags (irods/irods plugins/resources/src/structfile.cpp), so `..`,
absolute names and links would be honoured.
"""

import hashlib
import io
import tarfile

import pytest

from pipeline_support import (ALICE_ROOT, UNTIL_IDLE, Request, avus_of, base_scenario, build_tar, ours, paths,
                              queued, record_of, stored_bytes, under)
from omero_irods import names

FILES = {"run1/a.tif": b"A" * 1000, "run1/b.tif": b"B" * 500}
RID = "20261122T101500Z-0000feed"


def reject_scenario(tmp_path, request, steps=None, before=(), **options):
    steps = list(before) + (request.steps("prc") if steps is None else steps) + [UNTIL_IDLE]
    return base_scenario(tmp_path, steps, **options)


def assert_rejected(state, request, reason, *words, **options):
    """The contract of a rejection (see the module docstring)."""
    avus = avus_of(state, record_of(state, request.request_id))
    assert avus[names.AVU_STATE] == names.REJECTED, ours(state["log"])
    assert avus_of(state, request.payload_path) == {}  # the policy writes nothing on a payload
    error = avus[names.AVU_ERROR]
    assert error.startswith("rejected (%s): " % reason), error
    for word in words:
        assert word in error, error
    assert any("omero-irods: %s: rejected (%s)" % (request.payload_path, reason) in line for line in state["log"])
    existing = options.get("existing", ())
    assert [p for p in under(state, ALICE_ROOT) if p not in existing] == []
    assert [p for p in under(state, ALICE_ROOT, "collections") if p not in existing] == []
    uploaded = {request.payload_path: request.payload_bytes}
    if options.get("tar_uploaded", True):
        uploaded[request.tar_path] = request.tar_bytes
    assert under(state, request.collection) == sorted(uploaded)
    assert under(state, request.collection, "collections") == []
    record = record_of(state, request.request_id)
    assert [p for p in under(state, record, "collections") if "/staging-" in p] == []  # staging removed
    for path, content in uploaded.items():
        assert stored_bytes(state, path) == content
    assert queued(state) == [] and state["imports"] == []
    return error


# --- the payload itself ---------------------------------------------------------------------


def test_payload_over_the_size_limit(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES)
    state = run_scenario(reject_scenario(tmp_path, request, config={"limits": {"payload_bytes": 200}}))
    assert_rejected(state, request, "too_large", "limit is 200")


def test_payload_not_utf8(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, payload_bytes=b'{"schema": "\xff\xfe"}')
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "not_utf8", "byte 12")


@pytest.mark.parametrize("text, problem", [(b"{not json", "not valid JSON"),
                                           (b'{"version": 1, "version": 2}', "duplicate key 'version'")])
def test_payload_not_json(tmp_path, run_scenario, text, problem):
    request = Request(tmp_path, RID, FILES, payload_bytes=text)
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "not_json", problem)


def test_payload_against_the_schema_names_the_json_pointer(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, payload_edit=lambda doc: doc["omero"].pop("user"))
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "schema", "/omero/user", "is required")


def test_payload_not_in_its_own_landing_collection(tmp_path, run_scenario):
    other = "20261122T101500Z-0000beef"
    request = Request(tmp_path, RID, FILES, payload_edit=lambda doc: doc.update(request_id=other))
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "inconsistent", "must be at", "%s/%s.omero-irods.json" % (other, other))


# --- who and where --------------------------------------------------------------------------


def test_unmapped_omero_user(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, omero_user="carol")
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "unmapped_user", "'carol'", "user map")


def test_a_name_that_would_escape_the_template(tmp_path, run_scenario):
    # The admin maps the OMERO user '..' to alice; the template then must not climb out.
    request = Request(tmp_path, RID, FILES, omero_user="..")
    steps = request.steps("prc") + [UNTIL_IDLE]
    state = run_scenario(base_scenario(tmp_path, steps, config_zone={"placement_template": "{user_root}/{omero_user}/{name}"},
                                       mapped_users={"..": "alice"}))
    assert_rejected(state, request, "outside_roots", "{omero_user} = '..'")


def test_a_destination_outside_the_allowed_roots(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES)
    data = reject_scenario(tmp_path, request, config_zone={"allowed_roots": ["/tempZone/home/alice/omero/save"]})
    state = run_scenario(data)
    assert_rejected(state, request, "outside_roots", "not below an allowed root")


def test_an_existing_destination_with_on_collision_fail(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, target_name="run1")
    existing = "%s/ingest/2026-01-01/run1" % ALICE_ROOT
    mine = existing + "/mine.txt"
    before = [{"mkdir": {"as": "alice", "path": existing}},
              {"put": {"as": "alice", "client": "iput", "content": "my own", "to": mine}}]
    state = run_scenario(reject_scenario(tmp_path, request, config_zone={"on_collision": "fail"}, before=before))
    assert_rejected(state, request, "collision", "already exists", existing=[mine, existing, existing.rsplit("/", 1)[0],
                                                                             existing.rsplit("/", 2)[0]])
    assert stored_bytes(state, mine) == b"my own"


# --- the archive ------------------------------------------------------------------------------


def test_data_that_is_not_a_tar(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, tar_bytes=b"this is not a tar archive\n" * 40)
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "not_a_tar", "data.tar")


def _tar(members):
    """A tar of (TarInfo, bytes or None) pairs, written as given (hostile archives)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def _member(name, content=None, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info, content


GOOD = [_member(path, content) for path, content in FILES.items()]
UNSAFE_MEMBERS = {
    "dot-dot": ([_member("run1/../../escape.tif", b"x")], "'..' component"),
    "absolute": ([_member("/etc/cron.d/evil", b"x")], "is absolute"),
    "symlink": ([_member("run1/link", kind=tarfile.SYMTYPE, linkname="/etc/passwd")], "symbolic link"),
    "hardlink": ([_member("run1/hard", kind=tarfile.LNKTYPE, linkname="run1/a.tif")], "hard link"),
    "device": ([_member("run1/dev", kind=tarfile.CHRTYPE)], "device"),
    "fifo": ([_member("run1/pipe", kind=tarfile.FIFOTYPE)], "fifo"),
    "duplicate": ([_member("run1/a.tif", b"A" * 1000)], "twice"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_unsafe_tar_members(tmp_path, run_scenario, case):
    extra, problem = UNSAFE_MEMBERS[case]
    request = Request(tmp_path, RID, FILES, tar_bytes=_tar(GOOD + extra))
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "unsafe_member", problem)
    assert not [p for p in paths(state) if p.endswith("escape.tif") or p.startswith("/etc")]


@pytest.mark.parametrize("limits, pointer", [({"members": 1}, "/manifest"),
                                             ({"member_bytes": 999}, "/manifest/0/size"),
                                             ({"expanded_bytes": 1499}, "/manifest")])
def test_limits_on_what_the_payload_declares(tmp_path, run_scenario, limits, pointer):
    request = Request(tmp_path, RID, FILES)
    state = run_scenario(reject_scenario(tmp_path, request, config={"limits": limits}))
    assert_rejected(state, request, "limit", pointer + ": ")


def test_limits_on_what_the_archive_holds_when_the_manifest_understates_it(tmp_path, run_scenario):
    # The manifest declares one small file; the archive also hides a large one.
    request = Request(tmp_path, RID, {"run1/a.tif": b"A"},
                      tar_bytes=_tar([_member("run1/a.tif", b"A"), _member("run1/big.tif", b"B" * 5000)]))
    state = run_scenario(reject_scenario(tmp_path, request, config={"limits": {"member_bytes": 4000}}))
    assert_rejected(state, request, "limit", "run1/big.tif", "5000 bytes")


def test_archive_size_other_than_declared(tmp_path, run_scenario):
    def claim_more(doc):
        doc["data"]["size"] += 512

    request = Request(tmp_path, RID, FILES, payload_edit=claim_more)
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "manifest_mismatch", "data.tar is")


def test_archive_with_a_file_the_manifest_does_not_list(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES, tar_bytes=build_tar(dict(FILES, **{"run1/extra.tif": b"E"})))
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "manifest_mismatch", "not in the manifest: run1/extra.tif")


def test_archive_sha256_is_provenance_and_a_changed_member_is_still_found(tmp_path, run_scenario):
    """The tar as a whole is not checksummed on the server (one read less per ingested byte):
    its declared sha256 is recorded, not checked. What it guarded is still guarded: a member
    whose bytes differ from the manifest (same size, same names) is found once extracted."""
    def wrong_sha(doc):
        doc["data"]["sha256"] = hashlib.sha256(b"something else").hexdigest()

    changed = build_tar({"run1/a.tif": b"Z" * 1000, "run1/b.tif": b"B" * 500})
    request = Request(tmp_path, RID, FILES, tar_bytes=changed, payload_edit=wrong_sha)
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "checksum_mismatch", "run1/a.tif")
    assert "data.tar" not in avus_of(state, record_of(state, RID))[names.AVU_ERROR]


def test_member_sha256_other_than_the_manifest_is_found_after_staging_and_cleaned(tmp_path, run_scenario):
    def wrong_member_sha(doc):
        doc["manifest"][0]["sha256"] = hashlib.sha256(b"not a.tif").hexdigest()

    request = Request(tmp_path, RID, FILES, payload_edit=wrong_member_sha)
    state = run_scenario(reject_scenario(tmp_path, request))
    assert_rejected(state, request, "checksum_mismatch", "run1/a.tif")


def test_data_named_by_the_payload_is_missing(tmp_path, run_scenario):
    request = Request(tmp_path, RID, FILES)
    steps = [step for step in request.steps("prc") if step.get("put", {}).get("to") != request.tar_path]
    state = run_scenario(reject_scenario(tmp_path, request, steps=steps))
    assert_rejected(state, request, "not_found", "data.tar", tar_uploaded=False)


def test_every_rejection_reason_is_reached_by_a_test_here():
    # `not_permitted` belongs to load requests (a source the user may not read): its own tests.
    from omero_irods.errors import REJECT_REASONS

    source = open(__file__, encoding="utf-8").read()
    untested = sorted(reason for reason in REJECT_REASONS - {"not_permitted"} if '"%s"' % reason not in source)
    assert untested == []



def test_a_zone_that_checksums_in_md5_rejects_with_the_setting_to_change(tmp_path, run_scenario):
    # irods/irods server/api/src/rsFileChksum.cpp: default_hash_scheme MD5 answers a bare MD5
    # digest; the payload names SHA-256, so no retry can succeed until the admin changes it
    request = Request(tmp_path, "20261122T101500Z-0000c0de", {"run1/a.tif": b"A" * 100})
    data = reject_scenario(tmp_path, request)
    data["server"] = {"default_hash_scheme": "MD5"}
    state = run_scenario(data)
    assert_rejected(state, request, "checksum_scheme", "an MD5 checksum", "set default_hash_scheme to SHA256")
    assert state["imports"] == []
    assert not [line for line in ours(state["log"]) if "retry in" in line]
