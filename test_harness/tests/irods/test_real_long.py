"""Long and large runs on the real zone (`make test-irods-long` only): a tar over 2 GiB and
a run of 100k files, each pushed with `omero-irods push` and followed to `imported`."""

import pytest

from realzone import kit
from realzone.tier import Tier

#: A guard, not a target: on the kit's -O0 server a 100k-member tar registers ~300 members per
#: CPU-second of its agent, and the agent gets a fraction of a core when the machine is shared.
LONG_TIMEOUT = 3 * 3600


@pytest.fixture(scope="module")
def tier(request, tier_setup):
    """A zone of its own without the PEP trace: msiTarFileExtract fires acSetVaultPathPolicy
    and acPostProcForTarFileReg for every member, and a traced PEP writes a log line each time
    (two per member), which a deployment does not do. Stopped by pid at the end."""
    kit_path, base, python_dir = tier_setup
    started = Tier.start(kit_path, base, kit.pick_port(), python_dir, name="long-zone", trace=False)
    request.addfinalizer(started.zone.stop)
    return started


@pytest.mark.irods_long
def test_tar_over_2_gib_is_placed_and_imported(tier, tmp_path):
    folder = tmp_path / "run-2g"
    folder.mkdir()
    with open(folder / "big.raw", "wb") as handle:  # sparse: 2 GiB + 1 MiB of zeros, cheap on disk
        handle.truncate((2 << 30) + (1 << 20))
    (folder / "after.tif").write_bytes(b"a member after the 2 GiB offset\n")
    status = tier.wait_final(tier.push(folder)["request_id"], timeout=LONG_TIMEOUT)
    assert status["state"] == "imported", status
    placed = tier.data_objects_under(status["destination"])
    assert sorted(int(size) for size, _c, _p in placed.values()) == [32, (2 << 30) + (1 << 20)]


@pytest.mark.irods_long
def test_100k_member_run_is_placed_and_imported(tier, tmp_path):
    folder = tmp_path / "run-100k"
    for index in range(100000):
        sub = folder / ("d%03d" % (index // 1000))
        if index % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / ("f%05d.tif" % index)).write_bytes(b"%d\n" % index)
    status = tier.wait_final(tier.push(folder)["request_id"], timeout=LONG_TIMEOUT)
    assert status["state"] == "imported", status
    assert len(tier.data_objects_under(status["destination"])) == 100000
