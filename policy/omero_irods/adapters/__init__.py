"""Thin adapters at the edges: PREP callback, python-irodsclient, OMERO gateway."""
