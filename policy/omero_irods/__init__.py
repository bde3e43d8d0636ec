"""omero-irods: keep OMERO's microscopy data in iRODS.

Pure policy logic lives at the top of this package (no iRODS imports);
`omero_irods.adapters` holds the thin edges (PREP callback, python-irodsclient,
OMERO gateway).
"""

__version__ = "0.1.0.dev0"
