"""End to end on real iRODS + OMERO: a push by the service account becomes an OMERO image.

What a facility depends on: files pushed through `omero_irods.client.push.push` as the ONE
service account reach state `imported`, OMERO holds an image for the mapped user, and OMERO
links to the vault file iRODS holds instead of keeping a copy (in-place import, --transfer=ln_s:
ome/omero-documentation omero/sysadmins/in-place-import.rst).
"""

import json
import os
import time

import pytest

from omero_irods import names
from omero_irods.image_ids import image_ids_in

from realstack_support import OMERO_ROOT_PASSWORD, ZONE, write_pgm

pytestmark = pytest.mark.docker

OMERO_USER = "alice"  # mapped to iRODS user alice by irods_config/user_map.example.json
OMERO_GROUP = "lab"  # created by test_harness/compose/omero/init-users.sh
IMPORT_TIMEOUT_SECONDS = 600
FINAL_STATES = (names.IMPORTED, names.FAILED, names.REJECTED)


def _landing_zone():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "irods_config",
                           "omero_irods.example.json"), encoding="utf-8") as handle:
        return json.load(handle)["zones"]["tempZone"]["landing_zone"]


def _avus(session, path):
    """{attribute: [values]} of the request's record, a collection (python-irodsclient); {}
    while it does not exist."""
    found = {}
    if not session.collections.exists(path):
        return found
    for avu in session.collections.get(path).metadata.items():
        found.setdefault(avu.name, []).append(avu.value)
    return found


def _wait_for_final_state(session, request_id):
    from omero_irods.client.listing import records_collection

    record = "%s/%s" % (records_collection(session), request_id)
    deadline = time.monotonic() + IMPORT_TIMEOUT_SECONDS
    avus = {}
    while time.monotonic() < deadline:
        avus = _avus(session, record)
        states = avus.get(names.AVU_STATE, [])
        if any(state in FINAL_STATES for state in states):
            return avus
        time.sleep(5)
    raise AssertionError("%s did not reach a final state in %d s; its AVUs: %s"
                         % (record, IMPORT_TIMEOUT_SECONDS, avus))


@pytest.fixture(scope="module")
def ingest(stack, service_account_env, tmp_path_factory):
    """One ingest of two small images for alice; yields (push result, record AVUs, image ids)."""
    from omero_irods.adapters import prc
    from omero_irods.client.push import push

    dataset = tmp_path_factory.mktemp("run1")
    write_pgm(str(dataset / "plane-a.pgm"), 32, 24, seed=1)
    write_pgm(str(dataset / "plane-b.pgm"), 32, 24, seed=2)
    session = prc.open_session(*service_account_env)
    try:
        result = push(session, _landing_zone(), str(dataset), names.INGEST, OMERO_USER, OMERO_GROUP,
                      target="Dataset:name:realstack")
        avus = _wait_for_final_state(session, result.request_id)
        yield result, avus, _image_ids(session, avus)
    finally:
        prc.close_session(session)


def test_pushed_files_reach_state_imported(ingest, stack):
    result, avus, image_ids = ingest
    assert avus.get(names.AVU_STATE) == [names.IMPORTED], (
        "state %s, error %s; iRODS log ends:\n%s" % (avus.get(names.AVU_STATE), avus.get(names.AVU_ERROR),
                                                    stack.logs("irods")[-6000:]))
    assert avus.get(names.AVU_REQUEST_ID) == [result.request_id]
    assert avus.get(names.AVU_OMERO_USER) == [OMERO_USER]
    assert len(image_ids) >= 2, "expected an image id per plane file, found %s" % image_ids


def test_omero_links_to_the_vault_file_instead_of_a_copy(ingest, stack):
    """ln_s: the ManagedRepository holds symlinks into the iRODS vault (mounted at the same path)."""
    listing = stack.compose("exec", "-T", "omero-server", "find", "/OMERO/ManagedRepository",
                            "-name", "plane-*.pgm", "-printf", "%y %l\\n").stdout.split("\n")
    entries = [line.split(" ", 1) for line in listing if line.strip()]
    assert entries, "no imported plane-*.pgm under /OMERO/ManagedRepository"
    for kind, target in entries:
        assert kind == "l", "OMERO holds a copy, not a link: %s" % (entries,)
        assert target.startswith("/data/irods/vault/home/alice/"), target


def _image_ids(session, payload_avus):
    """Image ids the policy wrote back: on the payload, or on the data it placed for alice."""
    from irods.column import Like
    from irods.models import Collection, DataObjectMeta

    values = list(payload_avus.get(names.AVU_OMERO_IMAGES, []))
    rows = session.query(DataObjectMeta.value).filter(DataObjectMeta.name == names.AVU_OMERO_IMAGES) \
        .filter(Like(Collection.name, "/%s/home/%s/%%" % (ZONE, OMERO_USER)))
    values += [row[DataObjectMeta.value] for row in rows]
    return image_ids_in(values)


def test_omero_holds_the_images_for_the_mapped_user(ingest, stack):
    omero_gateway = pytest.importorskip(
        "omero.gateway", reason="omero-py is not installed here; the OMERO-side check needs it")
    _, _, image_ids = ingest
    connection = omero_gateway.BlitzGateway("root", OMERO_ROOT_PASSWORD, host="127.0.0.1",
                                            port=stack.omero_port, secure=True)
    assert connection.connect(), "cannot log in to OMERO as root on port %d" % stack.omero_port
    try:
        connection.SERVICE_OPTS.setOmeroGroup("-1")
        for image_id in image_ids:
            image = connection.getObject("Image", image_id)
            assert image is not None, "OMERO has no Image:%d" % image_id
            assert image.getOwnerOmeName() == OMERO_USER
    finally:
        connection.close()
