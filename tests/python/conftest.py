"""pytest setup: imports weft from bindings/python of this tree (set
WEFT_TEST_INSTALLED=1 to test the installed package instead), and makes the
rank launcher (ranks.py) and references (reference.py) importable."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
if os.environ.get("WEFT_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
