"""Benchmarks of omero-irods: ratios against baselines measured in the same run (`make bench`)."""
