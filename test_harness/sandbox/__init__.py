"""The iRODS sandbox: an embedded, emulated zone that runs the real rules/ through an emulation of the Python rule engine plugin."""
