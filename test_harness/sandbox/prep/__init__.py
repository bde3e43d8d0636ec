"""Emulation of the iRODS Python rule engine plugin (PREP)."""
