"""End to end on real iRODS + OMERO through the OMERO.scripts themselves (omero_scripts/
iRODS_Save.py, iRODS_List.py, iRODS_Load.py: their functions called with alice's
BlitzGateway, as OMERO's script service would), and the importer's login as the stack sets it
up (docs/deploy.md section 5a: a light admin restricted to Sudo; each import in a session of
the mapped user that is closed once the import ended).

Skipped with the reason when no Docker engine is reachable (conftest.py)."""

import os

import pytest

from omero_irods import names

from realstack_support import REPO_ROOT, load_script, write_pgm
from test_realstack_save_load import FINAL, _wait, alice, irods  # noqa: F401 -- shared fixtures

pytestmark = pytest.mark.docker

IMPORTER = "omero-irods-importer"


def _script(name):
    pytest.importorskip("omero.scripts", reason="omero-py runs the OMERO.scripts")
    return load_script(os.path.join(REPO_ROOT, "omero_scripts", name + ".py"), name)


def _omero_hql(stack, query):
    """Rows of an HQL query run as OMERO's root inside the omero-server container."""
    script = ('/opt/omero/server/venv3/bin/omero login -q -s localhost -u root -w "$ROOTPASS" && '
              '/opt/omero/server/venv3/bin/omero hql --all --style plain --limit 1000 "$0"; '
              'status=$?; /opt/omero/server/venv3/bin/omero logout -q; exit $status')
    done = stack.compose("exec", "-T", "omero-server", "bash", "-c", script, query)
    return [line for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def scripts_env(service_account_env, monkeypatch):
    """The OS account running OMERO's scripts holds the service account's iRODS environment."""
    monkeypatch.setenv("IRODS_ENVIRONMENT_FILE", service_account_env[0])
    monkeypatch.delenv("OMERO_IRODS_LANDING_ZONE", raising=False)


def test_the_importer_is_a_light_admin_restricted_to_sudo(stack):
    restricted = _omero_hql(stack, "SELECT ap.name FROM Experimenter u JOIN u.config AS ap WHERE u.omeName = "
                                   "'%s' AND ap.name LIKE 'AdminPrivilege:%%' AND LOWER(ap.value) <> 'true'" % IMPORTER)
    assert len(restricted) == 14 and not [row for row in restricted if row.endswith("AdminPrivilege:Sudo")]
    mode = stack.exec_irods("stat -c '%a %U' /etc/irods/omero_importer.json").split()
    assert mode == ["600", "irods"]


def test_save_list_and_load_through_the_scripts(stack, alice, irods, scripts_env, tmp_path, capsys):  # noqa: F811
    from omero_irods.client import omero_actions
    from omero_irods.client.push import push

    folder = tmp_path / "scripted"
    folder.mkdir()
    write_pgm(str(folder / "scripted.pgm"), 16, 16, seed=11)
    ingest = push(irods, omero_actions.settings.landing_zone(irods.zone, irods.username), str(folder),
                  names.INGEST, "alice", "lab", target="Dataset:name:realstack-scripts")
    ingested = _wait(irods, ingest.request_id, FINAL)
    assert ingested[names.AVU_STATE] == [names.IMPORTED], stack.logs("irods")[-4000:]
    (image_id,) = sorted({int(v) for v in ingested[names.AVU_OMERO_IMAGE]})

    message, outputs = _script("iRODS_Save").save(alice, {"Data_Type": "Image", "IDs": [image_id],
                                                          "Snapshot_Name": "scripted-snapshot"})
    placed = _wait(irods, outputs["Request_ID"], (names.PLACED, names.FAILED, names.REJECTED))
    assert placed[names.AVU_STATE] == [names.PLACED], (message, placed)
    capsys.readouterr()
    _script("iRODS_List").list_requests(alice, {})
    assert outputs["Request_ID"] in capsys.readouterr().out  # the table the script prints
    message, loaded_request = _script("iRODS_Load").load(alice, {"Snapshot_Path": outputs["Request_ID"]})
    loaded = _wait(irods, loaded_request["Request_ID"], FINAL)
    assert loaded[names.AVU_STATE] == [names.IMPORTED], (message, loaded, stack.logs("irods")[-4000:])
    alice.SERVICE_OPTS.setOmeroGroup("-1")
    for new_id in sorted({int(v) for v in loaded[names.AVU_OMERO_IMAGE]}):
        assert alice.getObject("Image", new_id).getOwnerOmeName() == "alice"
    # every session the light admin opened for alice was closed by the check that saw its import end
    open_sessions = _omero_hql(stack, "SELECT s.uuid FROM Session s WHERE s.owner.omeName = 'alice' AND "
                                      "s.sudoer.omeName = '%s' AND s.closed IS NULL" % IMPORTER)
    assert open_sessions == []
