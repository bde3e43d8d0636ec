"""Error types and the admin's limits applied to a payload's declarations."""

import hashlib

import pytest

from omero_irods.config import Limits, check_payload_limits
from omero_irods.errors import ConfigError, Rejected, Transient
from omero_irods.manifest import ManifestEntry
from omero_irods.payload import DataRef, make_payload

SHA = hashlib.sha256(b"").hexdigest()
LIMITS = Limits(payload_bytes=1 << 20, archive_bytes=10000, members=2, member_bytes=1000,
                expanded_bytes=1500, path_length=20, name_length=255)


def ingest(entries, archive_size=2048):
    return make_payload("ingest", "20261122T101500Z-6f1c2a9e", "alice", "lab",
                        data=DataRef("tar", "run1.tar", archive_size, SHA, len(entries)),
                        manifest=[ManifestEntry(path, size, SHA) for path, size in entries])


def limit_error(payload):
    with pytest.raises(Rejected) as caught:
        check_payload_limits(payload, LIMITS)
    assert caught.value.reason == "limit"
    return caught.value


def test_payload_within_limits_passes():
    check_payload_limits(ingest([("a", 700), ("b", 700)]), LIMITS)


@pytest.mark.parametrize("entries, archive_size, pointer", [
    ([("a", 1)], 10001, "/data/size"),
    ([("a", 1), ("b", 1), ("c", 1)], 2048, "/manifest"),
    ([("a", 1001)], 2048, "/manifest/0/size"),
    ([("a", 1), ("b" * 21, 1)], 2048, "/manifest/1/path"),
    ([("a", 800), ("b", 800)], 2048, "/manifest"),
])
def test_each_limit_names_the_field(entries, archive_size, pointer):
    error = limit_error(ingest(entries, archive_size))
    assert error.pointer == pointer and "the limit is" in error.message


def test_rejected_refuses_unknown_reasons():
    with pytest.raises(ValueError):
        Rejected("because", "no")


def test_summary_fits_an_avu_and_names_the_reason():
    error = Rejected("schema", "x" * 5000, pointer="/a")
    assert error.summary().startswith("rejected (schema): ")
    assert len(error.summary()) < 1100
    assert Transient("catalog busy").summary() == "catalog busy"


def test_config_error_names_file_and_pointer():
    error = ConfigError("/etc/irods/omero_irods.json", "/zones/tempZone", "is wrong")
    assert error.message == "/etc/irods/omero_irods.json at /zones/tempZone: is wrong"
