"""Issue 9's server behaviours on a real iRODS 5.0.2 zone, each beside its sandbox twin.

- Checksum schemes (irods/irods server/api/src/rsFileChksum.cpp, rsDataObjChksum.cpp,
  lib/core/src/putUtil.cpp): a tar uploaded with `iput -K` from an MD5 client carries an MD5
  checksum (match_hash_policy "compatible"); the policy's forced checksum recomputes it in
  SHA-256 and the request is imported. A zone whose server_config.json says
  default_hash_scheme MD5 checksums in MD5 (the server's own irods_environment.json does not
  count): `omero-irods admin enable-rule-engine` refuses it and a request ends
  `rejected (checksum_scheme)`. Sandbox: tests/pipeline/test_checksum_schemes.py,
  test_rejections.py (md5 zone), tests/sandbox/test_concurrency_and_versions.py.
- The two-step rename (server/api/src/rsDataObjRename.cpp): a sibling with the new name in the
  SOURCE collection fails a rename to a free destination; the pipeline refuses a target named
  like a claim beside its staging collection. Sandbox: test_concurrency_and_versions.py
  (rename), tests/pipeline/test_target_names.py.
- Reads past 2 GiB through the plugin (irods_rule_engine_plugin_python python.hpp extract<int>,
  irods/irods server/re/src/reDataObjOpr.cpp msiDataObjLseek's strtoll): `_MsiReader`'s string
  offsets read the right bytes past 2**31, the int form raises OverflowError, and the tar walk
  finds the member after 2 GiB. A sparse tar is registered with ireg (nothing uploaded), so
  this runs in the quick tier. Sandbox: tests/pipeline/test_plugin_conversions.py,
  test_large_tar.py.

Where a sandbox twin exists, the same case also runs here in the sandbox and the outcomes are
compared, so a sandbox that drifts from the real zone fails this tier.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from realzone import install, kit, requests
from realzone.install import SERVICE_ACCOUNT
from realzone.tier import Tier
from realzone.zone import ADMIN, PYTHON_INSTANCE, ZONE

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))  # pipeline_support: the sandbox twins

ALICE_ROOT = "/%s/home/alice/omero" % ZONE
MEMBERS = {"a.tif": b"A" * 1000, "b.tif": b"B" * 500}


def sha2(data):
    return "sha2:" + base64.b64encode(hashlib.sha256(data).digest()).decode()


# ---- the sandbox twin of a hand-made request --------------------------------------------------

def sandbox_outcome(folder, request_id, members, tar_client="prc", verify_checksum=None, target_name=None,
                    server=None):
    """(state, error or None, placed relative paths) of the same request in the sandbox."""
    import pipeline_support as support
    from omero_irods import names

    folder.mkdir(parents=True, exist_ok=True)
    request = support.Request(folder, request_id, members, target_name=target_name)
    mkdir, put_tar, put_payload = request.steps("prc")
    put_tar = {"put": dict(put_tar["put"], client=tar_client)}
    if verify_checksum:
        put_tar["put"]["verify_checksum"] = verify_checksum
    data = support.base_scenario(folder, [mkdir, put_tar, put_payload, support.DRAIN_FAILURES])
    if server:
        data["server"] = server
    state = support.LiveZone(folder, data).state()
    avus = support.avus_of(state, support.record_of(state, request_id))
    destination = avus.get(names.AVU_DESTINATION)
    placed = sorted(p[len(destination) + 1:] for p in support.under(state, destination)) if destination else []
    return avus[names.AVU_STATE], avus.get(names.AVU_ERROR), placed


def push_by_hand(tier, tmp_path, request_id, members, tar_environment=None, target_name=None):
    """The landing collection, the tar (with `iput -K` from `tar_environment` if given, else
    python-irodsclient) and the payload last, as the service account."""
    tar_bytes = requests.build_tar(members)
    collection, data_path, payload_path = requests.landing_paths(request_id)
    local_tar = requests.write_local(tmp_path, "run.tar", tar_bytes)
    payload = requests.payload_for(request_id, tar_bytes, members, target_name=target_name)
    local_payload = requests.write_local(tmp_path, "payload.json", payload)
    zone = tier.zone
    zone.icommand(SERVICE_ACCOUNT, "imkdir", collection)
    if tar_environment:
        environ = dict(zone.client_environ(SERVICE_ACCOUNT), IRODS_ENVIRONMENT_FILE=tar_environment)
        subprocess.run([os.path.join(zone.root, "bin", "iput"), "-K", local_tar, data_path], env=environ,
                       check=True, capture_output=True, timeout=120)
    else:
        with zone.session(SERVICE_ACCOUNT) as session:
            session.data_objects.put(local_tar, data_path)
    checksum_on_upload = catalog_checksum(tier, data_path)
    with zone.session(SERVICE_ACCOUNT) as session:
        session.data_objects.put(local_payload, payload_path)
    return tar_bytes, data_path, checksum_on_upload


def catalog_checksum(tier, path):
    collection, name = path.rsplit("/", 1)
    (found,) = [checksum for logical, (_s, checksum, _p) in tier.data_objects_under(collection).items()
                if logical == path]
    return found


def relative_placed(tier, destination):
    return sorted(path[len(destination) + 1:] for path in tier.data_objects_under(destination))


# ---- checksum schemes ------------------------------------------------------------------------

def md5_client_environment(zone, folder):
    """The service account's environment with irods_default_hash_scheme MD5."""
    with open(zone.env_file(SERVICE_ACCOUNT)) as handle:
        environment = json.load(handle)
    environment["irods_default_hash_scheme"] = "MD5"
    path = os.path.join(str(folder), "md5_irods_environment.json")
    with open(path, "w") as handle:
        json.dump(environment, handle)
    return path


def test_a_tar_uploaded_with_an_md5_checksum_is_verified_in_sha256_and_imported(tier, tmp_path):
    request_id = requests.new_request_id()
    members = {"run-md5/" + name: data for name, data in MEMBERS.items()}
    tar_bytes, _data_path, uploaded = push_by_hand(tier, tmp_path, request_id, members,
                                                   tar_environment=md5_client_environment(tier.zone, tmp_path))
    # the server kept the client's MD5 (compatible policy): the case the pipeline must handle
    assert uploaded == hashlib.md5(tar_bytes).hexdigest()
    status = tier.wait_final(request_id)
    assert status["state"] == "imported", status
    placed = tier.data_objects_under(status["destination"])
    assert {path.rsplit("/", 1)[1]: checksum for path, (_s, checksum, _p) in placed.items()} == \
        {name: sha2(data) for name, data in MEMBERS.items()}
    sandbox = sandbox_outcome(tmp_path / "sandbox", request_id, members, tar_client="iput", verify_checksum="MD5")
    assert sandbox == ("imported", None, relative_placed(tier, status["destination"]))


@pytest.fixture(scope="module")
def md5_tier(request, tier_setup):
    """A zone of its own whose server_config.json says default_hash_scheme MD5 (restarted to
    read it), so the shared zone's other tests are not disturbed; stopped by pid at the end."""
    kit_path, base, python_dir = tier_setup
    started = Tier.start(kit_path, base, kit.pick_port(), python_dir, name="md5-zone")
    request.addfinalizer(started.zone.stop)
    started.zone.edit_server_config(lambda config: config.update(default_hash_scheme="MD5"))
    started.zone.restart()
    return started


def test_a_zone_checksumming_in_md5_is_refused_at_install_and_rejects_requests(md5_tier, tmp_path):
    zone = md5_tier.zone
    # 5.0.2 reads the scheme from server_config.json: the server's own client environment
    # still says SHA256, yet a new checksum is MD5
    with open(os.path.join(zone.workdir, "home", ".irods", "irods_environment.json")) as handle:
        assert json.load(handle)["irods_default_hash_scheme"] == "SHA256"
    local = requests.write_local(tmp_path, "probe.txt", b"probe\n")
    zone.icommand(ADMIN, "iput", "-k", local, "/%s/home/rods/probe.txt" % ZONE)
    assert catalog_checksum(md5_tier, "/%s/home/rods/probe.txt" % ZONE) == hashlib.md5(b"probe\n").hexdigest()

    with open(zone.server_config_path, "rb") as handle:
        before = handle.read()
    refused = subprocess.run(install.omero_irods_command() + ["admin", "enable-rule-engine", "--server-config",
                                                               zone.server_config_path],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "default_hash_scheme is 'MD5'" in refused.stderr and "nothing was changed" in refused.stderr
    with open(zone.server_config_path, "rb") as handle:
        assert handle.read() == before

    request_id = requests.new_request_id()
    members = {"run-md5zone/" + name: data for name, data in MEMBERS.items()}
    push_by_hand(md5_tier, tmp_path, request_id, members)
    status = md5_tier.wait_final(request_id)
    assert status["state"] == "rejected", status
    assert status["error"].startswith("rejected (checksum_scheme): ")
    assert "an MD5 checksum" in status["error"] and "set default_hash_scheme to SHA256" in status["error"]
    assert md5_tier.imports() == []
    sandbox_state, sandbox_error, _placed = sandbox_outcome(tmp_path / "sandbox", request_id, members,
                                                            server={"default_hash_scheme": "MD5"})
    assert (sandbox_state, sandbox_error.split(":")[0]) == ("rejected", "rejected (checksum_scheme)")


# ---- the two-step rename ---------------------------------------------------------------------

def test_a_rename_clashes_with_a_sibling_in_the_source_collection(tier, tmp_path):
    from omero_irods_sandbox.catalog import Zone
    from omero_irods_sandbox.error_codes import IrodsError

    zone = tier.zone
    home = "/%s/home/alice/rename-clash" % ZONE
    local = requests.write_local(tmp_path, "x", b"x")
    for folder in ("src", "dst", "src/c", "src/d"):
        zone.icommand("alice", "imkdir", "-p", home + "/" + folder)
    for name in ("a", "b"):
        zone.icommand("alice", "iput", local, home + "/src/" + name)
    real = {}
    for source, target in (("src/a", "dst/b"), ("src/c", "dst/d")):
        moved = zone.icommand("alice", "imv", home + "/" + source, home + "/" + target, check=False)
        assert moved.returncode != 0
        real[source] = [word for word in moved.stderr.split() if word.startswith("CAT_NAME_EXISTS")][-1]
    assert real == {"src/a": "CAT_NAME_EXISTS_AS_DATAOBJ", "src/c": "CAT_NAME_EXISTS_AS_COLLECTION"}
    assert not tier.exists(home + "/dst/b") and not tier.exists(home + "/dst/d")
    assert tier.exists(home + "/src/a") and tier.exists(home + "/src/c")

    sandbox = Zone(ZONE, tmp_path / "sandbox")
    sandbox.add_user("alice")
    for folder in ("src", "dst", "src/c", "src/d"):
        sandbox.create_collection("alice", home + "/" + folder, parents=True)
    for name in ("a", "b"):
        sandbox.put("alice", home + "/src/" + name, b"x")
    emulated = {}
    for source, target in (("src/a", "dst/b"), ("src/c", "dst/d")):
        with pytest.raises(IrodsError) as caught:
            sandbox.rename("alice", home + "/" + source, home + "/" + target)
        emulated[source] = caught.value.name
    assert emulated == real


def test_a_target_named_like_a_claim_beside_the_staging_is_refused_not_renamed(tier, tmp_path):
    """The staging collection `<record>/staging-1` cannot be renamed to `.../attempt-1`: the
    attempt's claim `<record>/attempt-1` is its sibling (the destination is free)."""
    request_id = requests.new_request_id()
    push_by_hand(tier, tmp_path, request_id, MEMBERS, target_name="attempt-1")
    status = tier.wait_final(request_id)
    assert status["state"] == "rejected", status
    assert status["error"].startswith("rejected (collision): ") and "another target name" in status["error"]
    assert not [path for path in tier.data_objects_under(ALICE_ROOT) if "/attempt-1/" in path]
    assert not [call for call in tier.imports() if "/attempt-1" in " ".join(call["argv"])]
    sandbox_state, sandbox_error, _placed = sandbox_outcome(tmp_path / "sandbox", request_id, MEMBERS,
                                                            target_name="attempt-1")
    assert sandbox_state == "rejected" and sandbox_error.startswith("rejected (collision): ")
    assert "another target name" in sandbox_error


# ---- reads past 2 GiB through the plugin -------------------------------------------------------

BIG = (1 << 31) + (1 << 20)  # the member after it starts past 2**31
BOUNDARY_MARK = b"<across 2**31!>"  # written into the big member's data around offset 2**31
AFTER = b"the member after 2 GiB\n"

READ_RULE = r'''
def main(rule_args, callback, rei):
    import io, json
    from omero_irods.adapters.prep_zone import PrepZone
    from omero_irods.archive import list_members
    from omero_irods.config import load_config

    path, boundary, after_offset, after_length = %(arguments)s
    zone = PrepZone(callback, rei)
    answer = {}
    with zone.open_reader(path) as reader:
        reader.seek(boundary)
        answer["boundary"] = reader.read(16).hex()
        reader.seek(after_offset)
        answer["after"] = reader.read(after_length).hex()
        answer["end"] = reader.seek(-1024, io.SEEK_END)
    with zone.open_reader(path) as reader:
        answer["members"] = [list(member) for member in list_members(reader, load_config().archive_limits)]
    descriptor = callback.msiDataObjOpen("objPath=%%s++++openFlags=O_RDONLY" %% path, 0)["arguments"][1]
    try:
        callback.msiDataObjLseek(descriptor, after_offset, "SEEK_SET", 0)  # an int past 2**31
        answer["int_offset"] = "accepted"
    except Exception as error:
        answer["int_offset"] = type(error).__name__
    finally:
        callback.msiDataObjClose(descriptor, 0)
    callback.writeLine("stdout", json.dumps(answer))
INPUT null
OUTPUT ruleExecOut
'''


def write_sparse_tar(path):
    """A ustar tar of run-big/big.raw (BIG bytes, zeros but for BOUNDARY_MARK around 2**31)
    and run-big/after.tif (AFTER), written sparse: a few KiB on disk. Returns the offsets
    (boundary read, the after member's data) and the file's size."""
    def header(name, size):
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, 1700000000, 0o644
        return info.tobuf(format=tarfile.USTAR_FORMAT)

    boundary = (1 << 31) - len(BOUNDARY_MARK) // 2
    after_header = 512 + BIG
    after_data = after_header + 512
    end = after_data + 512 + 1024
    with open(path, "wb") as handle:
        handle.write(header("run-big/big.raw", BIG))
        handle.seek(boundary)
        handle.write(BOUNDARY_MARK)
        handle.seek(after_header)
        handle.write(header("run-big/after.tif", len(AFTER)) + AFTER)
        handle.truncate(end)  # the padding and the two zero blocks read as zeros
    return boundary, after_data, end


def test_reads_past_2_gib_through_the_plugin(tier, tmp_path):
    zone = tier.zone
    folder = os.path.join(zone.workdir, "sparse-2g")
    os.makedirs(folder, exist_ok=True)
    shutil.chown(folder, "irods", "irods")
    physical = os.path.join(folder, "big.tar")
    logical = "/%s/home/rods/big-2g.tar" % ZONE
    boundary, after_data, size = write_sparse_tar(physical)
    shutil.chown(physical, "irods", "irods")
    assert os.stat(physical).st_blocks * 512 < (1 << 20)  # sparse: nothing like 2 GiB on disk
    zone.icommand(ADMIN, "ireg", physical, logical)
    try:
        rule = os.path.join(str(tmp_path), "read_2g.r")
        with open(rule, "w") as handle:
            handle.write(READ_RULE % {"arguments": repr([logical, boundary, after_data, len(AFTER)])})
        result = zone.icommand(ADMIN, "irule", "-r", PYTHON_INSTANCE, "-F", rule, timeout=600)
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        zone.icommand(ADMIN, "iunreg", logical, check=False)  # the file stays for the check below
    with open(physical, "rb") as handle:
        handle.seek(boundary)
        on_disk = handle.read(16)
    assert bytes.fromhex(answer["boundary"]) == on_disk and BOUNDARY_MARK in on_disk
    assert bytes.fromhex(answer["after"]) == AFTER
    assert answer["end"] == size - 1024
    assert answer["members"] == [["run-big/big.raw", BIG, "file"], ["run-big/after.tif", len(AFTER), "file"]]
    assert after_data >= 1 << 31 and answer["int_offset"] == "OverflowError"
    os.remove(physical)
