"""The zone adapter's reader over msiDataObjRead/msiDataObjLseek, against the emulated plugin
(which converts arguments as the real one: test_prep_conversions.py).

It must pass offsets as strings (an int from 2**31 on raises OverflowError in the plugin:
irods/irods_rule_engine_plugin_python include/irods/private/re/python.hpp; msiDataObjLseek reads
a string with strtoll: irods/irods server/re/src/reDataObjOpr.cpp), keep its position itself
(tell() costs no microservice call), and take the None a read answers at the end (python.hpp
object_from_msParam) as the end.
"""

import io
import sys

import pytest

from omero_irods.adapters import prep_zone
from omero_irods_sandbox.prep import irods_types
from omero_irods_sandbox.prep.callback import Callback
from omero_irods_sandbox.prep.runtime import PrepRuntime

PATH = "/tempZone/home/alice/a.dat"
DATA = bytes(range(256)) * 40  # 10240 bytes


class RecordingZone(object):
    """What _MsiReader needs of PrepZone (`_msi`), over the emulated callback, recording calls."""

    def __init__(self, callback):
        self.callback, self.calls = callback, []

    def _msi(self, name, *args):
        self.calls.append((name, args))
        return getattr(self.callback, name)(*args)["arguments"]


@pytest.fixture
def reader_zone(zone, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "irods_types", irods_types)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "core.py").write_text("")
    runtime = PrepRuntime(zone, etc, log=[])
    zone.put("alice", PATH, DATA)
    return RecordingZone(Callback(runtime, runtime.make_rei("alice")))


def _open(reader_zone):
    descriptor = reader_zone._msi("msiDataObjOpen", "objPath=%s++++openFlags=O_RDONLY" % PATH, 0)[1]
    return prep_zone._MsiReader(reader_zone, descriptor)


def test_seeks_pass_string_offsets_and_tell_costs_no_call(reader_zone):
    reader = _open(reader_zone)
    buffer = bytearray(100)
    assert reader.readinto(buffer) == 100 and bytes(buffer) == DATA[:100]
    before = len(reader_zone.calls)
    assert reader.tell() == 100 and reader.seek(0, io.SEEK_CUR) == 100 and reader.seek(100) == 100
    assert len(reader_zone.calls) == before
    assert reader.seek(5000) == 5000 and reader.seek(-240, io.SEEK_END) == len(DATA) - 240
    assert reader.seek(10, io.SEEK_CUR) == len(DATA) - 230
    seeks = [args for name, args in reader_zone.calls if name == "msiDataObjLseek"]
    assert seeks == [(reader._descriptor, "5000", "SEEK_SET", 0), (reader._descriptor, "-240", "SEEK_END", 0),
                     (reader._descriptor, str(len(DATA) - 230), "SEEK_SET", 0)]
    reader.close()


def test_a_seek_past_the_end_lands_where_the_server_says(reader_zone):
    reader = _open(reader_zone)
    assert reader.seek(3 * (1 << 31)) == len(DATA)  # clamped to the size on a read-only descriptor
    assert reader.tell() == len(DATA) and reader.readinto(bytearray(10)) == 0
    reader.close()


def test_the_buffered_reader_reads_everything_in_few_large_calls(reader_zone):
    with io.BufferedReader(_open(reader_zone), buffer_size=prep_zone.READ_CHUNK) as buffered:
        assert buffered.read() == DATA
        assert buffered.read() == b""
    reads = [args for name, args in reader_zone.calls if name == "msiDataObjRead"]
    assert len(reads) <= 3 and all(args[1] <= prep_zone.READ_CHUNK for args in reads)
    assert reader_zone.calls[-1][0] == "msiDataObjClose"


class _AdapterOver(prep_zone.PrepZone):
    """PrepZone's reading methods over the recording zone (no session needed for them)."""

    def __init__(self, recording):
        self.recording, self.bytes_read = recording, 0

    def _msi(self, name, *args):
        answer = self.recording._msi(name, *args)
        if name == "msiDataObjRead" and answer[2] is not None:
            self.bytes_read += answer[2].len
        return answer


def test_the_member_walk_sizes_its_own_reads_through_the_zone_reader(reader_zone, zone):
    # Server bytes read per ingested byte: between large members the walk asks for a header's
    # worth; a buffering layer under it would turn each ask into READ_CHUNK of member data.
    import tarfile

    from omero_irods.archive import READ_SIZE, ArchiveLimits, list_members

    buffer = io.BytesIO()
    count, size = 8, 2 * READ_SIZE
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index in range(count):
            info = tarfile.TarInfo("run1/f%d.bin" % index)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    tar_path = "/tempZone/home/alice/run1.tar"
    zone.put("alice", tar_path, buffer.getvalue())
    limits = ArchiveLimits(max_members=100, max_member_bytes=1 << 30, max_expanded_bytes=1 << 40,
                           max_path_length=1024, max_name_length=255)
    adapter = _AdapterOver(reader_zone)
    with adapter.open_reader(tar_path) as reader:
        assert len(list_members(reader, limits)) == count
    assert adapter.bytes_read <= READ_SIZE + count * (32 << 10)


def test_reading_a_whole_object_larger_than_a_read_still_returns_all_of_it(reader_zone, zone):
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: three msiDataObjRead calls at least
    zone.put("alice", "/tempZone/home/alice/big.dat", data)
    assert _AdapterOver(reader_zone).read("/tempZone/home/alice/big.dat", len(data)) == data
