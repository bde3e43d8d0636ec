"""Red-team cases on the records collection: an admin who lets a user write ONE record.

The delayed rules check the records collection's own ACL and its links' (records.check_trusted),
not each record's. An admin who grants a user write on "their" record (to let them mark it
for reprocessing, say) hands them every AVU that steers the request: state, reprocess mark,
import root and OMERO user.
"""

from pipeline_support import SERVICE, UNTIL_IDLE, Request, avus_of, base_scenario, ours, record_of
from test_forged_state import DRAIN, FILES, SWEEP
from omero_irods import names

RID = "20261202T110500Z-0000r101"
USERS = [{"name": SERVICE, "type": "rodsuser"},
         {"name": "alice", "type": "rodsuser", "groups": ["lab"]},
         {"name": "bob", "type": "rodsuser", "groups": ["lab"]}]


def test_a_user_let_write_a_record_cannot_steer_it(tmp_path, live_zone):
    request = Request(tmp_path, RID, FILES, target_name="run1")
    data = base_scenario(tmp_path, request.steps() + [UNTIL_IDLE], users=USERS, config=SWEEP,
                         mapped_users={"alice": "alice", "bob": "bob"})
    zone = live_zone(data)
    state = zone.state()
    record = record_of(state, RID)
    assert avus_of(state, record)[names.AVU_STATE] == names.IMPORTED and len(state["imports"]) == 1
    zone.catalog.set_acl("rods", record, "write", "bob", admin_mode=True)  # the careless admin
    # bob asks for alice's placed data (readable by the group lab) to be imported as OMERO user bob
    for attribute, value in ((names.AVU_STATE, names.FAILED), (names.AVU_REPROCESS, "requested"),
                             (names.AVU_OMERO_USER, "bob")):
        zone.catalog.set_avu("bob", record, attribute, value)
    zone.step({"advance_clock": "3600s"})
    zone.step(DRAIN)  # the sweep runs in it
    state = zone.state()
    assert len(state["imports"]) == 1, [run["argv"] for run in state["imports"]]
    refused = [line for line in ours(state["log"]) if "the record %s is not trusted" % record in line]
    assert refused and "bob (modify_object)" in refused[0] and "deferred" in refused[0], ours(state["log"])[-5:]
