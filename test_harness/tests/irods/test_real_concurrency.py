"""The delay server's real concurrency: 4 executors run due rules at once, each in its own agent.

One python-irodsclient upload of a payload fires both pep_api_data_obj_close_post and
acPostProcForPut, so two omero_irods_process rules for one payload are due in the same second;
many pushes at once keep every executor busy. Each request must be placed and imported
exactly once (one destination, one successful importer call)."""

import concurrent.futures

import pytest

from realzone.install import DELAY_EXECUTORS, SERVICE_ACCOUNT


def make_run(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "image.tif").write_bytes(("%s pixels\n" % name).encode() * 40)
    return folder


def test_executors_are_concurrent(tier):
    assert tier.zone.server_config()["advanced_settings"]["number_of_concurrent_delay_rule_executors"] >= 4
    assert DELAY_EXECUTORS >= 4


def test_duplicate_events_for_one_payload_place_and_import_once(tier, tmp_path, log_mark):
    """python-irodsclient's upload of the payload fires close_post and acPostProcForPut: two
    omero_irods_process rules, due together, run by two executors."""
    request_id = tier.push(make_run(tmp_path, "run-dup"))["request_id"]
    status = tier.wait_final(request_id)
    assert status["state"] == "imported", status
    lines = [line for line in tier.zone.server_log_lines(log_mark) if request_id in line]
    assert len([line for line in lines if "duplicate event ignored" in line or "duplicate ignored" in line]) >= 1, lines
    assert len([line for line in lines if line.startswith("omero-irods: placed %s " % request_id)]) == 1, lines
    destination = status["destination"]
    siblings = {path.rsplit("/", 2)[-2] for path in tier.data_objects_under(destination.rsplit("/", 1)[0])}
    assert sorted(name for name in siblings if name.startswith("run-dup")) == ["run-dup"]
    assert len([c for c in tier.imports_of(destination) if c.get("exit") == 0]) == 1


def test_many_payloads_at_once_each_placed_and_imported_once(tier, tmp_path):
    count = 8
    folders = [make_run(tmp_path, "run-many-%02d" % index) for index in range(count)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        pushed = list(pool.map(tier.push, folders))
    statuses = [tier.wait_final(p["request_id"], timeout=300) for p in pushed]
    assert [s["state"] for s in statuses] == ["imported"] * count, statuses
    destinations = [s["destination"] for s in statuses]
    assert len(set(destinations)) == count
    for folder, destination in zip(folders, destinations):
        assert destination.endswith("/" + folder.name), (folder.name, destination)
        assert len(tier.data_objects_under(destination)) == 1
        assert len([c for c in tier.imports_of(destination) if c.get("exit") == 0]) == 1, destination
        assert sorted(tier.avus(destination).get("omero_irods::request_id", [])) == \
            [s["request_id"] for s in statuses if s["destination"] == destination]
