"""Red-team cases on the landing zone: what a user an admin let write there can do to
someone else's pending request.

The pipeline authorises a landing payload by its owner (the service account). In iRODS the
owner of a data object stays its creator when someone else with `own` overwrites it
(checked on iRODS 5.0.2: `iput -f` by such a user replaces the bytes, `ils -l` still names the
creator), so "owned by the service account" does not prove that the service account wrote
the bytes. The member check and msiTarFileExtract read the tar twice: whoever may write it in
between decides what libarchive writes on the server's disk.
"""

import json

import pytest

from pipeline_support import SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, record_of, under
from omero_irods import names
from omero_irods.archive import list_members as real_list_members
from test_archive_extraction import FILES as TAR_FILES, hostile_tar

FILES = {"run1/a.tif": b"A" * 100, "run1/b.tif": b"B" * 50}
RID_SWAP = "20261202T110000Z-0000r002"
BOB_ROOT = "/tempZone/home/bob/omero"
USERS = [{"name": SERVICE, "type": "rodsuser"},
         {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
         {"name": "bob", "type": "rodsuser", "groups": ["lab"]}]


def _scenario(tmp_path, steps):
    data = base_scenario(tmp_path, steps, users=USERS, mapped_users={"alice": "alice", "bob": "bob"})
    data["provision"] = ["alice", "bob"]
    return data


def _forged_payload(request, **changes):
    document = json.loads(request.payload_bytes.decode("utf-8"))
    document["omero"].update(changes)
    return json.dumps(document).encode("utf-8")


@pytest.mark.xfail(strict=True, reason=(
    "hole: a user with write on a landing payload owned by the service account (an admin let "
    "them write in the landing zone, e.g. inheritance on) rewrites its content; the owner stays "
    "the service account, so the rewritten request is placed and imported for whoever the "
    "rewrite names. Closing it needs an integrity mark the co-writer cannot make (e.g. an HMAC "
    "of the payload with a key only the OMERO side and the server hold) or a landing zone the "
    "pipeline refuses to use while anyone but the service account may write in it"))
def test_a_landing_co_writer_cannot_redirect_someone_elses_request(tmp_path, live_zone):
    request = Request(tmp_path, "20261202T110000Z-0000r001", FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    # The careless admin's landing zone: bob may write alice's pending payload.
    zone.catalog.set_acl(SERVICE, request.payload_path, "own", "bob")
    forged = _forged_payload(request, user="bob")
    zone.catalog.put("bob", request.payload_path, forged, force=True)
    assert zone.catalog.data_object(request.payload_path).owner == SERVICE
    zone.step(UNTIL_IDLE)
    state = zone.state()
    # alice's data must never land in bob's root nor be imported as bob
    assert under(state, BOB_ROOT) == []
    assert all("bob" not in " ".join(run["argv"]) for run in state["imports"])


def test_a_landing_co_writer_cannot_swap_the_tar_between_its_check_and_its_extraction(tmp_path, live_zone):
    """The member check reads the tar, then msiTarFileExtract reads it again: whoever may still
    write it in between decides what libarchive writes on the server's disk."""
    request = Request(tmp_path, RID_SWAP, TAR_FILES, target_name="run1")
    zone = live_zone(_scenario(tmp_path, request.steps()))
    zone.catalog.set_acl(SERVICE, request.tar_path, "own", "bob")  # the careless admin's landing zone
    swaps = []

    def check_then_swap(reader, limits, what="archive"):
        members = real_list_members(reader, limits, what)  # the check passes on the honest tar
        try:  # bob, polling, rewrites it at once
            zone.catalog.put("bob", request.tar_path, hostile_tar(), force=True)
            swaps.append("swapped")
        except Exception as refused:  # the catalog's refusal: bob may no longer write it
            swaps.append("refused: %s" % refused)
        return members

    def patch_the_agents_pipeline():  # each agent imports the policy afresh, as on a server
        import omero_irods.pipeline

        omero_irods.pipeline.list_members = check_then_swap

    zone.runtime.rules.agent_hooks.append(patch_the_agents_pipeline)
    zone.step(UNTIL_IDLE)
    state = zone.state()
    core_py = tmp_path / "work" / "zone" / "server_root" / "etc" / "irods" / "core.py"
    assert core_py.read_bytes() != TAR_FILES["run1/c.tif"], swaps
    assert not [line for line in state["log"] if line.startswith("ERROR") and "extraction folder" in line]
    assert swaps and all(swap.startswith("refused") for swap in swaps), swaps
    assert avus_of(state, record_of(state, RID_SWAP))[names.AVU_STATE] == names.IMPORTED
