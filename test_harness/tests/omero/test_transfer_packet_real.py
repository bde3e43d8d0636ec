"""A transfer.xml as omero-cli-transfer itself writes it (its generate_xml helpers and
ome-types' to_xml), read by our code: the policy's packet check (omero_import.check_packet)
accepts what names files of the snapshot and refuses the rest, and the sandbox's emulated
`transfer unpack` finds the same files to import as omero-cli-transfer's own
TransferControl._create_image_map (ome/omero-cli-transfer src/omero_cli_transfer.py)."""

import pytest

from omero_irods.errors import Rejected
from omero_irods.omero_import import check_packet
from omero_irods_sandbox import omero_importer

pytestmark = pytest.mark.omero

ROOT = "/tempZone/home/alice/omero/save/2026-01-01/Dataset-3"


def _packet(paths):
    """OME with a Dataset holding one Image per path, each with its CLITransferServerPath
    annotation made by omero-cli-transfer's generate_xml.create_path_xml."""
    import generate_xml
    from ome_types import OME, to_xml
    from ome_types.model import Dataset, Image, ImageRef, Pixels

    ome = OME()
    dataset = Dataset(id="Dataset:3", name="run 3")
    for index, path in enumerate(paths, start=1):
        annotation, ref = generate_xml.create_xml_and_ref(
            id="Annotation:%d" % (100 + index), namespace="openmicroscopy.org/cli/transfer",
            value=generate_xml.create_path_xml(path))
        pixels = Pixels(id="Pixels:%d" % index, dimension_order="XYZCT", size_c=1, size_t=1, size_x=1,
                        size_y=1, size_z=1, type="uint8", metadata_only=True)
        ome.images.append(Image(id="Image:%d" % index, name="img%d" % index, pixels=pixels,
                                annotation_refs=[ref]))
        ome.structured_annotations.append(annotation)
        dataset.image_refs.append(ImageRef(id="Image:%d" % index))
    ome.datasets.append(dataset)
    return ome, to_xml(ome)


def _objects(*relative):
    return [{"path": ROOT + "/" + name, "physical_path": "/vault/snap/" + name} for name in relative]


PATHS = ["user-2_3/2026-01/01/a.tif", "user-2_3/2026-01/01/multi/mock_folder"]
FILES = _objects("transfer.xml", "user-2_3/2026-01/01/a.tif", "user-2_3/2026-01/01/multi/x.ets",
                 "user-2_3/2026-01/01/multi/x.vsi")


def test_the_policy_accepts_a_real_packet_naming_files_of_the_snapshot():
    _ome, xml = _packet(PATHS)
    check_packet(xml.encode("utf-8"), ROOT, FILES)


def test_the_policy_refuses_a_real_packet_naming_another_users_file():
    _ome, xml = _packet(PATHS[:1] + ["/var/lib/irods/Vault/home/bob/secret.tif"])
    with pytest.raises(Rejected) as raised:
        check_packet(xml.encode("utf-8"), ROOT, FILES)
    assert raised.value.reason == "unsafe_member"


def test_the_emulated_unpack_imports_what_omero_cli_transfer_would():
    from omero_cli_transfer import TransferControl

    ome, xml = _packet(PATHS)
    _newome, image_map, filelist = TransferControl._create_image_map(None, ome)
    emulated_map, restored = omero_importer.parse_packet(xml)
    assert sorted(emulated_map) == sorted(filelist)
    assert {path: len(ids) for path, ids in emulated_map.items()} == \
        {path.rstrip("mock_folder") if path.endswith("mock_folder") else path: len(ids)
         for path, ids in image_map.items()}
    assert restored == {"Dataset": ["run 3"]}
