"""The sandbox's emulated `omero transfer unpack` parses argv as omero-cli-transfer does: the
same argv is accepted or refused by both, with the same values (ome/omero-cli-transfer
src/omero_cli_transfer.py TransferControl._configure, parsed through omero-py's CLI parser)."""

import pytest

from omero_irods_sandbox import omero_importer

pytestmark = pytest.mark.omero

ARGVS = [
    ["transfer", "-s", "omero", "-p", "4064", "-u", "alice", "-g", "lab", "unpack", "--folder", "--ln_s_import",
     "/vault/snap"],
    ["transfer", "unpack", "--folder", "/vault/snap", "--skip", "all", "--metadata", "img_id", "orig_user"],
    ["transfer", "unpack", "-u", "alice", "--folder", "/vault/snap"],  # login after the sub-command
    ["transfer", "unpack", "--folder"],  # no folder
    ["transfer", "unpack", "--skip", "everything", "/vault/snap"],
]


def _real(argv):
    from omero.cli import CLI

    cli = CLI()
    cli.loadplugins()
    try:
        return vars(cli.parser.parse_args(argv))
    except SystemExit as exit_:
        return exit_.code
    finally:
        cli.close()


def _emulated(argv):
    try:
        return vars(omero_importer._transfer_parser().parse_args(argv[1:]))
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("argv", ARGVS)
def test_the_emulation_parses_like_omero_cli_transfer(argv):
    real, emulated = _real(argv), _emulated(argv)
    if isinstance(real, dict):
        assert isinstance(emulated, dict), argv
        for key in ("filepath", "folder", "ln_s_import", "merge", "skip", "metadata", "server", "port", "user",
                    "group", "key", "sudo"):
            assert emulated[key] == real[key], key
    else:
        assert real == emulated == 2, argv
