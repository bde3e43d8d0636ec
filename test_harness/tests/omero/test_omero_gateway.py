"""adapters/omero_gateway.py: what a snapshot is made of, read from OMERO without staging."""

import sys
import types

import pytest

from fake_gateway import FakeGateway, FakeOriginalFile
from omero_irods.adapters import omero_gateway
from omero_irods.adapters.omero_gateway import OmeroError

pytestmark = pytest.mark.omero


def test_the_user_and_group_come_from_the_session():
    assert omero_gateway.session_identity(FakeGateway(user="bob", group="imaging")) == ("bob", "imaging")


@pytest.mark.parametrize("host, expected", [("omero.example.org", "omero.example.org"),
                                            ("10.0.0.7", "10.0.0.7"), ("::1", None), ("", None)])
def test_server_host_is_kept_only_when_the_payload_schema_accepts_it(host, expected):
    assert omero_gateway.server_host(FakeGateway(host=host)) == expected


@pytest.mark.parametrize("kind", ["Project", "Dataset", "Image", "Screen", "Plate"])
def test_fileset_ids_run_one_query_per_object_in_the_session_group(kind):
    conn = FakeGateway(images={(kind, 7): [(1, 11), (2, 11), (3, 12)]})
    assert omero_gateway.fileset_ids(conn, ["%s:7" % kind]) == ([11, 12], [])
    assert conn.queries == [(kind, 7)]


def test_images_without_a_fileset_are_reported_and_filesets_are_taken_as_they_are():
    conn = FakeGateway(images={("Dataset", 3): [(1, 11), (2, None)]})
    assert omero_gateway.fileset_ids(conn, ["Dataset:3", "Fileset:40"]) == ([11, 40], [2])


def test_an_object_without_readable_images_is_named():
    with pytest.raises(OmeroError, match="Dataset:9 holds no images you can read in your current group"):
        omero_gateway.fileset_ids(FakeGateway(), ["Dataset:9"])


@pytest.mark.parametrize("ref", ["Dataset", "Dataset:0", "Roi:3", "Dataset:x"])
def test_malformed_object_references_are_refused(ref):
    with pytest.raises(OmeroError, match="is not an object like Dataset:3"):
        omero_gateway.parse_ref(ref)


def test_object_refs_from_script_inputs():
    assert omero_gateway.object_refs("Image", [5, 3, 5]) == ["Image:3", "Image:5"]
    with pytest.raises(OmeroError, match="choose at least one Image"):
        omero_gateway.object_refs("Image", [])
    with pytest.raises(OmeroError, match="cannot save a 'Roi'"):
        omero_gateway.object_refs("Roi", [1])


def test_fileset_members_sit_at_their_repository_path_and_read_in_chunks():
    original = FakeOriginalFile("user-2_3/2026-01/01/12-00-00.000/", "a.tif", b"x" * 25)
    conn = FakeGateway(filesets={11: [original]})
    (member,) = omero_gateway.fileset_members(conn, [11], buffer_size=10)
    assert (member.path, member.size, member.mtime) == ("user-2_3/2026-01/01/12-00-00.000/a.tif", 25, 1767225600)
    reader = member.open()
    assert [reader.read(10), reader.read(10), reader.read(10)] == [b"x" * 10, b"x" * 10, b"x" * 5]
    reader.close()
    assert original.closed == 1


def test_a_missing_fileset_is_named():
    with pytest.raises(OmeroError, match="Fileset:5 not found"):
        omero_gateway.fileset_members(FakeGateway(), [5])


def _install_fake_transfer(monkeypatch, populate_xml):
    """generate_xml and ome_types as omero-cli-transfer 1.x and ome-types ship them."""
    monkeypatch.setitem(sys.modules, "generate_xml", types.SimpleNamespace(populate_xml=populate_xml))
    monkeypatch.setitem(sys.modules, "ome_types", types.SimpleNamespace(to_xml=lambda ome: "<OME>%s</OME>" % ome))


def test_transfer_xml_is_built_in_memory_with_the_1x_signature(monkeypatch, tmp_path):
    calls = []

    def populate_xml(datatype, id, filepath, conn, hostname, barchive, simple, figure, metadata):
        calls.append((datatype, id, hostname, barchive, simple, figure, metadata))
        return "%s-%d" % (datatype, id), {}

    _install_fake_transfer(monkeypatch, populate_xml)
    monkeypatch.chdir(tmp_path)
    xml, attachments, why_not = omero_gateway.transfer_packet(FakeGateway(), "Dataset:3", "omero.example.org")
    assert (xml, attachments, why_not) == (b"<OME>Dataset-3</OME>", [], None)
    assert calls == [("Dataset", 3, "omero.example.org", True, False, False, omero_gateway.TRANSFER_METADATA)]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_unsupported_transfer_version_is_reported_not_called(monkeypatch):
    def populate_xml(datatype, id, filepath, conn, hostname):  # 0.x: always writes a file
        raise AssertionError("must not be called")

    _install_fake_transfer(monkeypatch, populate_xml)
    assert omero_gateway.transfer_packet(FakeGateway(), "Dataset:3", None) == (
        None, [], "this omero-cli-transfer version's populate_xml is not supported")


def test_the_installed_omero_cli_transfer_is_supported_when_present():
    generate_xml = pytest.importorskip("generate_xml")
    import inspect

    parameters = inspect.signature(generate_xml.populate_xml).parameters
    assert set(parameters) == {"datatype", "id", "filepath", "conn", "hostname", "barchive",
                               "simple", "figure", "metadata"}
