"""pytest setup: imports weft (and weft.torch) from bindings/python of this
tree. Every test module starts with pytest.importorskip("torch"), so the
folder SKIPs where torch is not installed."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "..", "bindings", "python"))
