"""The pipeline on a zone whose delay server hands rules to executors
(`advanced_settings.delay_rule_executors`, the scaling setting of docs/deploy.md section 8).

In that mode the delay server connects as the local admin PROXYING for each rule's owner
(irods/irods server/delay_server/src/irodsDelayServer.cpp), so the pipeline's rules arrive as
the service account, a plain rodsuser: the rule-text gate (omero_irods.rule_gate) must judge a
rule expression by its proxy, or every request would stop here."""

import socket

import pytest

from realzone import kit
from realzone.tier import Tier


@pytest.fixture(scope="module")
def executors_tier(request, tier_setup):
    """A zone of its own, its delay server naming this host as its executor; stopped by pid."""
    kit_path, base, python_dir = tier_setup
    started = Tier.start(kit_path, base, kit.pick_port(), python_dir, name="executors-zone")
    request.addfinalizer(started.zone.stop)
    host = socket.getfqdn()
    started.zone.edit_server_config(
        lambda config: config.setdefault("advanced_settings", {}).update(delay_rule_executors=[host]))
    started.zone.restart()
    return started


def test_a_push_is_placed_and_imported_when_executors_run_the_rules(executors_tier, tmp_path):
    settings = executors_tier.zone.server_config()["advanced_settings"]
    assert settings["delay_rule_executors"] == [socket.getfqdn()]
    folder = tmp_path / "run-executors"
    folder.mkdir()
    (folder / "image.tif").write_bytes(b"executor pixels\n" * 40)
    request_id = executors_tier.push(folder)["request_id"]
    status = executors_tier.wait_final(request_id)
    assert status["state"] == "imported", status
    assert len([c for c in executors_tier.imports_of(status["destination"]) if c.get("exit") == 0]) == 1
