"""Finding the iRODS kit and a port for a throw-away zone."""

import os
import random
import socket

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KIT_ENV = "IRODS_KIT"

#: Ports developers start their own zones on (and 1247, iRODS' default): never used here.
RESERVED_PORTS = range(1247, 1261)
#: iRODS' parallel-transfer range is chosen by the kit from (port - 1247) mod 200: ports that
#: differ by a multiple of 200 share one, so the tier picks among ports whose range no
#: developer zone uses (kit start-zone.sh: 20000 + ((port - 1247 + 400) % 200) * 200).
CANDIDATE_PORTS = range(1261, 1447)


def kit_dir():
    """(path, None) for a usable kit, or (None, why the tier is skipped)."""
    explicit = os.environ.get(KIT_ENV)
    candidate = explicit or os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "irods"))
    if not os.path.isfile(os.path.join(candidate, "start-zone.sh")):
        where = "%s=%s" % (KIT_ENV, explicit) if explicit else candidate
        return None, "no iRODS kit (start-zone.sh) at %s; set %s=DIR" % (where, KIT_ENV)
    if os.geteuid() != 0:
        return None, "the iRODS kit starts zones as root (it creates the `irods` user); not root"
    return candidate, None


def parallel_range(port):
    start = 20000 + ((port - 1247 + 400) % 200) * 200
    return range(start, start + 200)


def _free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # irodsServer binds every address
        except OSError:
            return False
    return True


def pick_port(rng=random):
    """A free zone port outside RESERVED_PORTS whose parallel range looks free too."""
    ports = list(CANDIDATE_PORTS)
    rng.shuffle(ports)
    for port in ports:
        transfer = parallel_range(port)
        if _free(port) and _free(transfer[0]) and _free(transfer[-1]):
            return port
    raise RuntimeError("no free port in %d-%d for the test zone" % (CANDIDATE_PORTS[0], CANDIDATE_PORTS[-1]))
