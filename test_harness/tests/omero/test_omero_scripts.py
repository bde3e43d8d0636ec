"""The OMERO.scripts: parameters OMERO registers, and runs against a test double of
BlitzGateway with the sandbox zone behind the real push code."""

import importlib.util
import io
import os
import sys
import tarfile
import types

import pytest

from fake_gateway import FakeGateway, FakeOriginalFile, FakeScriptClient
from omero_irods import names
from omero_irods.client import omero_actions
from omero_irods.payload import parse_payload

pytestmark = pytest.mark.omero

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir,
                       "omero_scripts")
REPO = "user-2_3/2026-01/01/12-00-00.000/"


def load_script(name):
    spec = importlib.util.spec_from_file_location("script_" + name, os.path.join(SCRIPTS, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name, inputs, gateway, monkeypatch):
    """Run a script's run_script() as OMERO would, with our client and gateway doubles."""
    import omero.gateway
    import omero.scripts

    client = FakeScriptClient(inputs)
    monkeypatch.setattr(omero.scripts, "client", lambda *args, **kwargs: client)
    monkeypatch.setattr(omero.gateway, "BlitzGateway", lambda client_obj: gateway)
    load_script(name).run_script()
    assert client.session_closed
    return client.outputs


def parse_file(path, monkeypatch):
    """omero.scripts.parse_file, which leaves the omero.client it makes (an Ice communicator)
    open when the script raises ParseExit (omero-py src/omero/scripts.py client, parse_text):
    the clients made meanwhile are closed here, so no communicator outlives the tests."""
    import omero
    import omero.scripts

    made, real = [], omero.client

    def tracked(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(omero, "client", tracked)
    try:
        return omero.scripts.parse_file(path)
    finally:
        for client in made:
            client.__del__()


@pytest.mark.parametrize("name, inputs", [
    ("iRODS_Save", {"Data_Type", "IDs", "Snapshot_Name", "Include_Transfer_XML"}),
    ("iRODS_Load", {"Snapshot_Path", "Target_Dataset"}),
    ("iRODS_List", set()),
])
def test_omero_registers_the_parameters_each_with_a_description(name, inputs, monkeypatch):
    """omero.scripts.parse_file is how OMERO reads a script's parameters (omero-py scripts.py)."""
    params = parse_file(os.path.join(SCRIPTS, name + ".py"), monkeypatch)
    assert params.name == name + ".py" and params.description
    assert set(params.inputs) == inputs
    assert all(p.description for p in params.inputs.values())


def test_save_parameters_offer_the_container_types(monkeypatch):
    from omero.rtypes import unwrap

    params = parse_file(os.path.join(SCRIPTS, "iRODS_Save.py"), monkeypatch)
    assert unwrap(params.inputs["Data_Type"].values) == ["Project", "Dataset", "Image", "Screen", "Plate"]
    assert not params.inputs["Data_Type"].optional and params.inputs["Snapshot_Name"].optional


def snapshot_gateway():
    files = [FakeOriginalFile(REPO, "plate.companion.ome", b"<OME/>"),
             FakeOriginalFile(REPO + "A1/", "A1.tif", b"pixels" * 100)]
    return FakeGateway(user="alice", group="lab", images={("Dataset", 3): [(1, 11), (2, 11)]},
                       filesets={11: files}), files


def test_save_streams_the_original_files_and_commits_a_save_payload(irods, landing, monkeypatch):
    gateway, files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Include_Transfer_XML": False},
                  gateway, monkeypatch)
    request_id = outputs["Request_ID"]
    assert outputs["Message"].startswith("Saving Dataset:3 as snapshot Dataset-3: 2 files")
    assert request_id in outputs["Message"]

    collection = "%s/%s" % (landing, request_id)
    payload = parse_payload(irods.read("%s/%s%s" % (collection, request_id, names.PAYLOAD_SUFFIX)), 1 << 20)
    assert (payload.operation, payload.omero_user, payload.omero_group) == ("save", "alice", "lab")
    assert payload.omero_objects == ("Dataset:3", "Fileset:11")
    assert payload.omero_server == "omero.example.org"
    assert payload.target.name == "Dataset-3" and payload.data.name == request_id + ".tar"
    with tarfile.open(fileobj=io.BytesIO(irods.read("%s/%s.tar" % (collection, request_id)))) as tar:
        assert tar.extractfile(REPO + "A1/A1.tif").read() == b"pixels" * 100
        assert tar.getnames() == [REPO + "A1/A1.tif", REPO + "plate.companion.ome"]
    assert [(f.opened, f.closed) for f in files] == [(1, 1), (1, 1)]


def test_the_user_is_the_sessions_whatever_the_inputs_say(irods, landing, monkeypatch):
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Include_Transfer_XML": False,
                                 "omero_user": "root"}, gateway, monkeypatch)
    request_id = outputs["Request_ID"]
    raw = irods.read("%s/%s/%s%s" % (landing, request_id, request_id, names.PAYLOAD_SUFFIX))
    assert parse_payload(raw, 1 << 20).omero_user == "alice"


def test_save_adds_transfer_xml_when_omero_cli_transfer_is_there(irods, landing, monkeypatch):
    monkeypatch.setitem(sys.modules, "generate_xml", types.SimpleNamespace(
        populate_xml=lambda datatype, id, filepath, conn, hostname, barchive, simple, figure, metadata:
        ("<Dataset id=%d/>" % id, {})))
    monkeypatch.setitem(sys.modules, "ome_types", types.SimpleNamespace(to_xml=lambda ome: ome))
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Snapshot_Name": "before-review"},
                  gateway, monkeypatch)
    tar_path = "%s/%s/%s.tar" % (landing, outputs["Request_ID"], outputs["Request_ID"])
    with tarfile.open(fileobj=io.BytesIO(irods.read(tar_path))) as tar:
        assert tar.extractfile("transfer.xml").read() == b"<Dataset id=3/>"


def test_save_says_why_transfer_xml_was_left_out(irods, monkeypatch):
    monkeypatch.setitem(sys.modules, "generate_xml", None)  # not installed
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3]}, gateway, monkeypatch)
    assert "transfer.xml left out: omero-cli-transfer is not installed" in outputs["Message"]


def test_save_says_the_request_was_sent_and_where_its_outcome_shows(irods, monkeypatch):
    """The script knows only the push; rejection (an unmapped user...) comes later."""
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Include_Transfer_XML": False},
                  gateway, monkeypatch)
    assert "sent as request %s" % outputs["Request_ID"] in outputs["Message"]
    assert outputs["Message"].endswith(omero_actions.FOLLOW_UP)


def test_save_failures_reach_the_user_and_leave_nothing(irods, landing, monkeypatch, capsys):
    before = irods.tree()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [9]}, FakeGateway(), monkeypatch)
    assert outputs["Message"].startswith("Failed: Dataset:9 holds no images you can read")
    assert "Failed: Dataset:9" in capsys.readouterr().err
    assert irods.tree() == before


def test_save_refuses_a_snapshot_name_with_a_slash(irods, monkeypatch):
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Snapshot_Name": "a/b"},
                  gateway, monkeypatch)
    assert outputs["Message"] == "Failed: snapshot name 'a/b' may not contain '/' or control characters"


def test_unsafe_credentials_are_reported_to_the_user(irods, tmp_path, monkeypatch):
    (tmp_path / "irodsA").chmod(0o644)
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Include_Transfer_XML": False},
                  gateway, monkeypatch)
    assert "accessible by group or others" in outputs["Message"]
    assert outputs["Message"].startswith("Failed: ")


def test_load_commits_a_load_payload_for_the_session_user(irods, landing, monkeypatch):
    outputs = run("iRODS_Load", {"Snapshot_Path": "/tempZone/home/alice/omero/save/2026-01-01/Dataset-3",
                                 "Target_Dataset": "restored"}, FakeGateway(), monkeypatch)
    request_id = outputs["Request_ID"]
    payload = parse_payload(irods.read("%s/%s/%s%s" % (landing, request_id, request_id, names.PAYLOAD_SUFFIX)),
                            1 << 20)
    assert payload.operation == "load" and payload.omero_user == "alice"
    assert payload.source_path == "/tempZone/home/alice/omero/save/2026-01-01/Dataset-3"
    assert payload.target.omero_dataset == "Dataset:name:restored"
    assert outputs["Message"] == ("Load of %s requested as request %s into dataset restored; %s"
                                  % (payload.source_path, request_id, omero_actions.FOLLOW_UP))


def test_load_explains_what_path_it_needs(irods, monkeypatch):
    outputs = run("iRODS_Load", {"Snapshot_Path": "Dataset-3"}, FakeGateway(), monkeypatch)
    assert outputs["Message"].startswith("Failed: Dataset-3 is neither a snapshot's full iRODS path")


def test_list_shows_only_the_session_users_requests(irods, landing, monkeypatch, capsys):
    from omero_irods.client.push import request_load

    for user, number in (("alice", 1), ("bob", 2), ("alice", 3)):
        result = request_load(irods.session, landing, "/tempZone/home/%s/snap" % user, user, "lab",
                              request_id="req-000000%d" % number)
        if number == 3:  # the policy's record says imported (state is read from records only)
            irods.record(result.request_id, [(names.AVU_STATE, names.IMPORTED), (names.AVU_OMERO_USER, user),
                                             (names.AVU_OMERO_GROUP, "lab"), (names.AVU_OPERATION, "load"),
                                             (names.AVU_OMERO_IMAGE, "42")], payload=result.payload_path)
    outputs = run("iRODS_List", {}, FakeGateway(user="alice"), monkeypatch)
    assert outputs["Message"] == "2 iRODS request(s) for alice: 1 imported, 1 received"
    table = capsys.readouterr().out
    assert "req-0000001" in table and "req-0000003" in table and "req-0000002" not in table
    assert "42" in table


def test_a_failing_omero_cli_transfer_costs_only_the_transfer_xml(irods, monkeypatch):
    def populate_xml(datatype, id, filepath, conn, hostname, barchive, simple, figure, metadata):
        raise RuntimeError("ROI service unavailable")

    monkeypatch.setitem(sys.modules, "generate_xml", types.SimpleNamespace(populate_xml=populate_xml))
    monkeypatch.setitem(sys.modules, "ome_types", types.SimpleNamespace(to_xml=str))
    gateway, _files = snapshot_gateway()
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3]}, gateway, monkeypatch)
    assert outputs["Message"].startswith("Saving Dataset:3 as snapshot Dataset-3: 2 files")
    assert "transfer.xml left out: omero-cli-transfer failed: RuntimeError: ROI service unavailable" \
        in outputs["Message"]


def install_transfer_with_attachment(monkeypatch, path_id_dict):
    """omero-cli-transfer 1.x: populate_xml returns (ome, path_id_dict); a FileAnnotation's
    entry is "Annotation:<id>" -> file_annotations/<id>/<name> (generate_xml.py
    create_filepath_annotations, list_file_ids), which `pack` downloads into the packet."""
    monkeypatch.setitem(sys.modules, "generate_xml", types.SimpleNamespace(
        populate_xml=lambda datatype, id, filepath, conn, hostname, barchive, simple, figure, metadata:
        ("<Dataset id=%d/>" % id, dict(path_id_dict))))
    monkeypatch.setitem(sys.modules, "ome_types", types.SimpleNamespace(to_xml=lambda ome: ome))


def test_save_streams_the_attachments_transfer_xml_names(irods, landing, monkeypatch):
    install_transfer_with_attachment(monkeypatch, {"Image:1": REPO + "A1/A1.tif",
                                                   "Annotation:7": "file_annotations/7/notes.csv"})
    gateway, _files = snapshot_gateway()
    gateway.annotations[7] = FakeOriginalFile("/attachments/", "notes.csv", b"well,count\nA1,3\n")
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Snapshot_Name": "with-notes"},
                  gateway, monkeypatch)
    assert "transfer.xml added with 1 attached file(s)" in outputs["Message"]
    request_id = outputs["Request_ID"]
    with tarfile.open(fileobj=io.BytesIO(irods.read("%s/%s/%s.tar" % (landing, request_id, request_id)))) as tar:
        assert tar.extractfile("file_annotations/7/notes.csv").read() == b"well,count\nA1,3\n"
        assert tar.extractfile("transfer.xml").read() == b"<Dataset id=3/>"
    payload = parse_payload(irods.read("%s/%s/%s%s" % (landing, request_id, request_id, names.PAYLOAD_SUFFIX)),
                            1 << 20)
    assert "file_annotations/7/notes.csv" in [entry.path for entry in payload.manifest]


def test_without_its_attachments_transfer_xml_is_left_out_and_the_user_told(irods, landing, monkeypatch):
    install_transfer_with_attachment(monkeypatch, {"Annotation:8": "file_annotations/8/secret.pdf"})
    gateway, _files = snapshot_gateway()  # FileAnnotation 8 is not readable for alice
    outputs = run("iRODS_Save", {"Data_Type": "Dataset", "IDs": [3], "Snapshot_Name": "no-notes"},
                  gateway, monkeypatch)
    assert ("transfer.xml left out: its attachment FileAnnotation:8 is not readable in your current "
            "group") in outputs["Message"]
    tar_path = "%s/%s/%s.tar" % (landing, outputs["Request_ID"], outputs["Request_ID"])
    with tarfile.open(fileobj=io.BytesIO(irods.read(tar_path))) as tar:
        assert sorted(tar.getnames()) == [REPO + "A1/A1.tif", REPO + "plate.companion.ome"]
