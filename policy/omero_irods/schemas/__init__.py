"""JSON Schemas (2020-12) shipped with the package: payload, policy config, user map."""
