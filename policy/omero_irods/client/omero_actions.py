"""What the OMERO.scripts (omero_scripts/iRODS_*.py) and `omero irods` do, given a BlitzGateway.

The OMERO user and group always come from the OMERO session (adapters.omero_gateway), never
from input. iRODS is reached as the service account configured on this host (see
client.credentials: ~/.irods of the OS account running OMERO; the scripts see no other
setting, see client.settings), and requests go to the landing zone of client.settings.
Every function returns a short message for the user plus the details; failures raise
ActionError with a message the user can act on.

What these functions report is the push: a request sent. What the policy then makes of it
(placed, imported, rejected with a reason) appears later, in list_my_requests.
"""

import contextlib
import io
import re

from omero_irods.adapters import omero_gateway, prc
from omero_irods.client import credentials, listing, push, settings
from omero_irods.client.cli import format_table, human_size
from omero_irods.client.tarstream import Member, SourceError

_UNSAFE_NAME = re.compile(r"[/\x00-\x1f\x7f]")
#: Appended to what save/load/push report: the push is all they know of.
FOLLOW_UP = "whether it is placed or imported, or why it was rejected, shows later in 'iRODS List' (omero irods list)"


class ActionError(Exception):
    """The action failed; the message is meant for the OMERO user."""


def save_snapshot(conn, refs, name=None, include_transfer_xml=True,
                  open_session=None, progress=None):
    """Stream the original files of `refs` (["Dataset:3", ...]) into iRODS as one snapshot.

    Returns (message, PushResult). One request per call: one tar named `<name>.tar`.
    """
    user, group = omero_gateway.session_identity(conn)
    name = _snapshot_name(name, refs)
    with _explained():
        filesets, without = omero_gateway.fileset_ids(conn, refs)
        if not filesets:
            raise ActionError("nothing to save: %s has no original files (images imported "
                              "before OMERO 5 keep none)" % ", ".join(refs))
        members = omero_gateway.fileset_members(conn, filesets)
    notes = []
    if without:
        notes.append("%d image(s) without original files skipped (Image:%s)"
                     % (len(without), ",".join(str(i) for i in without[:10])))
    if include_transfer_xml:
        members, note = _with_transfer_xml(conn, refs, members)
        notes.append(note)
    host = omero_gateway.server_host(conn)
    with _explained(), _irods(open_session) as (session, landing):
        # the tar is named after the request id: a snapshot name may hold anything
        result = push.push(session, landing, members, "save", user, group, target_name=name,
                           omero_server=host, omero_objects=_payload_refs(refs, filesets),
                           progress=progress, mark_key=_mark_key(open_session))
    message = "Saving %s as snapshot %s: %d files (%s) sent as request %s" % (
        ", ".join(refs), name, result.members, human_size(result.size), result.request_id)
    return "; ".join([message] + [n for n in notes if n] + [FOLLOW_UP]), result


def request_load(conn, snapshot, target_dataset=None, open_session=None):
    """Ask for a snapshot to be imported for this OMERO user. `snapshot` is its full iRODS path,
    or the request id of the save that placed it (this user's own saves only)."""
    user, group = omero_gateway.session_identity(conn)
    target = "Dataset:name:%s" % target_dataset if target_dataset else None
    with _explained(), _irods(open_session) as (session, landing):
        snapshot_path = snapshot if snapshot.startswith("/") else _saved_snapshot(
            session, landing, snapshot, user)
        result = push.request_load(session, landing, snapshot_path, user, group, target=target,
                                   omero_server=omero_gateway.server_host(conn),
                                   mark_key=_mark_key(open_session))
    return ("Load of %s requested as request %s%s; %s" % (
        snapshot_path, result.request_id, " into dataset %s" % target_dataset if target_dataset else "",
        FOLLOW_UP)), result


def _saved_snapshot(session, landing, request_id, user):
    try:
        return listing.snapshot_of(session, landing, request_id, user)
    except LookupError as error:
        raise ActionError("%s is neither a snapshot's full iRODS path (starting with /) nor the "
                          "request id of one of your saves: %s" % (request_id, error.args[0])) from error


def list_my_requests(conn, open_session=None):
    """(summary message, table text, [RequestStatus]) of this OMERO user's requests."""
    user, _group = omero_gateway.session_identity(conn)
    with _explained(), _irods(open_session) as (session, landing):
        requests = listing.list_requests(session, landing, omero_user=user)
    if not requests:
        return "No iRODS requests for %s" % user, format_table(requests), requests
    counts = {}
    for request in requests:
        counts[request.state] = counts.get(request.state, 0) + 1
    summary = ", ".join("%d %s" % (n, state) for state, n in sorted(counts.items()))
    return ("%d iRODS request(s) for %s: %s" % (len(requests), user, summary),
            format_table(requests), requests)


def push_files(conn, paths, target=None, follow_symlinks=False,
               open_session=None, progress=None):
    """Ingest local files for the OMERO session's user (the `omero irods push` command)."""
    user, group = omero_gateway.session_identity(conn)
    with _explained(), _irods(open_session) as (session, landing):
        result = push.push(session, landing, paths, "ingest", user, group, target=target,
                           follow_symlinks=follow_symlinks,
                           omero_server=omero_gateway.server_host(conn), progress=progress)
    return ("Sent %d files (%s) as request %s; %s" % (result.members, human_size(result.size),
                                                      result.request_id, FOLLOW_UP)), result


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def _irods(open_session):
    """(session, landing zone) of the service account: from its files on this host, or
    `open_session()` if given (the landing zone then from $OMERO_IRODS_LANDING_ZONE or the
    default)."""
    if open_session is not None:
        with open_session() as session:
            yield session, settings.landing_zone(session.zone, session.username)
        return
    account = credentials.service_account()
    with credentials.irods_session(account.env_path) as session:
        yield session, account.landing_zone


def _mark_key(open_session):
    """The zone's integrity key the requests are signed with (None: none configured), from
    the service account's environment file or $OMERO_IRODS_MARK_KEY_FILE."""
    if open_session is not None:
        return settings.mark_key()
    return credentials.service_account().mark_key


def _snapshot_name(name, refs):
    name = (name or "").strip() or "_".join(ref.replace(":", "-") for ref in refs)[:100]
    if _UNSAFE_NAME.search(name) or name in (".", ".."):
        raise ActionError("snapshot name %r may not contain '/' or control characters" % name)
    return name


def _with_transfer_xml(conn, refs, members):
    """members plus transfer.xml and the files it names as attachments
    (file_annotations/<id>/<name>, as omero-cli-transfer's pack lays them out), or members
    alone; and a note for the user."""
    if any(ref.startswith("Fileset:") for ref in refs):
        return members, "transfer.xml left out (it describes Projects, Datasets, Images, Screens and Plates)"
    try:
        xml, attachments, why_not = omero_gateway.transfer_packet(
            conn, refs, omero_gateway.server_host(conn))
    except Exception as error:  # its metadata is a bonus: the original files still go
        xml, attachments, why_not = None, [], "omero-cli-transfer failed: %s" % (
            omero_gateway.omero_message(error),)
    taken = {member.path for member in members}
    clashing = [a.path for a in attachments if a.path in taken]
    if xml is not None and clashing:
        xml, why_not = None, "its attachment %s has the path of an original file" % clashing[0]
    if xml is None:
        return members, "transfer.xml left out: %s" % why_not
    packet = members + attachments + [Member("transfer.xml", len(xml), 0, lambda: io.BytesIO(xml))]
    note = ("transfer.xml added with %d attached file(s)" % len(attachments)) if attachments else None
    return packet, note


def _payload_refs(refs, filesets):
    # The payload lists what was snapshotted; bounded by the schema's maxItems.
    listed = list(refs) + ["Fileset:%d" % i for i in filesets if "Fileset:%d" % i not in refs]
    return listed[:10000]


class _explained(object):
    """Turn the errors a user can act on into ActionError, keeping their message."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, (omero_gateway.OmeroError, push.PushError, SourceError,
                              credentials.CredentialsError, settings.SettingsError)):
            raise ActionError(str(error)) from error
        if isinstance(error, Exception) and prc.is_irods_error(error):
            raise ActionError("iRODS refused or could not be reached: %s" % prc.describe(error)) from error
        return False


# ---------------------------------------------------------------- OMERO.scripts


def run_script(client, action, gateway_factory=None):
    """Run `action(conn, inputs) -> (message, {output: value})` for an OMERO.script.

    The outcome reaches the user as the script's `Message` output (what OMERO.web shows);
    a failure also goes to stderr, so the job is marked as failed. The session is closed.
    """
    import sys
    import traceback

    from omero.rtypes import rstring

    if gateway_factory is None:
        from omero.gateway import BlitzGateway as gateway_factory
    outputs = {}
    try:
        conn = gateway_factory(client_obj=client)
        message, outputs = action(conn, client.getInputs(unwrap=True))
    except ActionError as error:
        message = "Failed: %s" % error
        print(message, file=sys.stderr)
    except Exception as error:
        message = "Failed: unexpected %s (details in the script's error output)" % (
            omero_gateway.omero_message(error),)
        traceback.print_exc()
    try:
        client.setOutput("Message", rstring(message))
        for key, value in sorted(outputs.items()):
            client.setOutput(key, rstring(str(value)))
    finally:
        client.closeSession()
    return message
