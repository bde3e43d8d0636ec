"""The records collection's pure rules: where a request's record and claims are, and who may
write there without the pipeline refusing to trust it (omero_irods.records)."""

import pytest

from omero_irods import records
from omero_irods.config import default_records

RECORDS = "/tempZone/home/omero-svc/omero-irods-records"


def test_the_default_records_collection_is_in_the_service_accounts_home():
    assert default_records("tempZone", "omero-svc") == RECORDS


def test_only_collections_directly_in_the_records_are_records_and_links_is_none():
    assert records.request_id_of(RECORDS, RECORDS + "/20261122T101500Z-0000aaaa") == "20261122T101500Z-0000aaaa"
    assert records.request_id_of(RECORDS + "/", RECORDS + "/20261122T101500Z-0000aaaa/") == "20261122T101500Z-0000aaaa"
    for path in (RECORDS, RECORDS + "/links", RECORDS + "/rid00001/attempt-1", "/tempZone/home/alice/rid00001",
                 RECORDS + "-2/rid00001"):
        assert records.request_id_of(RECORDS, path) is None, path


def test_claims_are_numbered_entries_of_the_record():
    record = records.record_path(RECORDS, "rid00001")
    assert records.claim_path(record, records.ATTEMPT, 3) == record + "/attempt-3"
    names = ["attempt-1", "attempt-10", "attempt-2", "import-1", "staging-2", "attempt-x", "rid00001.omero-irods.json"]
    assert records.numbers(names, records.ATTEMPT) == [1, 2, 10]
    assert records.numbers(names, records.IMPORT_ATTEMPT) == [1]
    assert records.numbers(names, records.STAGING) == [2]
    assert records.link_path(RECORDS, "rid00001") == RECORDS + "/links/rid00001"


@pytest.mark.parametrize("level", ["read_object", "read object", "read_metadata", "null", "read"])
def test_reading_is_harmless(level):
    assert records.untrusted_writers([("bob", "rodsuser", level), ("public", "rodsgroup", level)], "omero-svc") == []


@pytest.mark.parametrize("level", ["own", "modify_object", "modify object", "write", "create_object",
                                   "delete_object", "create_metadata", "modify_metadata", "delete_metadata"])
def test_anything_more_than_reading_by_anyone_but_the_service_account_or_an_admin_is_refused(level):
    acl = [("omero-svc", "rodsuser", "own"), ("rods", "rodsadmin", "own"), ("bob", "rodsuser", level),
           ("lab", "rodsgroup", level)]
    assert records.untrusted_writers(acl, "omero-svc") == sorted([("bob", level), ("lab", level)])


class _Zone(object):
    """Just what records.check_trusted asks of a ZonePort."""

    def __init__(self, acls, existing=True):
        self.acls, self.existing, self.created, self.lines = acls, existing, [], []

    def kind(self, path):
        return "collection" if self.existing or path in self.created else None

    def create_collection_exclusive(self, path):
        self.created.append(path)
        return True

    def collection_acl(self, path):
        return self.acls.get(path, [])

    def log(self, line):
        self.lines.append(line)


class _ZoneConfig(object):
    name, service_account, records = "tempZone", "omero-svc", RECORDS


def test_check_trusted_names_who_may_write_and_how_to_remove_it():
    zone = _Zone({RECORDS: [("omero-svc", "rodsuser", "own")],
                  RECORDS + "/links": [("public", "rodsgroup", "read_object"), ("bob", "rodsuser", "modify_object")]})
    with pytest.raises(records.UntrustedRecords) as caught:
        records.check_trusted(zone, _ZoneConfig(), "/etc/irods/omero_irods.json")
    message = str(caught.value)
    # what is wrong in the zone, not a blame on the config file (which still says where it is set)
    assert message.startswith("the records collection %s is not trusted" % RECORDS)
    assert caught.value.pointer == "/zones/tempZone/records" and "/etc/irods" not in message
    assert "bob (modify_object) may write in %s/links" % RECORDS in message
    assert "ichmod -M null NAME %s/links" % RECORDS in message


def test_a_missing_records_collection_is_created_then_checked():
    zone = _Zone({RECORDS: [("omero-svc", "rodsuser", "own")]}, existing=False)
    records.check_trusted(zone, _ZoneConfig(), "/etc/irods/omero_irods.json")
    assert zone.created == [RECORDS] and "created the records collection" in zone.lines[0]
