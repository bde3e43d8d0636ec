"""omero-py's session store, on disk exactly as omero-py lays it out (src/omero/util/
sessions.py SessionsStore): DIR/<host, URL-quoted>/<user>/<uuid> holds `key=value` lines
(omero.host, omero.user, omero.sess, omero.port, omero.group, omero.sudo); DIR/._LASTHOST_,
DIR/._LASTPORT_, DIR/<host>/._LASTUSER_ and DIR/<host>/<user>/._LASTSESS_ name the current one.
The emulated importer reads it the same way (omero_importer.py)."""

import os
from urllib.parse import quote

DEFAULT_PORT = "4064"  # omero.constants.GLACIER2PORT


class SessionsStore(object):
    def __init__(self, dir):
        self.dir = str(dir)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)

    def _user_dir(self, host, name):
        return os.path.join(self.dir, quote(host, safe=""), name)

    def add(self, host, name, id, props, sudo=None):
        props = dict(props, **{"omero.host": host, "omero.user": name, "omero.sess": id})
        if sudo is not None:
            props["omero.sudo"] = sudo
        os.makedirs(self._user_dir(host, name), exist_ok=True)
        with open(os.path.join(self._user_dir(host, name), id), "w", encoding="utf-8") as handle:
            handle.write("\n".join("%s=%s" % item for item in props.items()) + "\n")

    def get(self, host, name, uuid):
        props = {}
        with open(os.path.join(self._user_dir(host, name), uuid), encoding="utf-8") as handle:
            for line in handle.read().split("\n"):
                key, equals, value = line.partition("=")
                if equals:
                    props[key.strip()] = value.strip()
        return props

    def available(self, host, name):
        folder = self._user_dir(host, name)
        if not os.path.isdir(folder):
            return []
        return sorted(entry for entry in os.listdir(folder)
                      if not entry.startswith(".") and os.path.isfile(os.path.join(folder, entry)))

    def remove(self, host, name, uuid):
        try:
            os.remove(os.path.join(self._user_dir(host, name), uuid))
        except OSError:
            pass

    def set_current(self, host, name=None, uuid=None, props=None):
        self._write(os.path.join(self.dir, "._LASTHOST_"), host)
        if props is not None:
            self._write(os.path.join(self.dir, "._LASTPORT_"), props.get("omero.port", DEFAULT_PORT))
        if name is not None:
            os.makedirs(self._user_dir(host, name), exist_ok=True)
            self._write(os.path.join(self.dir, quote(host, safe=""), "._LASTUSER_"), name)
            if uuid is not None:
                self._write(os.path.join(self._user_dir(host, name), "._LASTSESS_"), uuid)

    def get_current(self):
        host = self._read(os.path.join(self.dir, "._LASTHOST_"))
        name = self._read(os.path.join(self.dir, quote(host, safe=""), "._LASTUSER_")) if host else None
        uuid = self._read(os.path.join(self._user_dir(host, name), "._LASTSESS_")) if name else None
        return host, name, uuid, self._read(os.path.join(self.dir, "._LASTPORT_")) or DEFAULT_PORT

    @staticmethod
    def _write(path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(str(text))

    @staticmethod
    def _read(path):
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            return None
