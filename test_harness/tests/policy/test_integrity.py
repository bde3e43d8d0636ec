"""The integrity mark (omero_irods.integrity): an HMAC-SHA256 of the payload's exact bytes
with the zone's key (RFC 2104, Python's hmac), checked with a constant-time comparison; the
key file is private like every credentials file."""

import hashlib
import hmac
import os

import pytest

from omero_irods import integrity
from omero_irods.errors import Rejected

KEY = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
PAYLOAD = b'{"request_id": "20261202T110000Z-0000m001", "omero": {"user": "alice"}}'


def test_the_mark_is_the_hmac_of_the_versioned_payload_bytes():
    mark = integrity.make_mark(KEY, PAYLOAD)
    expected = hmac.new(KEY, b"omero-irods-mark-v1\n" + PAYLOAD, hashlib.sha256).hexdigest()
    assert mark == b"omero-irods-mark-v1 hmac-sha256 " + expected.encode() + b"\n"
    integrity.check_mark(KEY, PAYLOAD, mark)


@pytest.mark.parametrize("mark", [
    b"omero-irods-mark-v1 hmac-sha256 " + b"0" * 64 + b"\n",  # forged
    b"omero-irods-mark-v1 hmac-sha256 " + hmac.new(b"x" * 32, PAYLOAD, hashlib.sha256).hexdigest().encode(),  # other key
    b"omero-irods-mark-v1 hmac-sha512 " + b"0" * 64,  # another scheme
    b"", b"garbage", b"omero-irods-mark-v1 hmac-sha256 " + b"a" * 300,
], ids=["forged", "other-key", "scheme", "empty", "garbage", "too-long"])
def test_a_mark_the_key_did_not_make_is_rejected(mark):
    with pytest.raises(Rejected) as caught:
        integrity.check_mark(KEY, PAYLOAD, mark)
    assert caught.value.reason == "not_permitted"


def test_a_mark_over_a_different_payload_is_rejected():
    honest = integrity.make_mark(KEY, PAYLOAD)
    for changed in (PAYLOAD.replace(b"alice", b"bob"), PAYLOAD + b" ", PAYLOAD[:-1]):
        with pytest.raises(Rejected, match="does not match its content"):
            integrity.check_mark(KEY, changed, honest)


def test_a_missing_mark_is_rejected_with_what_is_missing():
    with pytest.raises(Rejected, match="has no integrity mark") as caught:
        integrity.check_mark(KEY, PAYLOAD, None)
    assert caught.value.reason == "not_permitted"


def _key_file(tmp_path, content=KEY, mode=0o600):
    path = tmp_path / "mark.key"
    path.write_bytes(content + b"\n")
    os.chmod(str(path), mode)
    return str(path)


def test_a_private_key_file_is_read_without_its_newline(tmp_path):
    assert integrity.read_key(_key_file(tmp_path)) == KEY
    assert integrity.read_key(_key_file(tmp_path, mode=0o400)) == KEY


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_key_file_others_may_read_is_refused_and_its_content_never_shown(tmp_path, mode):
    path = _key_file(tmp_path, mode=mode)
    with pytest.raises(integrity.KeyFileError) as caught:
        integrity.read_key(path)
    message = str(caught.value)
    assert "has mode %04o" % mode in message and "chmod 600 %s" % path in message
    assert KEY.decode() not in message


def test_a_short_missing_or_linked_key_file_is_refused(tmp_path):
    with pytest.raises(integrity.KeyFileError, match="32 to 4096 bytes"):
        integrity.read_key(_key_file(tmp_path, content=b"short"))
    with pytest.raises(integrity.KeyFileError, match="cannot be read"):
        integrity.read_key(str(tmp_path / "absent.key"))
    link = tmp_path / "link.key"
    link.symlink_to(_key_file(tmp_path))
    with pytest.raises(integrity.KeyFileError, match="cannot be read"):  # O_NOFOLLOW
        integrity.read_key(str(link))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file another owner")
def test_a_key_file_of_another_account_is_refused(tmp_path):
    path = _key_file(tmp_path)
    os.chown(path, 12345, -1)
    with pytest.raises(integrity.KeyFileError, match="belongs to uid 12345"):
        integrity.read_key(path)
