"""One throw-away iRODS 5.0.2 zone from the kit: start, configure, restart, stop (by pid),
its users and their clients (icommands, python-irodsclient), its log and its vault.

Everything lives in one folder under /var/tmp (the kit's WORKDIR, which users `irods` and
`postgres` must reach). `stop()` is safe to call at any time, any number of times.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import time

ZONE = "tempZone"
ADMIN = "rods"
PYTHON_INSTANCE = "irods_rule_engine_plugin-python-instance"
WRITELINE_PREFIX = "writeLine: inString = "


class ZoneError(Exception):
    """The zone could not be started or driven; the message says what and where to look."""


class RealZone(object):
    def __init__(self, kit, workdir, port):
        self.kit = kit
        self.workdir = os.path.abspath(workdir)
        self.port = port
        self.root = os.path.join(self.workdir, "irods")
        self.etc = os.path.join(self.root, "etc", "irods")
        self.vault = os.path.join(self.workdir, "vault")
        self.log_path = os.path.join(self.root, "var", "lib", "irods", "log", "test_mode_output.log")
        self.server_config_path = os.path.join(self.etc, "server_config.json")
        self.clients_dir = os.path.join(self.workdir, "clients")
        self.passwords = {}
        self.started_pids = set()

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self, pythonpath=None):
        argv = ["bash", os.path.join(self.kit, "start-zone.sh"), self.workdir, "--port", str(self.port)]
        if pythonpath:
            argv += ["--pythonpath", pythonpath]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        with open(os.path.join(self.workdir, "start-zone.out"), "a") as handle:
            handle.write(result.stdout + result.stderr)
        self._note_pids()
        if result.returncode != 0:
            raise ZoneError("start-zone.sh exited %d:\n%s" % (result.returncode, (result.stdout + result.stderr)[-3000:]))
        with open(os.path.join(self.workdir, "rods.password")) as handle:
            self.passwords[ADMIN] = handle.read().strip()
        self._write_client(ADMIN)

    def _note_pids(self):
        """Remember every pid the kit reports, so stop() can make sure each one is gone."""
        for name in ("tini.pid", os.path.join("irods", "var", "run", "irods", "irods-server.pid")):
            pid = _read_pid(os.path.join(self.workdir, name))
            if pid:
                self.started_pids.add(pid)
        pg = os.path.join(self.workdir, "pg", "postmaster.pid")
        if os.path.exists(pg):
            with open(pg) as handle:
                first = handle.readline().strip()
            if first.isdigit():
                self.started_pids.add(int(first))

    def stop(self):
        """stop-zone.sh (SIGTERM by pid file, PostgreSQL's pg_ctl), then SIGKILL any pid still alive."""
        if not os.path.isdir(self.workdir):
            return
        self._note_pids()
        subprocess.run(["bash", os.path.join(self.kit, "stop-zone.sh"), self.workdir],
                       capture_output=True, text=True, timeout=180)
        for pid in sorted(self.started_pids):
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def restart(self):
        subprocess.run(["bash", os.path.join(self.kit, "stop-zone.sh"), self.workdir],
                       capture_output=True, text=True, timeout=180)
        self.start()

    def remove(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- server_config.json -----------------------------------------------------------------
    def edit_server_config(self, change):
        with open(self.server_config_path) as handle:
            config = json.load(handle)
        change(config)
        with open(self.server_config_path, "w") as handle:
            json.dump(config, handle, indent=4)
        shutil.chown(self.server_config_path, "irods", "irods")

    def server_config(self):
        with open(self.server_config_path) as handle:
            return json.load(handle)

    # ---- users and clients ----------------------------------------------------------------
    def mkuser(self, name, kind="rodsuser", groups=()):
        password = "pw-" + secrets.token_hex(8)
        self.iadmin("mkuser", name, kind)
        self.iadmin("moduser", name, "password", password)
        self.passwords[name] = password
        for group in groups:
            self.mkgroup(group)
            self.iadmin("atg", group, name)
        self._write_client(name)

    def mkgroup(self, group):
        existing = self.icommand(ADMIN, "iadmin", "lg").stdout.split()
        if group not in existing:
            self.iadmin("mkgroup", group)

    def iadmin(self, *args):
        return self.icommand(ADMIN, "iadmin", *args)

    def client_dir(self, user):
        return os.path.join(self.clients_dir, user)

    def env_file(self, user):
        return os.path.join(self.client_dir(user), "irods_environment.json")

    def _write_client(self, user):
        """irods_environment.json + .irodsA (0600) for `user`, as an OMERO host holds them."""
        from irods.password_obfuscation import encode

        folder = self.client_dir(user)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        auth = os.path.join(folder, ".irodsA")
        env = {"irods_host": "localhost", "irods_port": self.port, "irods_user_name": user,
               "irods_zone_name": ZONE, "irods_authentication_file": auth,
               "irods_default_resource": "demoResc", "irods_default_hash_scheme": "SHA256"}
        with open(self.env_file(user), "w") as handle:
            json.dump(env, handle)
        os.chmod(self.env_file(user), 0o600)
        with open(auth, "w") as handle:
            handle.write(encode(self.passwords[user]))
        os.chmod(auth, 0o600)

    def client_environ(self, user):
        """Environment for icommands and `omero-irods` acting as `user`."""
        environ = dict(os.environ)
        environ["PATH"] = os.path.join(self.root, "bin") + os.pathsep + environ.get("PATH", "")
        environ["LD_LIBRARY_PATH"] = os.path.join(self.root, "lib")
        environ["IRODS_ENVIRONMENT_FILE"] = self.env_file(user)
        environ["IRODS_AUTHENTICATION_FILE"] = os.path.join(self.client_dir(user), ".irodsA")
        environ.pop("OMERO_IRODS_LANDING_ZONE", None)
        return environ

    def icommand(self, user, *argv, check=True, input_text=None, timeout=120):
        result = subprocess.run([os.path.join(self.root, "bin", argv[0])] + list(argv[1:]),
                                env=self.client_environ(user), capture_output=True, text=True,
                                input=input_text, timeout=timeout)
        if check and result.returncode != 0:
            raise ZoneError("%s as %s exited %d: %s %s" % (" ".join(argv), user, result.returncode,
                                                          result.stdout[-2000:], result.stderr[-2000:]))
        return result

    def session(self, user, **options):
        """A python-irodsclient session authenticated as `user`."""
        from irods.session import iRODSSession

        return iRODSSession(host="localhost", port=self.port, user=user, password=self.passwords[user],
                            zone=ZONE, **options)

    def irule(self, rule, inputs=None, user=ADMIN):
        """`irule -r <python instance> RULE '*k="v"' ruleExecOut`: (exit code, stdout, stderr)."""
        text = "%".join('*%s="%s"' % (key, value) for key, value in (inputs or {}).items()) or "null"
        result = self.icommand(user, "irule", "-r", PYTHON_INSTANCE, rule, text, "ruleExecOut", check=False)
        return result.returncode, result.stdout, result.stderr

    # ---- the log ------------------------------------------------------------------------
    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_entries(self, start=0):
        """The JSON log entries from byte offset `start`."""
        entries = []
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            return entries
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries

    def server_log_lines(self, start=0):
        """writeLine('serverLog', ...) texts from byte offset `start`, in order."""
        lines = []
        for entry in self.log_entries(start):
            message = entry.get("log_message", "")
            if message.startswith(WRITELINE_PREFIX):
                lines.append(message[len(WRITELINE_PREFIX):].rstrip("\n"))
        return lines

    def wait_for(self, predicate, timeout, interval=0.5, what="condition"):
        """Poll `predicate()` until truthy; its last value, or ZoneError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ZoneError("timed out after %ss waiting for %s" % (timeout, what))
            time.sleep(interval)

    def delay_queue(self):
        """The rules still scheduled (iqstat -a as rods): their text lines."""
        output = self.icommand(ADMIN, "iqstat", "-a", check=False).stdout
        return [line for line in output.splitlines() if line.strip() and "No delayed rules" not in line]


def _read_pid(path):
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
