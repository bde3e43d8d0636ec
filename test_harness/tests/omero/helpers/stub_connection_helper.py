"""The real omero_irods.adapters.omero_session_helper, run by the real runner, with only the
connection (omero.client) replaced by fake_omero_connection.FakeClient."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from fake_omero_connection import FakeClient  # noqa: E402
from omero_irods.adapters import omero_session_helper  # noqa: E402

sys.exit(omero_session_helper.main(client_factory=FakeClient))
