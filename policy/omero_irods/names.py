"""The names other tools depend on: AVU attributes, states, file suffixes, paths.

One source for every side (rules, push client, OMERO scripts, sandbox, tests):
renaming anything here is a breaking change for deployed zones.
"""

#: Default location of the policy config on an iRODS server.
CONFIG_PATH = "/etc/irods/omero_irods.json"
#: Environment variable that overrides CONFIG_PATH (the sandbox sets it per zone).
CONFIG_PATH_ENV = "OMERO_IRODS_CONFIG"

#: A payload is any data object whose name ends with this; it is uploaded
#: AFTER the data it names and acts as the commit marker of a request.
PAYLOAD_SUFFIX = ".omero-irods.json"
#: `<rid>.omero-irods.mark`, next to a payload: its integrity mark (omero_irods.integrity)
MARK_SUFFIX = ".omero-irods.mark"

#: Every AVU this project writes starts with this prefix.
AVU_PREFIX = "omero_irods::"


def avu(name):
    """Full attribute name for a short name: avu('state') -> 'omero_irods::state'."""
    return AVU_PREFIX + name


AVU_STATE = avu("state")
AVU_ERROR = avu("error")
AVU_REQUEST_ID = avu("request_id")
AVU_OMERO_USER = avu("omero_user")
AVU_OMERO_GROUP = avu("omero_group")
AVU_OMERO_IMAGE = avu("omero_image")  # one image id each: written by versions before omero_images
AVU_OMERO_IMAGES = avu("omero_images")  # image ids as ranges, '101-180,185' (omero_irods.image_ids)
AVU_OMERO_IMAGE_COUNT = avu("omero_image_count")  # how many images the import created
AVU_OPERATION = avu("operation")
AVU_ATTEMPT = avu("attempt")  # written by versions before the records collection (claims are collections now)
AVU_IMPORT_ATTEMPT = avu("import_attempt")  # likewise: see omero_irods.records
AVU_STATE_SINCE = avu("state_since")  # epoch seconds of the last state change (how long it has been idle)
AVU_DESTINATION = avu("destination")  # where the request's data was placed
AVU_IMPORT_ROOT = avu("import_root")  # what the OMERO import links to
AVU_OMERO_TARGET = avu("omero_target")  # `omero import -T` target, e.g. Dataset:name:run1
AVU_REPROCESS = avu("reprocess")  # an admin's (or the OMERO side's) request to retry a failed request
AVU_LAST_SWEEP = avu("last_sweep")  # on the landing zone: epoch seconds of the sweep's last run (or scheduling)
AVU_PAYLOAD_ID = avu("payload_id")  # on a request's record: the catalog id of the payload object it claimed
AVU_LINKED_ROOT = avu("linked_root")  # on <records>/links/<rid>: what OMERO links to (units: the OMERO user)
AVU_LINKED_UNDER = avu("linked_under")  # on <records>/links: an allowed root anything was ever linked in
AVU_STAGED = avu("staged")  # on a request's record: the collection renamed into place (gone once published)
AVU_IMPORTER = avu("importer")  # on a request's record: the running importer (JSON: attempt, pid, start, boot)
AVU_IMPORT_CHECKED = avu("import_checked")  # on a request's record: epoch seconds of the last import check

#: The records collection's default, per zone: `/<zone>/home/<service account>/` + this.
DEFAULT_RECORDS_NAME = "omero-irods-records"

# States of a request (recorded on its payload object as AVU_STATE).
RECEIVED = "received"
VALIDATED = "validated"
PLACED = "placed"
IMPORT_QUEUED = "import_queued"
IMPORTING = "importing"  # the importer runs detached; a check rule polls it
IMPORTED = "imported"
FAILED = "failed"  # transient trouble outlasted its retries; may be reprocessed
REJECTED = "rejected"  # input that can never succeed; never retried

STATES = (RECEIVED, VALIDATED, PLACED, IMPORT_QUEUED, IMPORTING, IMPORTED, FAILED, REJECTED)

# Payload operations.
INGEST = "ingest"
SAVE = "save"
LOAD = "load"
OPERATIONS = (INGEST, SAVE, LOAD)

# Delayed rules (defined in rules/omero_irods_rules.py; scheduled by name with delayExec).
RULE_PROCESS = "omero_irods_process"  # claim, validate, place a request
RULE_IMPORT = "omero_irods_import"  # start the OMERO in-place import of a placed request (detached)
RULE_IMPORT_CHECK = "omero_irods_import_check"  # poll a running import; record its result
RULE_WATCH = "omero_irods_watch"  # a failed request's watcher, waiting for a reprocess mark
RULE_SWEEP = "omero_irods_sweep"  # the zone's periodic safety net: lost rules, unclaimed payloads, marks

# Admin rules (defined in rules/omero_irods_rules.py; called with `irule`).
RULE_STATUS = "omero_irods_status"  # the state, error and paths of one request
RULE_LIST = "omero_irods_list"  # the most recent requests
RULE_REPROCESS = "omero_irods_reprocess"  # mark a failed request for another attempt

#: The Python rule engine plugin's instance name in a default server_config.json.
DEFAULT_PREP_INSTANCE = "irods_rule_engine_plugin-python-instance"
