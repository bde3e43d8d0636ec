"""The OMERO-host / instrument-host side: stream files into the landing zone and follow requests.

`tarstream` (pure: files -> pax tar chunks + manifest), `push` (tar, then payload, through a
python-irodsclient-shaped session), `credentials` (open that session safely), `listing` (read
request states back from AVUs), `cli` (the `omero-irods push|list|status` sub-commands).
python-irodsclient is imported only inside functions, so importing this package is cheap.
"""
