"""Requests that failed on the real server until the plugin's conversions were handled (issue
9.1): an OMERO user named `null` (parseMspForStr reads the string "null" as a missing argument)
and a target name holding a session-variable word (rsRuleExecSubmit refuses such rule text)."""


def make_run(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "image.tif").write_bytes(b"pixels\n" * 20)
    return folder


def test_omero_user_named_null_is_imported(tier, tmp_path):
    status = tier.wait_final(tier.push(make_run(tmp_path, "run-null-user"), "null", "lab")["request_id"])
    assert status["state"] == "imported", status


def test_collection_name_with_a_session_variable_word_is_imported(tier, tmp_path):
    pushed = tier.push(make_run(tmp_path, "run-sv"), "alice", "lab", "--collection-name", "run$userNameClient")
    status = tier.wait_final(pushed["request_id"], timeout=90)
    assert status["state"] == "imported", status
    assert status["destination"].endswith("/run$userNameClient")
