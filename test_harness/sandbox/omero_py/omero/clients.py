"""omero.client against the sandbox's emulated OMERO server ($OMERO_IRODS_SANDBOX_OMERO): the
calls omero_irods.adapters.omero_session_helper makes (omero-py src/omero/clients.py:
createSession, joinSession, killSession, __del__; the ServiceFactory's ISession)."""

import os

import omero
from Glacier2 import PermissionDeniedException
from omero_irods_sandbox.omero_server import OmeroRefusal, OmeroServer

SERVER_ENV = "OMERO_IRODS_SANDBOX_OMERO"


def _server(host, port):
    server = OmeroServer(os.environ[SERVER_ENV])
    if server.address != (host, int(port)):
        raise omero.ServerError("Ice.ConnectionRefusedException: %s:%s isn't running" % (host, port))
    return server


def _raise(refusal):
    if refusal.kind == "PermissionDeniedException":
        raise PermissionDeniedException(refusal.message)
    raise getattr(omero, refusal.kind, omero.ServerError)(refusal.message)


class _Value(object):
    def __init__(self, value):
        self._value = value

    def getValue(self):
        return self._value


class _Session(object):
    def __init__(self, uuid):
        self._uuid = uuid

    def getUuid(self):
        return _Value(self._uuid)


class _SessionService(object):
    def __init__(self, server, caller):
        self._server, self._caller = server, caller

    def createSessionWithTimeouts(self, principal, time_to_live_ms, time_to_idle_ms):
        try:
            return _Session(self._server.create_session_for(self._caller, principal.name, principal.group,
                                                            time_to_live_ms, time_to_idle_ms))
        except OmeroRefusal as refusal:
            _raise(refusal)


class _ServiceFactory(object):
    def __init__(self, server, uuid):
        self._server, self._uuid = server, uuid

    def getSessionService(self):
        return _SessionService(self._server, self._uuid)


class BaseClient(object):
    def __init__(self, host, port=4064):
        self._server, self._uuid = _server(host, port), None

    def createSession(self, username, password):
        try:
            self._uuid = self._server.login(username, password)
        except OmeroRefusal as refusal:
            _raise(refusal)
        return _ServiceFactory(self._server, self._uuid)

    def joinSession(self, uuid):
        try:
            self._uuid = self._server.join(uuid)["uuid"]
        except OmeroRefusal as refusal:
            _raise(refusal)
        return _ServiceFactory(self._server, self._uuid)

    def killSession(self):
        if self._uuid:
            self._server.kill(self._uuid)
        return 1

    def __del__(self):
        # omero-py's __del__ closes this client's own session: the admin's login ends here
        if self._uuid and self._server.sessions().get(self._uuid, {}).get("sudoer") is None:
            self._server.kill(self._uuid)
        self._uuid = None
