"""`omero irods`: the CLI plugin, found the way omero-py finds plugins: CLI.loadplugins looks
for omero/plugins/ in every sys.path folder and execs each *.py there with `register`
injected (omero-py src/omero/cli.py). The venv's install (editable or not, see the Makefile)
must put irods.py where that search finds it."""

import json
import os

import pytest

from fake_gateway import FakeGateway, FakeOriginalFile
from omero_irods import names
from omero_irods.payload import parse_payload

pytestmark = pytest.mark.omero

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir,
                      "omero_plugins", "irods.py")


@pytest.fixture
def omero_cli(monkeypatch):
    """omero-py's CLI with the plugins it finds itself, logged in as alice (a gateway double)."""
    from omero.cli import CLI

    from omero_irods.client import omero_cli as plugin_module

    gateway = FakeGateway(
        user="alice", group="lab", images={("Image", 5): [(5, 50)]},
        filesets={50: [FakeOriginalFile("user-2_3/2026-01/01/", "img.tif", b"img")]})
    cli = CLI()
    cli.loadplugins()
    monkeypatch.setattr(cli, "conn", lambda args=None: "client")
    monkeypatch.setattr(plugin_module, "BlitzGateway", lambda client_obj: gateway)
    cli.gateway = gateway
    yield cli
    cli.close()


def test_omero_py_finds_the_irods_command_on_its_plugin_path(omero_cli):
    import sys

    from omero_irods.client.omero_cli import IrodsControl

    assert isinstance(omero_cli.controls["irods"], IrodsControl)
    found = [os.path.join(folder, "omero", "plugins", "irods.py") for folder in sys.path
             if os.path.isfile(os.path.join(folder, "omero", "plugins", "irods.py"))]
    assert found, "no omero/plugins/irods.py on sys.path: reinstall the venv (make test-omero)"
    assert all(os.path.realpath(f) == os.path.realpath(SOURCE) or open(f).read() == open(SOURCE).read()
               for f in found), "a stale irods.py is installed: %s" % found


def test_save_snapshots_for_the_logged_in_user(omero_cli, irods, landing, capsys):
    omero_cli.invoke(["irods", "save", "Image:5", "--no-transfer-xml", "--name", "img5"], strict=True)
    out = capsys.readouterr().out
    assert out.startswith("Saving Image:5 as snapshot img5: 1 files")
    (payload_path,) = irods.payloads()
    payload = parse_payload(irods.read(payload_path), 1 << 20)
    assert (payload.operation, payload.omero_user, payload.data.name) == ("save", "alice", payload.request_id + ".tar")
    assert omero_cli.gateway.closed


def test_bad_object_references_exit_2_and_send_nothing(omero_cli, irods, capsys):
    from omero.cli import NonZeroReturnCode

    before = irods.tree()
    with pytest.raises(NonZeroReturnCode) as raised:
        omero_cli.invoke(["irods", "save", "Roi:1"], strict=True)
    assert raised.value.rv == 2
    assert "'Roi:1' is not an object like Dataset:3" in capsys.readouterr().err
    assert irods.tree() == before


def test_failures_exit_1_with_the_reason(omero_cli, irods, capsys):
    from omero.cli import NonZeroReturnCode

    with pytest.raises(NonZeroReturnCode) as raised:
        omero_cli.invoke(["irods", "save", "Dataset:404", "--no-transfer-xml"], strict=True)
    assert raised.value.rv == 1
    assert "omero irods save: Dataset:404 holds no images" in capsys.readouterr().err
    assert omero_cli.gateway.closed


def test_push_ingests_local_files_for_the_logged_in_user(omero_cli, irods, tmp_path, capsys):
    (tmp_path / "run7").mkdir()
    (tmp_path / "run7" / "a.tif").write_bytes(b"a")
    omero_cli.invoke(["irods", "push", str(tmp_path / "run7"), "--target", "Dataset:name:run7"], strict=True)
    assert capsys.readouterr().out.startswith("Sent 1 files")
    (payload_path,) = irods.payloads()
    payload = parse_payload(irods.read(payload_path), 1 << 20)
    assert (payload.operation, payload.omero_user, payload.target.omero_dataset) == (
        "ingest", "alice", "Dataset:name:run7")


def test_load_and_list(omero_cli, irods, capsys):
    omero_cli.invoke(["irods", "load", "/tempZone/home/alice/omero/save/img5"], strict=True)
    assert capsys.readouterr().out.startswith("Load of /tempZone/home/alice/omero/save/img5 requested")
    omero_cli.invoke(["irods", "list", "--json"], strict=True)
    captured = capsys.readouterr()
    (listed,) = json.loads(captured.out)
    assert (listed["operation"], listed["state"], listed["omero_user"]) == ("load", names.RECEIVED, "alice")
    assert "1 iRODS request(s) for alice: 1 received" in captured.err


def test_an_irods_error_exits_1_with_its_name_not_a_traceback(omero_cli, irods, monkeypatch, capsys):
    from omero.cli import NonZeroReturnCode

    from omero_irods.adapters import prc

    exception = pytest.importorskip("irods.exception")

    def unreachable(*args, **kwargs):
        raise exception.NetworkException("Could not connect to specified host and port: irods:1247")

    monkeypatch.setattr(prc, "child_collections", unreachable)
    with pytest.raises(NonZeroReturnCode) as raised:
        omero_cli.invoke(["irods", "list"], strict=True)
    assert raised.value.rv == 1
    err = capsys.readouterr().err
    assert ("omero irods list: iRODS refused or could not be reached: NetworkException: Could not "
            "connect to specified host and port: irods:1247") in err
    assert "Traceback" not in err and omero_cli.gateway.closed
