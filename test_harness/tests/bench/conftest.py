"""The benchmarks live in bench/ at the repository root (run as `python -m bench` from there);
make them importable however pytest was started."""

import os
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPOSITORY not in sys.path:
    sys.path.insert(0, REPOSITORY)
