"""Builds the weft package (pure Python over libweft via ctypes).

The version is weft's own, read from include/weft.h next to this folder.
WEFT_BUNDLE_LIBRARY=/path/to/libweft.so at install time copies that library
into the package (weft/_libs/), which then needs no WEFT_LIBRARY at run time.
"""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

here = os.path.dirname(os.path.abspath(__file__))


def weft_version():
    header = os.path.join(here, "..", "..", "include", "weft.h")
    with open(header) as f:
        text = f.read()
    return ".".join(re.search(r"#define WEFT_%s (\d+)" % p, text).group(1) for p in ("MAJOR", "MINOR", "PATCH"))


bundle = os.environ.get("WEFT_BUNDLE_LIBRARY")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if bundle:
            dest = os.path.join(self.build_lib, "weft", "_libs")
            os.makedirs(dest, exist_ok=True)
            # named by its SONAME, as the loader would look it up
            shutil.copyfile(os.path.realpath(bundle), os.path.join(dest, "libweft.so.0"))


class MaybeBinary(Distribution):
    def has_ext_modules(self):  # a wheel with a bundled .so is platform-specific
        return bool(bundle)


setup(version=weft_version(), cmdclass={"build_py": BuildWithLibrary}, distclass=MaybeBinary)
