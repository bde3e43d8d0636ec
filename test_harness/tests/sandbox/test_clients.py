"""Which PEPs the emulated server fires, in which order, for each client kind.

Sources (as cited in omero_irods_sandbox/clients.py and prc_session.py):
- irods/irods lib/core/include/irods/apiHandler.hpp (call_handler: pre / op / post / except /
  finally, RULE_ENGINE_SKIP_OPERATION), server/api/src/rsDataObjPut.cpp, rsDataObjClose.cpp,
  rsDataObjRepl.cpp, rsDataObjRename.cpp, plugins/api/src/replica_close.cpp.
- python-irodsclient irods/manager/data_object_manager.py (open, put, WRITE_BUFFER_SIZE),
  irods/data_object.py (iRODSDataObjectFileRaw), irods/parallel.py (parallel put).
"""

import pytest

from omero_irods_sandbox.clients import Server
from omero_irods_sandbox.error_codes import IrodsError
from omero_irods_sandbox.prc_session import SandboxSession
from omero_irods_sandbox.prep.runtime import PrepRuntime

HOME = "/tempZone/home/alice"


def _core(tmp_path, body=""):
    """A core.py defining a recording rule for every PEP the tests look at, plus `body`."""
    etc = tmp_path / "etc"
    etc.mkdir()
    names = ["pep_api_data_obj_%s_%s" % (api, kind) for api in
             ("open", "write", "lseek", "close", "put", "repl", "rename", "unlink")
             for kind in ("pre", "post")]
    names += ["pep_api_replica_close_pre", "pep_api_get_file_descriptor_info_pre",
              "acPostProcForCreate", "acPostProcForOpen", "acPostProcForPut"]
    defined = set()
    for line in body.splitlines():
        if line.startswith("def "):
            defined.add(line[4:].split("(")[0])
    text = "".join("def %s(rule_args, callback, rei):\n    return 0\n" % name
                   for name in names if name not in defined)
    (etc / "core.py").write_text(text + body)
    # these rules import neither module: empty ones keep the tests independent of the shipped ones
    (etc / "genquery.py").write_text("")
    (etc / "session_vars.py").write_text("")
    return str(etc)


@pytest.fixture
def server_with(zone, tmp_path):
    def build(body=""):
        return Server(zone, PrepRuntime(zone, _core(tmp_path, body)))
    return build


def _ran(server):
    """Names of the PEPs for which a rule ran, in order."""
    return [p["name"] for p in server.pep_points if p["rule"]]


def test_iput_fires_put_peps_around_create_and_put_static_peps(server_with):
    server = server_with()
    server.data_obj_put("alice", HOME + "/a.txt", b"data")
    assert _ran(server) == ["pep_api_data_obj_put_pre", "acPostProcForCreate", "acPostProcForPut",
                            "pep_api_data_obj_put_post"]


def test_iput_over_an_existing_object_fires_open_not_create(server_with):
    server = server_with()
    server.data_obj_put("alice", HOME + "/a.txt", b"one")
    server.pep_points.clear()
    server.data_obj_put("alice", HOME + "/a.txt", b"two", force=True)
    assert "acPostProcForOpen" in _ran(server) and "acPostProcForCreate" not in _ran(server)


def test_iput_without_force_on_existing_object_fails_and_keeps_the_data(server_with, zone):
    server = server_with()
    server.data_obj_put("alice", HOME + "/a.txt", b"one")
    with pytest.raises(IrodsError) as caught:
        server.data_obj_put("alice", HOME + "/a.txt", b"two")
    assert caught.value.name == "OVERWRITE_WITHOUT_FORCE_FLAG"
    assert zone.read_bytes("alice", HOME + "/a.txt") == b"one"


def test_large_iput_runs_put_post_before_the_data_arrives(server_with):
    # rcDataObjPut.cpp: above the single-buffer size the put request only opens a portal;
    # the close (and its static PEPs) happens in OPR_COMPLETE, after pep_api_data_obj_put_post.
    server = server_with()
    server.single_buffer_max = 4
    server.data_obj_put("alice", HOME + "/big.bin", b"0123456789")
    names = [p["name"] for p in server.pep_points]
    assert names.index("pep_api_data_obj_put_post") < names.index("acPostProcForPut")
    assert names.index("acPostProcForPut") < names.index("pep_api_opr_complete_post")


def test_prc_open_write_close_never_fires_put_peps_and_close_has_no_path(server_with):
    server = server_with()
    session = SandboxSession(server, "alice")
    with session.data_objects.open(HOME + "/b.txt", "w") as handle:
        handle.write(b"x" * 10)
    ran = _ran(server)
    assert not [n for n in ran if n.startswith("pep_api_data_obj_put")]
    assert ran[:2] == ["pep_api_data_obj_open_pre", "pep_api_data_obj_open_post"]
    assert ran[-4:] == ["pep_api_data_obj_close_pre", "acPostProcForCreate", "acPostProcForPut",
                        "pep_api_data_obj_close_post"]
    close = [p for p in server.pep_points if p["name"] == "pep_api_data_obj_close_pre"][0]
    assert close["path"] is None  # OpenedDataObjInp holds the L1 descriptor only


def test_prc_put_writes_in_8_mib_chunks(server_with, tmp_path):
    # WRITE_BUFFER_SIZE = 1024 * io.DEFAULT_BUFFER_SIZE: 20 MiB -> 3 DATA_OBJ_WRITE requests
    server = server_with()
    local = tmp_path / "local.bin"
    local.write_bytes(b"\0" * (20 * 1024 * 1024))
    SandboxSession(server, "alice").data_objects.put(str(local), HOME + "/c.bin")
    assert _ran(server).count("pep_api_data_obj_write_pre") == 3
    assert server.zone.data_object(HOME + "/c.bin").size == 20 * 1024 * 1024


def test_prc_parallel_put_closes_extra_threads_with_replica_close(server_with, tmp_path, zone):
    server = server_with()
    local = tmp_path / "p.bin"
    local.write_bytes(bytes(range(256)) * 12)
    SandboxSession(server, "alice").data_objects.parallel_put(str(local), HOME + "/p.bin", num_threads=3)
    ran = _ran(server)
    assert ran.count("pep_api_data_obj_open_pre") == 3
    assert ran.count("pep_api_replica_close_pre") == 2
    assert ran.count("pep_api_data_obj_close_pre") == 1
    assert ran.count("acPostProcForPut") == 1
    assert ran.index("pep_api_replica_close_pre") < ran.index("pep_api_data_obj_close_pre")
    assert zone.read_bytes("alice", HOME + "/p.bin") == local.read_bytes()


def test_skip_operation_from_pre_pep_skips_the_put_but_runs_post(server_with, zone):
    server = server_with("def pep_api_data_obj_put_pre(rule_args, callback, rei):\n"
                         "    return irods_errors.RULE_ENGINE_SKIP_OPERATION\n")
    assert server.data_obj_put("alice", HOME + "/s.txt", b"data") == 0
    assert zone.data_object(HOME + "/s.txt") is None
    assert _ran(server) == ["pep_api_data_obj_put_pre", "pep_api_data_obj_put_post"]


def test_failing_pre_pep_fails_the_call_and_nothing_is_stored(server_with, zone):
    server = server_with("def pep_api_data_obj_put_pre(rule_args, callback, rei):\n"
                         "    return -818000\n")
    with pytest.raises(IrodsError) as caught:
        server.data_obj_put("alice", HOME + "/f.txt", b"data")
    assert caught.value.code == -818000
    assert zone.data_object(HOME + "/f.txt") is None
    assert "pep_api_data_obj_put_post" not in _ran(server)


def test_failing_post_pep_is_the_clients_error_although_data_is_stored(server_with, zone):
    server = server_with("def pep_api_data_obj_put_post(rule_args, callback, rei):\n"
                         "    return -818000\n")
    with pytest.raises(IrodsError) as caught:
        server.data_obj_put("alice", HOME + "/g.txt", b"data")
    assert caught.value.code == -818000
    assert zone.read_bytes("alice", HOME + "/g.txt") == b"data"


def test_failing_static_pep_at_close_does_not_reach_the_client(server_with, zone):
    server = server_with("def acPostProcForPut(rule_args, callback, rei):\n"
                         "    return -818000\n")
    assert server.data_obj_put("alice", HOME + "/h.txt", b"data") == 0
    assert zone.read_bytes("alice", HOME + "/h.txt") == b"data"
    assert any("acPostProcForPut" in line for line in server.log)


def test_replication_fires_acPostProcForPut_for_the_new_replica(server_with):
    server = server_with()
    server.data_obj_put("alice", HOME + "/r.txt", b"data")
    server.pep_points.clear()
    server.data_obj_repl("alice", HOME + "/r.txt", "replResc")
    assert _ran(server) == ["pep_api_data_obj_repl_pre", "acPostProcForCreate", "acPostProcForPut",
                            "pep_api_data_obj_repl_post"]


def test_rename_post_rule_failure_is_returned_after_the_rename(server_with, zone):
    server = server_with("def acPostProcForObjRename(rule_args, callback, rei):\n"
                         "    return -818000\n")
    server.data_obj_put("alice", HOME + "/old.txt", b"data")
    with pytest.raises(IrodsError):
        server.data_obj_rename("alice", HOME + "/old.txt", HOME + "/new.txt")
    assert zone.data_object(HOME + "/new.txt") is not None
