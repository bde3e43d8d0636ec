"""What reaches the importer's argv, and how a load is imported: a plain in-place import, or
omero-cli-transfer's `transfer unpack` for a snapshot holding its packet.

Sources: omero-py src/omero/cli.py add_login_arguments (the login options), src/omero/plugins/
import.py; ome/omero-cli-transfer src/omero_cli_transfer.py (TransferControl._configure: the
login options belong to `transfer`, `unpack` takes FILEPATH, --folder, --ln_s_import;
_create_image_map and src/generate_omero_objects.py get_server_path/create_original_file: the
CLITransferServerPath of transfer.xml is joined to the folder and imported or attached).
"""

import pytest

from omero_irods.config import ImportSettings
from omero_irods.errors import Rejected
from omero_irods.omero_import import (SESSION_IDLE_SECONDS, build_import_command, build_unpack_command,
                                      check_packet, command_for_plan, plan_import, session_lifetimes)

SETTINGS = ImportSettings(command=("/opt/omero/venv/bin/omero", "import"), transfer="ln_s",
                          server="omero.example.org", port=4064, sudo=None, extra_args=(), env={},
                          timeout_seconds=600, transfer_command=("/opt/omero/venv/bin/omero", "transfer"))
ROOT = "/tempZone/home/alice/omero/save/2026-01-01/Dataset-3"
VAULT = "/var/lib/irods/Vault/home/alice/omero/save/2026-01-01/Dataset-3"
FILE = [VAULT + "/a.tif"]


def _objects(*relative, vault=VAULT):
    return [{"path": ROOT + "/" + name, "physical_path": vault + "/" + name} for name in relative]


@pytest.mark.parametrize("user, group", [
    ("--sudo", "lab"), ("alice", "--sudo"), ("-k", "lab"), ("alice", "-"), (" alice", "lab"),
    ("alice", "lab "), ("al\nice", "lab"), ("alice", "l\x7fab"), ("ali/ce", "lab"), ("", "lab"),
    ("a" * 256, "lab"), (None, "lab"),
])
def test_a_name_that_could_be_read_as_an_option_or_is_no_omero_name_is_rejected(user, group):
    for build in (lambda: build_import_command(SETTINGS, user, group, FILE),
                  lambda: build_unpack_command(SETTINGS, user, group, VAULT)):
        with pytest.raises(Rejected) as raised:
            build()
        assert raised.value.reason == "inconsistent"
        assert raised.value.pointer in ("/omero/user", "/omero/group")


@pytest.mark.parametrize("user, group", [("alice", "Lab of Imaging"), ("user.name@example.org", "lab-2"),
                                         ("Jürgen", "a" * 255), ("o'brien", "x-ray")])
def test_real_omero_names_pass_as_single_arguments(user, group):
    argv = build_import_command(SETTINGS, user, group, FILE).argv
    assert argv[argv.index("-u") + 1] == user and argv[argv.index("-g") + 1] == group


def test_a_configured_sudo_admin_is_checked_too():
    with pytest.raises(Rejected):
        build_import_command(SETTINGS._replace(sudo="-w"), "alice", "lab", FILE)


def test_unpack_argv_puts_the_login_before_the_sub_command():
    command = build_unpack_command(SETTINGS, "alice", "lab", VAULT)
    assert command.argv == ["/opt/omero/venv/bin/omero", "transfer", "-s", "omero.example.org", "-p", "4064",
                            "-u", "alice", "-g", "lab", "unpack", "--folder", "--ln_s_import", VAULT]
    assert command.output == "ids" and command.login is None


def test_with_a_login_no_sudo_goes_to_argv_and_the_runner_gets_the_session_to_open():
    login = {"credentials_file": "/etc/irods/omero_importer.json", "python": "/opt/omero/venv/bin/python"}
    command = build_import_command(SETTINGS._replace(login=login, sudo="root"), "alice", "lab", FILE)
    assert "--sudo" not in command.argv and "-w" not in command.argv and "-k" not in command.argv
    assert command.login.user == "alice" and command.login.group == "lab"
    assert command.login.credentials_file == "/etc/irods/omero_importer.json"
    assert command.login.ttl_seconds == 0 and command.login.idle_seconds == 600


def test_the_session_of_an_unlimited_import_has_no_time_to_live_only_an_idle_time():
    """An import has no time limit by default: a session with a time to live would end a long
    import (ISession.ice createSessionWithTimeouts: 0 prevents destruction unless idle). Idle
    is twice the 300 s keep-alive of omero-py's CLI and of the Java importer, so a running
    import keeps it, and a session nobody uses any more ends by itself."""
    assert session_lifetimes(SETTINGS) == (0, 600)
    assert SESSION_IDLE_SECONDS >= 2 * 300


def test_with_the_admins_limit_the_session_ends_after_the_limit_plus_a_grace():
    assert session_lifetimes(SETTINGS._replace(max_seconds=7200)) == (7200 + 300, 600)
    login = {"credentials_file": "/etc/irods/omero_importer.json", "python": "/opt/omero/venv/bin/python"}
    command = build_import_command(SETTINGS._replace(login=login, max_seconds=7200), "alice", "lab", FILE)
    assert (command.login.ttl_seconds, command.login.idle_seconds) == (7500, 600)


def test_a_load_with_a_packet_in_one_vault_folder_is_unpacked_there():
    objects = _objects("transfer.xml", "user-2_3/2026-01/a.tif", "file_annotations/7/notes.txt")
    plan = plan_import("load", ROOT, objects)
    assert (plan.kind, plan.paths, plan.packet) == ("unpack", [VAULT], ROOT + "/transfer.xml")
    assert command_for_plan(SETTINGS, plan, "alice", "lab").argv[-4:] == ["unpack", "--folder", "--ln_s_import",
                                                                          VAULT]


def test_a_load_without_a_packet_imports_the_files():
    plan = plan_import("load", ROOT, _objects("b.tif", "a.tif"))
    assert (plan.kind, plan.paths, plan.packet) == ("import", [VAULT + "/a.tif", VAULT + "/b.tif"], None)


def test_a_packet_outside_one_folder_never_reaches_a_plain_import():
    objects = _objects("transfer.xml", "file_annotations/7/notes.txt") + [
        {"path": ROOT + "/a.tif", "physical_path": "/elsewhere/resc2/a.tif"}]
    plan = plan_import("load", ROOT, objects)
    assert (plan.kind, plan.paths) == ("import", ["/elsewhere/resc2/a.tif"])
    with pytest.raises(Rejected):
        plan_import("load", ROOT, _objects("transfer.xml")[:1] + [
            {"path": ROOT + "/file_annotations/1/x", "physical_path": "/elsewhere/x"}])


def test_an_ingest_holding_a_transfer_xml_is_imported_as_today():
    plan = plan_import("ingest", ROOT, _objects("transfer.xml", "a.tif"))
    assert plan.kind == "import" and plan.paths == [VAULT] and plan.packet is None


def _packet(*paths):
    values = "".join(
        '<XMLAnnotation ID="Annotation:%d"><Value><CLITransferServerPath><Path>%s</Path>'
        '</CLITransferServerPath></Value></XMLAnnotation>' % (i, path) for i, path in enumerate(paths))
    return ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><StructuredAnnotations>%s'
            '</StructuredAnnotations></OME>' % values).encode()


SNAPSHOT = _objects("transfer.xml", "user-2_3/2026-01/a.tif", "user-2_3/2026-01/multi/x.ets",
                    "file_annotations/7/notes.txt")


def test_a_packet_naming_files_and_folders_of_the_snapshot_is_accepted():
    check_packet(_packet("user-2_3/2026-01/a.tif", "user-2_3/2026-01/multi/mock_folder",
                         "file_annotations/7/notes.txt"), ROOT, SNAPSHOT)


@pytest.mark.parametrize("path", [
    "/var/lib/irods/Vault/home/bob/secret.tif", "../bob/secret.tif", "user-2_3/../../x.tif",
    "user-2_3/2026-01/missing.tif", "./user-2_3/2026-01/a.tif", "user-2_3//2026-01/a.tif",
    "/etc/mock_folder", "../../mock_folder", "nowhere/mock_folder", "",
])
def test_a_packet_naming_anything_outside_the_snapshot_is_rejected(path):
    with pytest.raises(Rejected) as raised:
        check_packet(_packet("user-2_3/2026-01/a.tif", path), ROOT, SNAPSHOT)
    assert raised.value.reason == "unsafe_member"


@pytest.mark.parametrize("xml, reason", [
    (b'<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY a "aaaa">]><OME>&a;</OME>', "inconsistent"),
    (b"<OME><unclosed></OME>", "inconsistent"),
    ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE OME [<!ENTITY a "a">]><OME/>'.encode("utf-16"),
     "inconsistent"),
    (b"<OME>\xff</OME>", "inconsistent"),
    (None, "limit"),
])
def test_a_packet_with_entities_broken_xml_or_too_large_is_rejected(xml, reason):
    with pytest.raises(Rejected) as raised:
        check_packet(xml, ROOT, SNAPSHOT)
    assert raised.value.reason == reason
