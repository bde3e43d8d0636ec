"""The put PEPs never fail the client's call for omero-irods' reasons, whatever breaks while
they look at the event (a failing dynamic post-PEP fails the client's API call although the
data is stored: irods/irods lib/core/include/irods/apiHandler.hpp)."""

import sys
import types

from omero_irods.adapters import prep

CONTINUE = 5000000  # RULE_ENGINE_CONTINUE (irods/irods lib/core/include/irods/irods_re_plugin.hpp)


class Callback(object):
    def __init__(self):
        self.lines = []

    def writeLine(self, stream, line):
        self.lines.append((stream, line))


def test_a_put_event_whose_session_cannot_be_read_is_logged_and_the_put_succeeds(monkeypatch):
    def broken_get_map(rei):
        raise RuntimeError("rei has no rsComm")

    monkeypatch.setitem(sys.modules, "irods_errors", types.SimpleNamespace(RULE_ENGINE_CONTINUE=CONTINUE))
    monkeypatch.setitem(sys.modules, "session_vars", types.SimpleNamespace(get_map=broken_get_map))
    callback = Callback()
    path = "/tempZone/home/omero-svc/landing/r/r.omero-irods.json"
    assert prep.on_put_event(callback, None, path, "acPostProcForPut") == CONTINUE
    ((stream, line),) = callback.lines
    assert stream == "serverLog" and path in line and "rei has no rsComm" in line
