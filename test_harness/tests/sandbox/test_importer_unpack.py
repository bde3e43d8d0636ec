"""The emulated `omero transfer unpack` (omero-cli-transfer).

Sources: ome/omero-cli-transfer src/omero_cli_transfer.py (TransferControl._configure: the
login options belong to `transfer`, unpack takes FILEPATH --folder --ln_s_import ...;
__unpack reads FOLDER/transfer.xml; _create_image_map: each Image's CLITransferServerPath,
`<folder>/mock_folder` for a multi-file image; _import_files: one `omero import
FOLDER/./PATH` per path, whose `Image:a,b` line is printed on stdout) and
src/generate_omero_objects.py (populate_omero restores Projects, Datasets, Screens, Plates).
The same argv through the real parser: test_harness/tests/omero/test_importer_login_omero.py
and test_transfer_parser_agreement.py.
"""

import io

import pytest

from omero_irods.omero_import import parse_import_output
from omero_irods_sandbox import omero_importer

PACKET = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
          '<Screen ID="Screen:1" Name="screen one"><PlateRef ID="Plate:1"/></Screen>'
          '<Plate ID="Plate:1" Name="plate one"/>'
          '<Image ID="Image:1"><AnnotationRef ID="Annotation:1"/></Image>'
          '<Image ID="Image:2"><AnnotationRef ID="Annotation:2"/></Image>'
          '<Image ID="Image:3"><AnnotationRef ID="Annotation:2"/></Image>'
          '<StructuredAnnotations>'
          '<XMLAnnotation ID="Annotation:1"><Value><CLITransferServerPath><Path>u/a.tif</Path>'
          '</CLITransferServerPath></Value></XMLAnnotation>'
          '<XMLAnnotation ID="Annotation:2"><Value><CLITransferServerPath><Path>u/multi/mock_folder</Path>'
          '</CLITransferServerPath></Value></XMLAnnotation>'
          '</StructuredAnnotations></OME>')


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "vault" / "snap"
    (root / "u" / "multi").mkdir(parents=True)
    (root / "u" / "a.tif").write_bytes(b"a")
    (root / "u" / "multi" / "x.ets").write_bytes(b"x")
    (root / "transfer.xml").write_text(PACKET)
    return root


def _run(tmp_path, args, mode="succeed"):
    out, err = io.StringIO(), io.StringIO()
    log = tmp_path / "imports.jsonl"
    code = omero_importer.main(["--sandbox-log", str(log), "--sandbox-mode", mode, "transfer"] + args,
                               out=out, err=err)
    return code, out.getvalue(), err.getvalue(), omero_importer.read_imports(str(log))


def test_unpack_imports_each_named_path_and_prints_the_ids_our_parser_reads(tmp_path, folder):
    code, out, err, (call,) = _run(tmp_path, ["-s", "omero", "-u", "alice", "-g", "lab", "unpack", "--folder",
                                              "--ln_s_import", str(folder)])
    assert code == 0
    # two imports: u/a.tif (Image:1) and the folder u/multi/ (Images 2 and 3 share it)
    assert out == "Image:1\nImage:2,3\n"
    assert parse_import_output(out, "ids").image_ids == (1, 2, 3)
    # "u/multi/mock_folder".rstrip("mock_folder") is "u/multi/", as omero-cli-transfer computes it
    assert call["files"] == [str(folder) + "/./u/a.tif", str(folder) + "/./u/multi/"]
    assert call["restored"] == {"Screen": ["screen one"], "Plate": ["plate one"]}
    assert call["ln_s"] is True


def test_login_options_after_the_sub_command_are_refused_as_argparse_does(tmp_path, folder):
    with pytest.raises(SystemExit) as raised:
        _run(tmp_path, ["unpack", "-u", "alice", "--folder", str(folder)])
    assert raised.value.code == 2


def test_a_folder_without_transfer_xml_fails_and_imports_nothing(tmp_path, folder):
    (folder / "transfer.xml").unlink()
    code, out, err, (call,) = _run(tmp_path, ["unpack", "--folder", "--ln_s_import", str(folder)])
    assert code == 1 and out == "" and call["images"] == []
    assert "transfer.xml" in err


def test_a_missing_file_named_by_the_packet_is_an_error(tmp_path, folder):
    (folder / "u" / "a.tif").unlink()
    code, out, err, (call,) = _run(tmp_path, ["unpack", "--folder", str(folder)])
    assert code == 1 and "File not found" in err and call["missing"] == [str(folder) + "/./u/a.tif"]


def test_fail_mode_fails_unpack_too(tmp_path, folder):
    code, out, err, (call,) = _run(tmp_path, ["unpack", "--folder", str(folder)], mode="fail")
    assert code == 2 and out == "" and call["images"] == []
