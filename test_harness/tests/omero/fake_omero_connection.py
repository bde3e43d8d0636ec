"""A stand-in for omero.client's network side: what a Glacier2 router would answer. Everything
above it (omero-py's CLI, argument parsers, session store, login logic) is the real code.

One OMERO "server" state is shared through a JSON file ($FAKE_OMERO_STATE), so the session
helper (a subprocess) and the in-process CLI see the same sessions: the admin's login creates
a session for a Principal; joining needs a live session's uuid; killing ends it.
Calls are recorded in the same file, for the tests to assert on."""

import json
import os

ADMIN, ADMIN_PASSWORD = "importer", "s3cret"


def _load():
    path = os.environ["FAKE_OMERO_STATE"]
    if not os.path.exists(path):
        return {"sessions": {}, "calls": [], "next": 1}
    with open(path) as handle:
        return json.load(handle)


def _save(state):
    with open(os.environ["FAKE_OMERO_STATE"], "w") as handle:
        json.dump(state, handle)


def record(*call):
    state = _load()
    state["calls"].append(list(call))
    _save(state)


def calls():
    return _load()["calls"]


def sessions():
    return _load()["sessions"]


class _Value(object):
    def __init__(self, value):
        self._value = value

    def getValue(self):
        return self._value

    val = property(getValue)


class _Session(object):
    def __init__(self, uuid, idle_ms, live_ms):
        self._uuid, self._idle, self._live = uuid, idle_ms, live_ms

    def getUuid(self):
        return _Value(self._uuid)

    def getTimeToIdle(self):
        return _Value(self._idle)

    def getTimeToLive(self):
        return _Value(self._live)


class _EventContext(object):
    def __init__(self, user, group, uuid):
        self.userName, self.groupName, self.sessionUuid = user, group, uuid
        self.userId, self.groupId, self.isAdmin = 2, 3, False


class _Identity(object):
    def __init__(self, name):
        self.name = name


class _SessionService(object):
    def __init__(self, factory):
        self._factory = factory

    def createSessionWithTimeouts(self, principal, live_ms, idle_ms):
        state = _load()
        uuid = "c0ffee00-0000-4000-8000-%012d" % state["next"]
        state["next"] += 1
        state["sessions"][uuid] = {"user": principal.name, "group": principal.group,
                                   "event_type": principal.eventType, "live_ms": live_ms, "idle_ms": idle_ms,
                                   "by": self._factory.user}
        state["calls"].append(["createSessionWithTimeouts", type(principal).__module__ + "." +
                               type(principal).__name__, principal.name, principal.group, live_ms, idle_ms])
        _save(state)
        return _Session(uuid, idle_ms, live_ms)

    def getSession(self, uuid):
        entry = _load()["sessions"].get(uuid, {"idle_ms": 600000, "live_ms": 0})
        return _Session(uuid, entry["idle_ms"], entry["live_ms"])


class _Admin(object):
    def __init__(self, factory):
        self._factory = factory

    def getEventContext(self):
        return _EventContext(self._factory.user, self._factory.group, self._factory.uuid)


class _Factory(object):
    def __init__(self, user, group, uuid):
        self.user, self.group, self.uuid = user, group, uuid

    def getSessionService(self):
        return _SessionService(self)

    def getAdminService(self):
        return _Admin(self)

    def ice_getIdentity(self):
        return _Identity(self.uuid)

    def detachOnDestroy(self):
        pass

    def keepAlive(self, proxy):
        return True


class FakeClient(object):
    """omero.client(props) or omero.client(host, port): no communicator, no network."""

    def __init__(self, *args, **kwargs):
        if args and isinstance(args[0], dict):
            self.props = dict(args[0])
        else:
            self.props = {"omero.host": args[0], "omero.port": str(args[1] if len(args) > 1 else 4064)}
        self.sf = None

    def setAgent(self, agent):
        pass

    def getProperty(self, name):
        return str(self.props.get(name, ""))

    def createSession(self, username, password):
        import omero.clients  # noqa: F401 -- loads the Glacier2 types
        from Glacier2 import PermissionDeniedException

        live = _load()["sessions"]
        if username == ADMIN and password == ADMIN_PASSWORD:
            record("createSession", "admin", username)
            self.sf = _Factory(ADMIN, "system", "admin-session")
        elif username == password and username in live:
            record("createSession", "join", username)
            self.sf = _Factory(live[username]["user"], live[username]["group"], username)
        else:
            record("createSession", "refused", username)
            raise PermissionDeniedException("Password check failed")
        return self.sf

    def joinSession(self, uuid):
        return self.createSession(uuid, uuid)

    def getSessionId(self):
        return self.sf.uuid

    def getSession(self):
        return self.sf

    def enableKeepAlive(self, seconds):
        pass

    def killSession(self):
        state = _load()
        state["sessions"].pop(self.sf.uuid, None)
        state["calls"].append(["killSession", self.sf.uuid])
        _save(state)
        return 1

    def closeSession(self):
        self.sf = None

    def __del__(self):
        self.closeSession()
