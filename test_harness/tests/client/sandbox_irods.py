"""An emulated iRODS zone for client tests: the sandbox's server + SandboxSession.

The SandboxSession sends the requests python-irodsclient sends and the server fires the PEPs
a real one would (omero_irods_sandbox.prc_session, .clients). No rules are loaded (an empty
core.py): these tests are about what the client sends, not what the policy does with it.
"""

SERVICE_ACCOUNT = "omero-svc"
LANDING = "/tempZone/home/omero-svc/landing"
RECORDS = "/tempZone/home/omero-svc/omero-irods-records"


class SandboxIrods(object):
    """One emulated zone with the service account and its landing zone."""

    def __init__(self, tmp_path):
        from omero_irods_sandbox.catalog import Zone
        from omero_irods_sandbox.clients import Server
        from omero_irods_sandbox.prc_session import SandboxSession
        from omero_irods_sandbox.prep.runtime import PrepRuntime

        etc = tmp_path / "etc-irods"
        etc.mkdir()
        for name in ("core.py", "genquery.py", "session_vars.py"):
            (etc / name).write_text("")
        self.zone = Zone("tempZone", str(tmp_path / "zone"))
        self.zone.add_user(SERVICE_ACCOUNT)
        self.server = Server(self.zone, PrepRuntime(self.zone, str(etc)))
        self.session = SandboxSession(self.server, SERVICE_ACCOUNT)
        self.session.collections.create(LANDING, recurse=False)
        self.server.pep_points.clear()

    def read(self, path):
        return self.zone.read_bytes(SERVICE_ACCOUNT, path)

    def tree(self):
        """Every collection and data object below the service account's home."""
        home = self.zone.home(SERVICE_ACCOUNT)
        paths = [c.path for c in self.zone.collections()] + [d.path for d in self.zone.data_objects()]
        return sorted(p for p in paths if p.startswith(home + "/"))

    def payloads(self):
        from omero_irods.names import PAYLOAD_SUFFIX

        return [d.path for d in self.zone.data_objects() if d.path.endswith(PAYLOAD_SUFFIX)]

    def calls(self, *names):
        """(PEP name, path) of the server's calls, in order, e.g. calls('open', 'write')."""
        wanted = {"open": "pep_api_data_obj_open_pre", "write": "pep_api_data_obj_write_pre",
                  "close": "pep_api_data_obj_close_pre", "committed": "acPostProcForPut"}
        chosen = {wanted[n]: n for n in names}
        return [(chosen[p["name"]], p["path"]) for p in self.server.pep_points if p["name"] in chosen]

    def set_avus(self, path, pairs):
        for attribute, value in pairs:
            self.zone.add_avu(SERVICE_ACCOUNT, path, attribute, value)

    def record(self, request_id, pairs, payload=None):
        """What the policy keeps for a request: its record in the records collection, with
        AVUs; bound to the landing `payload` (its path) when given, as the claim binds it."""
        from omero_irods import names

        if self.zone.exists(RECORDS) is None:
            self.zone.create_collection(SERVICE_ACCOUNT, RECORDS)
        path = RECORDS + "/" + request_id
        self.zone.create_collection(SERVICE_ACCOUNT, path)
        pairs = [(names.AVU_REQUEST_ID, request_id)] + list(pairs)
        if payload:
            pairs.append((names.AVU_PAYLOAD_ID, str(self.zone.data_object(payload).id)))
        self.set_avus(path, pairs)
        return path
