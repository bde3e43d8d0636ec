"""What the importer is handed: one vault directory instead of thousands of arguments, a
target checked again, and a clear refusal instead of E2BIG.

Sources: a command line holds at most ARG_MAX bytes (execve(2): E2BIG); omero-py
src/omero/plugins/import.py `--depth` ("Number of directories to scan down for files",
default 4) and `-T` (ome/omero-documentation omero/users/cli/import-target.rst); a vault
lays files out as their logical paths under the default GRAFT_PATH scheme, not under RANDOM
(irods/irods server/core/src/physPath.cpp getFilePathName, setPathForGraftPathScheme), and a
renamed or re-created replica may lie elsewhere.
"""

import pytest

from omero_irods.config import ImportSettings
from omero_irods.errors import Rejected
from omero_irods.omero_import import MAX_ARGV_BYTES, build_import_command, check_import_target, vault_directory

SETTINGS = ImportSettings(command=("omero", "import"), transfer="ln_s", server=None, port=None, sudo="root",
                          extra_args=(), env={}, timeout_seconds=600)
ROOT = "/tempZone/home/alice/omero/ingest/2026-11-22/run1"
VAULT = "/var/lib/irods/Vault/home/alice/omero/ingest/2026-11-22/run1"


def objects(*relative, vault=VAULT):
    return [{"path": ROOT + "/" + path, "physical_path": vault + "/" + path} for path in relative]


def test_a_tree_laid_out_in_one_vault_directory_is_imported_as_that_directory():
    assert vault_directory(ROOT, objects("a.tif", "b/c/d/e.tif")) == (VAULT, 5)
    assert vault_directory(ROOT, objects("a.tif")) == (VAULT, 4)  # never less than omero's default


def test_a_tree_whose_files_lie_elsewhere_is_imported_file_by_file():
    moved = objects("a.tif") + objects("b.tif", vault="/other/resource/vault/run1")
    assert vault_directory(ROOT, moved) is None
    renamed = [{"path": ROOT + "/a.tif", "physical_path": VAULT + "/a.tif.1700000000"}]  # e.g. a replica re-created
    assert vault_directory(ROOT, renamed) is None


def test_the_directory_and_its_depth_reach_the_argv():
    command = build_import_command(SETTINGS, "alice", "lab", [VAULT], depth=7)
    assert command.argv[-2:] == ["--depth=7", VAULT]


def test_more_files_than_a_command_line_holds_are_refused_with_a_clear_error():
    paths = ["%s/file-%06d.tif" % (VAULT, number) for number in range(MAX_ARGV_BYTES // 60)]
    with pytest.raises(Rejected) as refused:
        build_import_command(SETTINGS, "alice", "lab", paths)
    assert refused.value.reason == "limit"
    assert "%d files" % len(paths) in refused.value.message and "smaller collection" in refused.value.message


@pytest.mark.parametrize("target", ["Dataset:name:run 1", "Dataset:id:42", None])
def test_valid_targets_pass(target):
    check_import_target(target)


@pytest.mark.parametrize("target", ["Project:name:x", "Dataset:name:", "Dataset:id:0", "Dataset:name:a\nb", "-T"])
def test_a_target_read_back_from_an_avu_is_checked_again(target):
    with pytest.raises(Rejected) as refused:
        build_import_command(SETTINGS, "alice", "lab", [VAULT], target=target)
    assert refused.value.pointer == "/target/omero_dataset" and "Dataset:id:N" in refused.value.message
