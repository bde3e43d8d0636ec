"""The member check is what stands between a hostile tar and the server's disk.

msiTarFileExtract unpacks with libarchive into `<tar's vault path>.dir` with no secure flags
(irods/irods plugins/resources/src/structfile.cpp extract_file), so a member that libarchive
reads as `../../../etc/irods/core.py` is written there as the iRODS user. The sandbox unpacks
with the same library the same way onto an emulated server disk (test_harness/sandbox/
tar_members.py). These tests show both sides: with the policy's check replaced by a
`tarfile`-based listing (the reader the policy used to trust), the hostile member overwrites the
emulated core.py and the sandbox logs it; with the real check, the request is rejected and
nothing is written.
"""

import io
import os
import tarfile

from pipeline_support import UNTIL_IDLE, LiveZone, Request, avus_of, base_scenario, record_of
from omero_irods import names
from omero_irods.archive import Member
from omero_irods_sandbox import hand_made_tar

RID = "20261202T101500Z-0000beef"
FILES = {"run1/a.tif": b"A" * 1000, "run1/c.tif": b"# attacker's core.py\n"}
EVIL = b"../" * 20 + b"etc/irods/core.py"


def hostile_tar():
    """run1/a.tif, then a member Python's tarfile names run1/c.tif (pax `path`, read last) and
    libarchive names EVIL (libarchive prefers GNU.sparse.name: archive_read_support_format_tar.c
    pax_header)."""
    pax = hand_made_tar.pax_record(b"GNU.sparse.name", EVIL) + hand_made_tar.pax_record(b"path", b"run1/c.tif")
    content = FILES["run1/c.tif"]
    return hand_made_tar.end_of_archive(hand_made_tar.header(b"run1/a.tif", b"0", 1000) + hand_made_tar.padded(FILES["run1/a.tif"])
                              + hand_made_tar.header(b"././@PaxHeader", b"x", len(pax)) + hand_made_tar.padded(pax)
                              + hand_made_tar.header(b"run1/c.tif", b"0", len(content)) + hand_made_tar.padded(content))


def tarfile_listing(reader, limits, what="archive"):
    """The check as it was: members as Python's tarfile reads them."""
    with tarfile.open(fileobj=io.BytesIO(reader.read()), mode="r:") as tar:
        return [Member(info.name, info.size, "file") for info in tar if info.isfile()]


def _run(tmp_path, check=None):
    """The hostile push, then the delay queue; `check` replaces the member check in every agent
    (each imports the policy afresh, as on a server)."""
    request = Request(tmp_path, RID, FILES, tar_bytes=hostile_tar())
    zone = LiveZone(tmp_path, base_scenario(tmp_path, request.steps("prc")))
    if check:
        def use_the_check():
            import omero_irods.pipeline

            omero_irods.pipeline.list_members = check

        zone.runtime.rules.agent_hooks.append(use_the_check)
    zone.step(UNTIL_IDLE)
    state = zone.state()
    core_py = tmp_path / "work" / "zone" / "server_root" / "etc" / "irods" / "core.py"
    return request, state, core_py.read_bytes()


def test_the_tarfile_reading_is_really_fooled():
    assert [m.path for m in tarfile_listing(io.BytesIO(hostile_tar()), None)] == ["run1/a.tif", "run1/c.tif"]


def test_without_the_check_the_hostile_member_overwrites_the_emulated_core_py(tmp_path):
    request, state, core_py = _run(tmp_path, tarfile_listing)
    assert core_py == FILES["run1/c.tif"]
    errors = [line for line in state["log"] if line.startswith("ERROR") and "/etc/irods/core.py" in line]
    assert errors and "outside its extraction folder" in errors[0]
    # The pipeline itself notices the missing member afterwards, but the write has happened.
    assert avus_of(state, record_of(state, RID))[names.AVU_STATE] != names.IMPORTED


def test_with_the_check_the_request_is_rejected_and_nothing_is_written(tmp_path):
    request, state, core_py = _run(tmp_path)
    avus = avus_of(state, record_of(state, RID))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert avus[names.AVU_ERROR].startswith("rejected (unsafe_member): ") and "GNU.sparse.name" in avus[names.AVU_ERROR]
    assert core_py != FILES["run1/c.tif"] and b"stand-in" in core_py
    assert not [line for line in state["log"] if line.startswith("ERROR") and "extraction folder" in line]
    assert not os.path.exists(tmp_path / "work" / "zone" / "server_root" / "var" / "lib" / "irods" / "etc")
