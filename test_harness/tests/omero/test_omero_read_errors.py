"""An original file OMERO refuses to serve (omero.policy.binary_access, a RawFileStore
error) is reported as OMERO's refusal, with OMERO's message, not as an iRODS upload failure
and not with the Java stack trace str() of an omero.ServerError carries."""

import pytest

pytest.importorskip("omero.gateway")

from fake_gateway import FakeGateway, FakeOriginalFile  # noqa: E402

pytestmark = pytest.mark.omero

REPO = "user-2_3/2026-01/01/12-00-00.000/"


class RestrictedFile(FakeOriginalFile):
    """Its reads fail as OMERO's RawFileBean does when downloads are restricted."""

    def asFileObj(self, buf=2621440):
        import omero
        import omero_ServerErrors_ice  # noqa: F401

        class Reader(object):
            def read(self, n=-1):
                raise omero.SecurityViolation(
                    serverStackTrace="ome.conditions.SecurityViolation: Download is restricted\n"
                                     "\tat ome.services.RawFileBean.read(RawFileBean.java:1)\n",
                    serverExceptionClass="ome.conditions.SecurityViolation",
                    message="Download is restricted")

            def close(self):
                pass
        return Reader()


def restricted_gateway():
    files = [RestrictedFile(REPO, "a.tif", b"pixels" * 10)]
    return FakeGateway(images={("Dataset", 3): [(1, 11)]}, filesets={11: files})


def test_an_omero_read_refusal_names_the_file_and_omeros_reason(irods, landing):
    from omero_irods.client import omero_actions

    before = irods.tree()
    with pytest.raises(omero_actions.ActionError) as raised:
        omero_actions.save_snapshot(restricted_gateway(), ["Dataset:3"], include_transfer_xml=False)
    message = str(raised.value)
    assert message.startswith(REPO + "a.tif: OMERO could not read this file: "
                              "SecurityViolation: Download is restricted")
    assert "serverStackTrace" not in message and "RawFileBean" not in message
    assert "the partial request was removed" in message and irods.tree() == before


def test_omero_message_keeps_plain_python_errors_readable():
    from omero_irods.adapters.omero_gateway import omero_message

    assert omero_message(RuntimeError("ROI service unavailable")) == "RuntimeError: ROI service unavailable"
    assert omero_message(KeyError()) == "KeyError"


def test_an_unexpected_omero_error_in_a_script_shows_its_message_not_its_java_trace(irods, monkeypatch):
    import omero
    import omero.gateway
    import omero.scripts
    import omero_ServerErrors_ice  # noqa: F401
    from fake_gateway import FakeScriptClient
    from test_omero_scripts import load_script

    class ExpiredSession(FakeGateway):
        def getEventContext(self):
            raise omero.SessionTimeoutException(
                serverStackTrace="ome.conditions.SessionTimeoutException\n\tat ome.services.sessions.X",
                serverExceptionClass="ome.conditions.SessionTimeoutException", message="session expired")

    client = FakeScriptClient({})
    monkeypatch.setattr(omero.scripts, "client", lambda *args, **kwargs: client)
    monkeypatch.setattr(omero.gateway, "BlitzGateway", lambda client_obj: ExpiredSession())
    load_script("iRODS_List").run_script()
    assert client.outputs["Message"] == ("Failed: unexpected SessionTimeoutException: session expired "
                                         "(details in the script's error output)")
