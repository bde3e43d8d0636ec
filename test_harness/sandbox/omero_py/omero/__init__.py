"""omero-py's server exceptions as the session helper catches them (omero_ServerErrors_ice.py:
every omero.ServerError carries `message`), raised from the emulated server's answers."""


class ServerError(Exception):
    def __init__(self, message=""):
        super().__init__(message)
        self.message = message


class SecurityViolation(ServerError):
    pass


class ApiUsageException(ServerError):
    pass


class RemovedSessionException(ServerError):
    pass


def client(host, port=4064):
    from omero.clients import BaseClient

    return BaseClient(host, port)
