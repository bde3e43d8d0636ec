"""Glacier2's exception as omero-py's generated Ice code defines it (Glacier2_Session_ice.py)."""


class PermissionDeniedException(Exception):
    def __init__(self, reason=""):
        super().__init__(reason)
        self.reason = reason
