"""Only the optional C extension lives here; all other configuration is in pyproject.toml.

``gtn._kernels`` (gtn/_kernels.c: the scoring loops; gtn/_compose.c:
composition and scoring plans; Python.h and the buffer protocol only) is
``optional``: without a working C compiler the build prints a warning and ``pip install`` still
succeeds; gtn then scores graphs with its numpy levels (see gtn/scoring.py).
"""

import sys

from setuptools import Extension, setup

_FLAGS = [] if sys.platform == "win32" else ["-O2", "-pthread"]
_LINK = [] if sys.platform == "win32" else ["-pthread"]

setup(ext_modules=[Extension("gtn._kernels", ["gtn/_kernels.c", "gtn/_compose.c"], depends=["gtn/_kernels.h"],
                         extra_compile_args=_FLAGS, extra_link_args=_LINK, optional=True)])
