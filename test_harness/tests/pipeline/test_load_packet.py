"""Load restores what Save packed: a snapshot holding omero-cli-transfer's packet
(transfer.xml) is unpacked in place with `omero transfer unpack --folder --ln_s_import` for the
mapped user and group; its transfer.xml and attachments never reach a plain `omero import`; a
packet naming a file outside the snapshot is rejected before anything runs. The `load` step is
the client's real request (omero_irods.client.push.request_load).

Sources: ome/omero-cli-transfer src/omero_cli_transfer.py (unpack's arguments,
_create_image_map, _import_files), src/generate_xml.py (the packet's layout)."""

from pipeline_support import (ALICE_ROOT, SERVICE, UNTIL_IDLE, Request, avu_values, avus_of, base_scenario, image_ids_of,
                              request_records)
from omero_irods import names

SAVE_ID = "20261122T090000Z-0000s101"
SNAPSHOT = ALICE_ROOT + "/save/2026-01-01/Project-1"


def packet_xml(images, annotation_path=None):
    """transfer.xml as omero-cli-transfer writes it: a Project and Dataset holding the Images,
    each Image referring to an XMLAnnotation whose CLITransferServerPath names its file."""
    parts, refs = [], []
    for index, path in enumerate(images):
        parts.append('<Image ID="Image:%d" Name="img%d"><AnnotationRef ID="Annotation:%d"/></Image>'
                     % (index + 1, index + 1, 100 + index))
        refs.append('<ImageRef ID="Image:%d"/>' % (index + 1))
    annotations = "".join(
        '<XMLAnnotation ID="Annotation:%d" Namespace="openmicroscopy.org/cli/transfer"><Value>'
        '<CLITransferServerPath><Path>%s</Path></CLITransferServerPath></Value></XMLAnnotation>'
        % (100 + index, path) for index, path in enumerate(images))
    if annotation_path:
        annotations += ('<FileAnnotation ID="Annotation:200"><AnnotationRef ID="Annotation:201"/></FileAnnotation>'
                        '<XMLAnnotation ID="Annotation:201"><Value><CLITransferServerPath><Path>%s</Path>'
                        '</CLITransferServerPath></Value></XMLAnnotation>' % annotation_path)
    return ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
            '<Project ID="Project:1" Name="restored project"><DatasetRef ID="Dataset:1"/></Project>'
            '<Dataset ID="Dataset:1" Name="restored dataset">%s</Dataset>%s'
            '<StructuredAnnotations>%s</StructuredAnnotations></OME>'
            % ("".join(refs), "".join(parts), annotations)).encode()


FILES = {"user-2_3/2026-01/01/a.tif": b"A" * 300, "user-2_3/2026-01/01/b.tif": b"B" * 200,
         "file_annotations/7/notes.txt": b"notes"}


def _scenario(tmp_path, files, load_source=SNAPSHOT, **load):
    save = Request(tmp_path, SAVE_ID, files, operation="save", target_name="Project-1")
    step = {"load": dict({"as": SERVICE, "source": load_source, "omero_user": "alice", "omero_group": "lab"}, **load)}
    return base_scenario(tmp_path, save.steps("prc") + [UNTIL_IDLE, step, UNTIL_IDLE])


def _load_record(state):
    """The load request's record: the one record whose operation AVU says load."""
    (record,) = [path for path in request_records(state)
                 if avus_of(state, path).get(names.AVU_OPERATION) == names.LOAD]
    return record


def test_a_packed_snapshot_is_unpacked_in_place_for_the_mapped_user(tmp_path, run_scenario):
    files = dict(FILES, **{"transfer.xml": packet_xml(["user-2_3/2026-01/01/a.tif", "user-2_3/2026-01/01/b.tif"],
                                                      "file_annotations/7/notes.txt")})
    state = run_scenario(_scenario(tmp_path, files))
    (imported,) = state["imports"]
    argv = imported["argv"]
    assert argv[0] == "transfer" and argv[argv.index("-u") + 1] == "alice" and argv[argv.index("-g") + 1] == "lab"
    assert argv[argv.index("unpack"):-1] == ["unpack", "--folder", "--ln_s_import"]
    folder = argv[-1]
    assert folder.endswith("/home/alice/omero/save/2026-01-01/Project-1")
    assert imported["files"] == sorted(folder + "/./" + p for p in ("user-2_3/2026-01/01/a.tif",
                                                                     "user-2_3/2026-01/01/b.tif"))
    assert imported["restored"] == {"Project": ["restored project"], "Dataset": ["restored dataset"]}
    avus = avus_of(state, _load_record(state))
    assert avus[names.AVU_STATE] == names.IMPORTED, state["log"]
    assert image_ids_of(state, _load_record(state)) == \
        sorted(int(i) for i in imported["images"]) and len(imported["images"]) == 2


def test_a_snapshot_without_a_packet_is_imported_file_by_file(tmp_path, run_scenario):
    state = run_scenario(_scenario(tmp_path, {"a.tif": b"A", "b.tif": b"B"}))
    (imported,) = state["imports"]
    assert imported["argv"][0] == "import" and "unpack" not in imported["argv"]
    assert avus_of(state, _load_record(state))[names.AVU_STATE] == names.IMPORTED


def test_a_packet_naming_another_users_file_is_rejected_and_nothing_runs(tmp_path, run_scenario):
    hostile = packet_xml(["user-2_3/2026-01/01/a.tif", "/var/lib/irods/Vault/home/bob/secret.tif"])
    state = run_scenario(_scenario(tmp_path, dict(FILES, **{"transfer.xml": hostile})))
    assert state["imports"] == []
    avus = avus_of(state, _load_record(state))
    assert avus[names.AVU_STATE] == names.REJECTED
    assert "unsafe_member" in avus[names.AVU_ERROR] and "bob/secret.tif" in avus[names.AVU_ERROR]


def test_a_load_with_a_target_dataset_is_sent_by_the_client(tmp_path, run_scenario):
    state = run_scenario(_scenario(tmp_path, {"a.tif": b"A"}, target="Dataset:name:restored"))
    (imported,) = state["imports"]
    assert imported["argv"][imported["argv"].index("-T") + 1] == "Dataset:name:restored"
