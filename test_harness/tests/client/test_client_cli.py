"""`omero-irods push | list | status`: exit status, output, progress."""

import argparse
import io
import json

import pytest

from faults import Faulty
from omero_irods.image_ids import image_avus
from omero_irods import names
from omero_irods.adapters import prc
from omero_irods.client import cli, listing
from omero_irods.client.push import request_load
from omero_irods.payload import parse_payload


def parse(argv):
    parser = argparse.ArgumentParser(prog="omero-irods")
    commands = parser.add_subparsers(dest="command")
    for name in ("push", "list", "status", "reprocess"):
        sub = commands.add_parser(name)
        sub.set_defaults(_command=name)
        cli.add_arguments(sub, name)
    return parser.parse_args(argv)


@pytest.fixture
def env_file(tmp_path, monkeypatch):
    path = tmp_path / "irods_environment.json"
    auth = tmp_path / "irodsA"
    auth.write_text(pytest.importorskip("irods.password_obfuscation").encode("s3cret"))
    auth.chmod(0o600)
    monkeypatch.setenv("OMERO_IRODS_PUSH_JOURNALS", str(tmp_path / "journals"))
    path.write_text(json.dumps({"irods_host": "h", "irods_port": 1247, "irods_user_name": "omero-svc",
                                "irods_zone_name": "tempZone", "irods_authentication_file": str(auth)}))
    monkeypatch.delenv("OMERO_IRODS_LANDING_ZONE", raising=False)
    return str(path)


@pytest.fixture
def connect(monkeypatch, session):
    """The CLI opens the sandbox session instead of a real one; returns what it opened."""
    opened = []

    def open_session(env_file, auth_file):
        opened.append(session)
        return session

    monkeypatch.setattr(prc, "open_session", open_session)
    return opened


def run(argv):
    return cli.run(parse(argv))


def test_push_commits_and_prints_the_request(irods, env_file, connect, run_dir, capsys):
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--target", "Dataset:name:run1", "--irods-env", env_file, "--request-id", "req-0000001"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK
    assert "request req-0000001 committed: 3 files" in out
    payload = irods.read("/tempZone/home/omero-svc/landing/req-0000001/req-0000001.omero-irods.json")
    assert parse_payload(payload, 1 << 20).target.omero_dataset == "Dataset:name:run1"


def test_push_json_output(session, env_file, connect, run_dir, capsys):
    assert run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                "--irods-env", env_file, "--json"]) == cli.EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert result["members"] == 3 and result["payload_path"].endswith(names.PAYLOAD_SUFFIX)


def test_dry_run_sends_nothing_and_shows_the_plan(env_file, connect, run_dir, capsys):
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--irods-env", env_file, "--dry-run", "--request-id", "req-0000002"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK and connect == []
    assert "would create /tempZone/home/omero-svc/landing/req-0000002/" in out
    assert "would stream req-0000002.tar: 3 files" in out


def test_bad_input_exits_2_before_connecting(env_file, connect, run_dir, capsys):
    (run_dir / "link").symlink_to(run_dir / "notes.txt")
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--irods-env", env_file])
    assert status == cli.EXIT_BAD_INPUT and connect == []
    assert "link: is a symbolic link" in capsys.readouterr().err


def test_a_bad_landing_zone_option_exits_2(env_file, connect, run_dir, capsys):
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--irods-env", env_file, "--landing-zone", "/tempZone/../etc"])
    assert status == cli.EXIT_BAD_INPUT and connect == []
    assert "must be an absolute iRODS path" in capsys.readouterr().err


def test_unsafe_credentials_exit_3(env_file, connect, run_dir, tmp_path, capsys):
    (tmp_path / "irodsA").chmod(0o644)
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--irods-env", env_file])
    assert status == cli.EXIT_CREDENTIALS and connect == []
    assert "accessible by group or others" in capsys.readouterr().err


def test_an_irods_failure_exits_1_and_says_what_failed(session, env_file, monkeypatch, run_dir, capsys):
    faulty = Faulty(session)
    faulty.fail("open", pytest.importorskip("irods.exception").CAT_NO_ACCESS_PERMISSION())
    monkeypatch.setattr(prc, "open_session", lambda env_file, auth_file: faulty)
    status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                  "--irods-env", env_file])
    assert status == cli.EXIT_FAILED
    assert ".tar failed: CAT_NO_ACCESS_PERMISSION" in capsys.readouterr().err


def _add_request(irods, landing, request_id, user, state, images=(), error=None):
    """A load request as the policy leaves it: its payload, and its record with state AVUs."""
    result = request_load(irods.session, landing, "/tempZone/home/%s/omero/save/snap" % user,
                          user, "lab", request_id=request_id)
    avus = [(names.AVU_STATE, state), (names.AVU_OPERATION, "load"), (names.AVU_OMERO_USER, user),
            (names.AVU_OMERO_GROUP, "lab")] + [avu[:2] for avu in (image_avus(images) if images else [])]
    if error:
        avus.append((names.AVU_ERROR, error))
    irods.record(request_id, avus, payload=result.payload_path)


def test_list_shows_requests_with_state_images_and_errors(irods, landing, env_file, connect, capsys):
    _add_request(irods, landing, "req-0000010", "alice", names.IMPORTED, images=["10", "9"])
    _add_request(irods, landing, "req-0000011", "bob", names.REJECTED, error="unmapped user bob")
    irods.session.collections.create(landing + "/req-0000012", recurse=False)  # push under way
    assert run(["list", "--irods-env", env_file]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["REQUEST", "OPERATION", "USER", "GROUP", "STATE", "IMAGES",
                                "DESTINATION", "ERROR"]
    # newest first; committed in the same second, so the later (larger) id first
    assert lines[1].split()[:5] == ["req-0000012", "?", "?", "?", "uploading"]
    assert lines[2].split()[:5] == ["req-0000011", "load", "bob", "lab", "rejected"]
    assert lines[2].endswith("unmapped user bob")
    assert lines[3].split()[:6] == ["req-0000010", "load", "alice", "lab", "imported", "9,10"]

    assert run(["list", "--irods-env", env_file, "--omero-user", "bob", "--json"]) == cli.EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert [(r["request_id"], r["state"], r["error"]) for r in listed] == [
        ("req-0000011", "rejected", "unmapped user bob")]


def test_status_shows_one_request_and_names_an_unknown_one(irods, landing, env_file, connect, capsys):
    _add_request(irods, landing, "req-0000020", "alice", names.IMPORT_QUEUED)
    assert run(["status", "req-0000020", "--irods-env", env_file]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "state:      import_queued" in out and "omero_irods::state = import_queued" in out
    assert run(["status", "req-0000404", "--irods-env", env_file]) == cli.EXIT_BAD_INPUT
    assert "no request req-0000404: %s/req-0000404 does not exist" % landing in capsys.readouterr().err


def test_reprocess_twice_is_not_an_error(irods, landing, env_file, connect, capsys):
    """The second mark finds the first still waiting for the watcher (adding the same AVU
    again would fail with CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME): already done."""
    _add_request(irods, landing, "req-0000020", "alice", names.FAILED, error="attempt 5: OMERO down")
    assert run(["reprocess", "req-0000020", "--irods-env", env_file]) == cli.EXIT_OK
    assert "request req-0000020 marked for reprocessing" in capsys.readouterr().out
    assert run(["reprocess", "req-0000020", "--irods-env", env_file]) == cli.EXIT_OK
    assert "request req-0000020 was already marked for reprocessing" in capsys.readouterr().out
    status = listing.request_status(irods.session, landing, "req-0000020")
    assert status.avus["reprocess"] == ["requested"]


def test_an_environment_file_landing_zone_is_used_and_a_bad_one_named(irods, env_file, connect, run_dir, capsys):
    irods.session.collections.create("/tempZone/home/omero-svc/inbox", recurse=False)
    with open(env_file) as handle:
        document = json.load(handle)
    for landing_zone, expected in (("/tempZone/home/omero-svc/inbox", cli.EXIT_OK),
                                   ("inbox", cli.EXIT_BAD_INPUT)):
        with open(env_file, "w") as handle:
            json.dump(dict(document, omero_irods_landing_zone=landing_zone), handle)
        status = run(["push", str(run_dir), "--omero-user", "alice", "--omero-group", "lab",
                      "--irods-env", env_file, "--request-id", "req-0000021"])
        assert status == expected
    assert irods.payloads() == ["/tempZone/home/omero-svc/inbox/req-0000021/req-0000021.omero-irods.json"]
    assert "landing zone 'inbox' (from omero_irods_landing_zone in %s)" % env_file in capsys.readouterr().err


def test_progress_is_plain_lines_without_a_terminal():
    stream = io.StringIO()
    reporter = cli.ProgressReporter(stream, is_tty=False)
    for done in range(0, 1001, 50):
        reporter(done, 1000)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "sent 0 B of 1000 B (0%)" and lines[-1] == "sent 1000 B of 1000 B (100%)"
    assert len(lines) == 11


def test_progress_is_a_redrawn_bar_on_a_terminal():
    stream = io.StringIO()
    ticks = iter(range(100))
    reporter = cli.ProgressReporter(stream, clock=lambda: next(ticks), is_tty=True)
    reporter(0, 2 * 1024 * 1024)
    reporter(1024 * 1024, 2 * 1024 * 1024)
    reporter.finish()
    text = stream.getvalue()
    assert text.startswith("\r[") and "\n" not in text[:-1] and text.endswith("\n")
    assert " 50% 1.0 MiB / 2.0 MiB" in text


def test_progress_shows_the_time_left_at_the_current_rate():
    stream = io.StringIO()
    ticks = iter([0, 10])
    reporter = cli.ProgressReporter(stream, clock=lambda: next(ticks), is_tty=True)
    reporter(0, 100 * 1024 * 1024)
    reporter(10 * 1024 * 1024, 100 * 1024 * 1024)  # 1 MiB/s: 90 s left
    assert stream.getvalue().rstrip().endswith("1.0 MiB/s ETA 1:30")


def test_progress_of_a_resumed_push_counts_its_rate_from_where_it_resumed():
    stream = io.StringIO()
    ticks = iter([100, 110])
    reporter = cli.ProgressReporter(stream, clock=lambda: next(ticks), is_tty=False)
    reporter(50 * 1024 * 1024, 100 * 1024 * 1024)  # iRODS already held half
    reporter(60 * 1024 * 1024, 100 * 1024 * 1024)  # 10 MiB in 10 s: 40 s left
    assert stream.getvalue().splitlines()[-1] == "sent 60.0 MiB of 100.0 MiB (60%), ETA 0:40"
