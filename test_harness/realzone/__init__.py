"""The real-server tier's helpers: a throw-away iRODS 5.0.2 zone from the kit in ../shared/irods
(or $IRODS_KIT), omero-irods installed into it as an admin would, clients acting as users,
the PEP trace, and a runner that plays sandbox scenarios against the real zone.

Used by test_harness/tests/irods (`make test-irods`); not shipped in the package.
"""
