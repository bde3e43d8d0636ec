"""What the tests do on the real zone, through user-facing surfaces only: `omero-irods push /
status / list` (the service account's client), the irule admin rules, the catalog as rods sees
it (python-irodsclient), the vault on disk and the emulated importer's log.
"""

import json
import os
import subprocess
import sys
import tempfile

from realzone import install
from realzone.zone import ADMIN, ZONE, RealZone

USERS = [(install.SERVICE_ACCOUNT, "rodsuser", []), ("alice", "rodsuser", ["lab"]),
         ("bob", "rodsuser", ["lab"]), ("mallory", "rodsuser", [])]
USER_MAP = {"schema": "omero-irods/user-map", "version": 1,
            "users": {"alice": "alice", "bob": "bob", "null": "bob"}, "groups": {"lab": "lab"}}
PROVISIONED = ("alice", "bob")
FINAL_STATES = ("imported", "rejected", "failed")
#: how long a request may take on the -O0 kit server with a 1 s delay-server sleep
REQUEST_TIMEOUT = 120


def tier_base_dir():
    """Where zones go: $OMERO_IRODS_TIER_DIR (the Makefile's, which its trap cleans), else new."""
    base = os.environ.get("OMERO_IRODS_TIER_DIR") or tempfile.mkdtemp(prefix="omero-irods-tier-", dir="/var/tmp")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    return base


class Tier(object):
    """An installed zone with the tier's users, provisioned, and the client commands."""

    def __init__(self, zone, config_path):
        self.zone = zone
        self.config_path = config_path
        self.import_log = install.import_log_path(zone)
        self.omero_irods = install.omero_irods_command()

    @classmethod
    def start(cls, kit, base, port, python_dir, name="zone", trace=True):
        zone = RealZone(kit, os.path.join(base, name), port)
        try:
            config_path = install.start_installed_zone(zone, python_dir, USERS, user_map=USER_MAP,
                                                       provisioned=PROVISIONED, trace=trace)
        except BaseException:
            zone.stop()
            raise
        return cls(zone, config_path)

    # ---- the config ---------------------------------------------------------------------
    def config(self):
        with open(self.config_path) as handle:
            return json.load(handle)

    def write_config(self, config):
        install.write_policy(self.zone, config, None)

    def zone_config(self, **overrides):
        """The tier's config with zone settings replaced (e.g. on_collision="refuse")."""
        return install.base_config(self.import_log, **overrides)

    def set_import_mode(self, mode):
        config = self.config()
        command = config["omero_import"]["command"]
        command[command.index("--sandbox-mode") + 1] = mode
        self.write_config(config)

    # ---- the client (as the service account) -------------------------------------------------
    def cli(self, *args, user=install.SERVICE_ACCOUNT, check=True):
        result = subprocess.run(self.omero_irods + list(args), env=self.zone.client_environ(user),
                                capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError("omero-irods %s exited %d:\n%s\n%s" % (" ".join(args), result.returncode,
                                                                      result.stdout[-3000:], result.stderr[-3000:]))
        return result

    def push(self, source, omero_user="alice", omero_group="lab", *extra):
        result = self.cli("push", str(source), "--omero-user", omero_user, "--omero-group", omero_group,
                          "--json", *extra)
        return json.loads(result.stdout)

    def status(self, request_id):
        result = self.cli("status", request_id, "--json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else None

    def list_requests(self):
        return json.loads(self.cli("list", "--json").stdout)

    def wait_final(self, request_id, states=FINAL_STATES, timeout=REQUEST_TIMEOUT):
        def done():
            status = self.status(request_id)
            return status if status and status.get("state") in states else None

        return self.zone.wait_for(done, timeout, what="request %s to reach %s (last: %s)"
                                  % (request_id, "/".join(states), self.status(request_id)))

    # ---- the catalog, as rods ---------------------------------------------------------------
    def admin_session(self):
        return self.zone.session(ADMIN)

    def acl(self, path):
        """{principal: level} of a collection or data object."""
        with self.admin_session() as session:
            target = session.collections.get(path) if session.collections.exists(path) else session.data_objects.get(path)
            return {entry.user_name: entry.access_name for entry in session.acls.get(target)}

    def avus(self, path):
        """{attribute: [values]} of a collection or data object."""
        with self.admin_session() as session:
            target = session.collections.get(path) if session.collections.exists(path) else session.data_objects.get(path)
            found = {}
            for avu in target.metadata.items():
                found.setdefault(avu.name, []).append(avu.value)
            return found

    def data_objects_under(self, collection):
        """{logical path: (size, checksum, [physical paths])} of every object below `collection`."""
        from irods.column import Like
        from irods.models import Collection, DataObject

        found = {}
        with self.admin_session() as session:
            for criterion in (Collection.name == collection, Like(Collection.name, collection + "/%")):
                query = session.query(Collection.name, DataObject.name, DataObject.size, DataObject.checksum,
                                      DataObject.path).filter(criterion)
                for row in query:
                    path = row[Collection.name] + "/" + row[DataObject.name]
                    size, checksum, physical = found.get(path, (row[DataObject.size], row[DataObject.checksum], []))
                    physical.append(row[DataObject.path])
                    found[path] = (size, checksum, physical)
        return found

    def exists(self, path):
        with self.admin_session() as session:
            return session.collections.exists(path) or session.data_objects.exists(path)

    # ---- the importer's record ----------------------------------------------------------------
    def imports(self):
        from omero_irods_sandbox.omero_importer import read_imports

        return read_imports(self.import_log)

    def imports_of(self, destination):
        """Importer calls whose argv names a vault path of `destination`."""
        vault_prefix = self.vault_path(destination)
        return [call for call in self.imports()
                if any(arg == vault_prefix or arg.startswith(vault_prefix + "/") for arg in call["argv"])]

    def vault_path(self, logical):
        """The unixfilesystem vault mirrors logical paths below /<zone>."""
        return os.path.join(self.zone.vault, os.path.relpath(logical, "/" + ZONE))

    # ---- the admin rules ----------------------------------------------------------------------
    def irule(self, rule, **inputs):
        return self.zone.irule(rule, inputs)


def files_on_disk(root):
    """Every regular file and symlink below `root` (to find writes outside the vault)."""
    found = set()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.add(os.path.join(folder, name))
    return found


def python():
    return sys.executable
