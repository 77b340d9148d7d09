"""pytest setup: the package from bindings/python (unless weft is already
importable, e.g. installed) and the rank launcher of ranks.py."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
try:
    import weft  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
