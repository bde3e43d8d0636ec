"""End to end on real iRODS + OMERO: Save then Load, as the OMERO.scripts and `omero irods` do.

An image imported for alice is saved by alice (omero_irods.client.omero_actions.save_snapshot,
what iRODS_Save runs: its original files streamed from OMERO into iRODS, with omero-cli-
transfer's transfer.xml where the OMERO host has it), placed for her and not imported; then
loaded by her (request_load, what iRODS_Load runs): imported again in place, for alice, as
new images -- with `omero transfer unpack --ln_s_import` when the snapshot holds the packet.
"""

import contextlib
import time

import pytest

from omero_irods.image_ids import image_ids_in
from omero_irods import names

from realstack_support import write_pgm

pytestmark = pytest.mark.docker

FINAL = (names.IMPORTED, names.FAILED, names.REJECTED)
TIMEOUT_SECONDS = 600


def _avus(session, path):
    found = {}
    for avu in session.data_objects.get(path).metadata.items():
        found.setdefault(avu.name, []).append(avu.value)
    return found


def _wait(session, request_id, final):
    """The AVUs of a request's payload once its state is one of `final`; the payload is looked
    up by its request id each time (the policy moves it next to the data it placed)."""
    deadline, avus = time.monotonic() + TIMEOUT_SECONDS, {}
    while time.monotonic() < deadline:
        try:
            avus = _avus(session, _record(session, request_id))
        except Exception:  # between two places, or not yet tagged
            avus = {}
        if any(state in final for state in avus.get(names.AVU_STATE, [])):
            return avus
        time.sleep(5)
    raise AssertionError("request %s did not reach %s in %d s: %s" % (request_id, final, TIMEOUT_SECONDS, avus))


def _record(session, request_id):
    """The payload of a request wherever the policy keeps it now."""
    from irods.models import Collection, DataObject, DataObjectMeta

    rows = list(session.query(Collection.name, DataObject.name)
                .filter(DataObjectMeta.name == names.AVU_REQUEST_ID)
                .filter(DataObjectMeta.value == request_id))
    assert len(rows) == 1, rows
    return "%s/%s" % (rows[0][Collection.name], rows[0][DataObject.name])


@pytest.fixture(scope="module")
def alice(stack):
    gateway = pytest.importorskip("omero.gateway", reason="omero-py is needed to act as an OMERO user")
    connection = gateway.BlitzGateway("alice", "alice", host="127.0.0.1", port=stack.omero_port, secure=True)
    assert connection.connect(), "cannot log in to OMERO as alice on port %d" % stack.omero_port
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def irods(service_account_env):
    from omero_irods.adapters import prc

    session = prc.open_session(*service_account_env)
    yield session
    prc.close_session(session)


def _service_account(service_account_env):
    from omero_irods.adapters import prc

    @contextlib.contextmanager
    def open_session():
        session = prc.open_session(*service_account_env)
        try:
            yield session
        finally:
            prc.close_session(session)
    return open_session


def test_a_saved_snapshot_loads_back_as_new_images_of_the_user(stack, alice, irods, service_account_env,
                                                               tmp_path):
    from omero_irods.client import omero_actions
    from omero_irods.client.push import push

    folder = tmp_path / "to-save"
    folder.mkdir()
    write_pgm(str(folder / "saved.pgm"), 16, 16, seed=7)
    ingest = push(irods, omero_actions.settings.landing_zone(irods.zone, irods.username), str(folder),
                  names.INGEST, "alice", "lab", target="Dataset:name:realstack-save")
    ingested = _wait(irods, ingest.request_id, FINAL)
    assert ingested[names.AVU_STATE] == [names.IMPORTED], stack.logs("irods")[-4000:]
    (image_id,) = image_ids_in(ingested[names.AVU_OMERO_IMAGES])

    open_session = _service_account(service_account_env)
    message, saved = omero_actions.save_snapshot(alice, ["Image:%d" % image_id], name="realstack-snapshot",
                                                 open_session=open_session)
    placed = _wait(irods, saved.request_id, (names.PLACED, names.FAILED, names.REJECTED))
    assert placed[names.AVU_STATE] == [names.PLACED], (message, placed)
    snapshot = placed[names.AVU_DESTINATION][0]

    message, load = omero_actions.request_load(alice, snapshot, open_session=open_session)
    loaded = _wait(irods, load.request_id, FINAL)
    assert loaded[names.AVU_STATE] == [names.IMPORTED], (message, loaded, stack.logs("irods")[-4000:])
    new_ids = image_ids_in(loaded[names.AVU_OMERO_IMAGES])
    assert new_ids and image_id not in new_ids
    alice.SERVICE_OPTS.setOmeroGroup("-1")
    for new_id in new_ids:
        image = alice.getObject("Image", new_id)
        assert image is not None and image.getOwnerOmeName() == "alice"

