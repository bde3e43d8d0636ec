"""Save's transfer.xml for Screens, Plates, Projects and Datasets, several at once, built by
omero-cli-transfer's own code (generate_xml.populate_xml and the populate_* functions it
dispatches to, ezomero.get_original_filepaths, ome_types.to_xml). Only the BlitzGateway's
network side is stood in for: the wrapper calls those functions make (getObject, listChildren,
countWellSample/getWellSample, getPrimaryPixels, listAnnotations, the ROI service, the
projection ezomero runs for a file path). The packet is then read by the policy's packet check
and by the sandbox's emulated unpack, which must find the same files and hierarchy.

Sources: ome/omero-cli-transfer src/generate_xml.py (populate_xml, populate_screen,
populate_plate, populate_well, populate_image, populate_project, populate_dataset,
list_file_ids), src/omero_cli_transfer.py (_create_image_map); ome/omero-py
src/omero/gateway/__init__.py (the wrapper methods)."""

import types

import pytest

from omero_irods.adapters import omero_gateway
from omero_irods.omero_import import check_packet
from omero_irods_sandbox import omero_importer

pytestmark = pytest.mark.omero

ROOT = "/tempZone/home/alice/omero/save/2026-01-01/snap"


class _Named(object):
    def __init__(self, kind, number, name, children=()):
        self.kind, self._id, self._name, self._children = kind, number, name, list(children)

    def getId(self):
        return self._id

    def getName(self):
        return self._name

    def getDescription(self):
        return ""

    def listAnnotations(self):
        return []

    def listChildren(self):
        return list(self._children)


class _Enum(object):
    def __init__(self, value):
        self._value = value

    def getValue(self):
        return self._value


class _Pixels(object):
    def getDimensionOrder(self):
        return _Enum("XYZCT")

    def getPixelsType(self):
        return _Enum("uint8")

    getSizeC = getSizeT = getSizeZ = lambda self: 1
    getSizeX = getSizeY = lambda self: 4


class _Image(_Named):
    def __init__(self, number, path):
        super().__init__("Image", number, "img%d" % number)
        self.path = path

    def getPrimaryPixels(self):
        return _Pixels()

    def getFileset(self):
        return None


class _WellSample(object):
    def __init__(self, number, image):
        self._id, self._image = number, image

    def getId(self):
        return self._id

    def getImage(self):
        return self._image


class _Well(_Named):
    def __init__(self, number, row, column, images):
        super().__init__("Well", number, "")
        self._row, self._column, self._samples = row, column, [_WellSample(100 + i.getId(), i) for i in images]

    def getRow(self):
        return self._row

    def getColumn(self):
        return self._column

    def countWellSample(self):
        return len(self._samples)

    def getWellSample(self, index):
        return self._samples[index]


class _Gateway(object):
    """The BlitzGateway calls generate_xml and ezomero make, answered from `objects`."""

    def __init__(self, objects):
        from omero.gateway import ServiceOptsDict

        self.SERVICE_OPTS = ServiceOptsDict()  # ezomero switches it to all groups and back
        self.objects = {(o.kind, o.getId()): o for o in objects}
        user = types.SimpleNamespace(getId=lambda: 2, getName=lambda: "alice")
        self.objects[("ExperimenterGroup", 3)] = types.SimpleNamespace(groupSummary=lambda: ([], [user]))
        self._user = user

    def getObject(self, kind, number):
        return self.objects.get((kind, int(number)))

    def getUser(self):
        return self._user

    def getGroupFromContext(self):
        return types.SimpleNamespace(getId=lambda: 3, getName=lambda: "lab")

    def getConfigService(self):
        return types.SimpleNamespace(getDatabaseUuid=lambda: "db-uuid")

    def getRoiService(self):
        return types.SimpleNamespace(findByImage=lambda image_id, options: types.SimpleNamespace(rois=[]))

    def getQueryService(self):
        from omero.rtypes import rstring

        def projection(query, params, options=None):  # ezomero: SELECT o.path||o.name ... WHERE i.id=:imid
            image = self.objects[("Image", params.map["imid"].val)]
            return [[rstring(image.path)]]
        return types.SimpleNamespace(projection=projection)


def _hierarchy():
    plate_images = [_Image(11, "user-2_3/2026-01/01/plate1/plate.xdce"),
                    _Image(12, "user-2_3/2026-01/01/plate1/plate.xdce")]
    wells = [_Well(21, 0, 0, plate_images[:1]), _Well(22, 0, 1, plate_images[1:])]
    plate = _Named("Plate", 31, "plate one", wells)
    screen = _Named("Screen", 41, "screen A", [plate])
    dataset_image = _Image(13, "user-2_3/2026-01/01/a.tif")
    dataset = _Named("Dataset", 51, "run 3", [dataset_image])
    project = _Named("Project", 61, "project P", [dataset])
    objects = plate_images + wells + [plate, screen, dataset_image, dataset, project]
    return _Gateway(objects)


def _objects(*relative):
    return [{"path": ROOT + "/" + name, "physical_path": "/vault/snap/" + name} for name in relative]


FILES = _objects("transfer.xml", "user-2_3/2026-01/01/plate1/plate.xdce", "user-2_3/2026-01/01/a.tif")


def test_a_screen_is_packed_with_its_plate_wells_and_images():
    pytest.importorskip("generate_xml")
    xml, attachments, why_not = omero_gateway.transfer_packet(_hierarchy(), ["Screen:41"], "omero.example.org")
    assert why_not is None and attachments == []
    text = xml.decode("utf-8")
    assert "<Screen" in text and "<Plate" in text and "<Well" in text and "WellSample" in text
    image_map, restored = omero_importer.parse_packet(text)
    assert restored == {"Screen": ["screen A"], "Plate": ["plate one"]}
    assert sorted(image_map) == ["user-2_3/2026-01/01/plate1/plate.xdce"]  # one import for the plate's fileset
    check_packet(xml, ROOT, FILES)


def test_several_objects_of_both_hierarchies_share_one_packet():
    pytest.importorskip("generate_xml")
    xml, _attachments, why_not = omero_gateway.transfer_packet(
        _hierarchy(), ["Dataset:51", "Plate:31", "Project:61"], "omero.example.org")
    assert why_not is None
    image_map, restored = omero_importer.parse_packet(xml.decode("utf-8"))
    assert restored == {"Project": ["project P"], "Dataset": ["run 3"], "Plate": ["plate one"]}  # run 3 once
    assert sorted(image_map) == ["user-2_3/2026-01/01/a.tif", "user-2_3/2026-01/01/plate1/plate.xdce"]
    assert sorted(len(ids) for ids in image_map.values()) == [1, 2]
    check_packet(xml, ROOT, FILES)


def test_the_emulated_unpack_reads_the_packet_as_omero_cli_transfer_does():
    pytest.importorskip("generate_xml")
    from ome_types import from_xml
    from omero_cli_transfer import TransferControl

    xml, _, _ = omero_gateway.transfer_packet(_hierarchy(), ["Screen:41", "Project:61"], None)
    _newome, image_map, filelist = TransferControl._create_image_map(None, from_xml(xml.decode("utf-8")))
    emulated_map, _restored = omero_importer.parse_packet(xml.decode("utf-8"))
    assert sorted(emulated_map) == sorted(filelist)
    assert {path: len(ids) for path, ids in emulated_map.items()} == {path: len(ids) for path, ids in image_map.items()}


def test_an_object_gone_meanwhile_leaves_the_packet_out_with_the_reason():
    pytest.importorskip("generate_xml")
    assert omero_gateway.transfer_packet(_hierarchy(), ["Screen:41", "Plate:99"], None) == (
        None, [], "Plate:99 is not readable in your current group")
