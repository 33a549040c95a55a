"""Builds the optional C fast path of the queue_log parser; pyproject.toml holds the rest.

`optional=True`: on a machine without a C compiler the install still succeeds and the
parsers run in pure Python (`qualicite.reception.parsers.fastpath_active()` says which).
"""

from setuptools import Extension, setup

PARSERS = "qualicite/reception/parsers"

setup(
    ext_modules=[
        Extension(
            "qualicite.reception.parsers._fastpath",
            [
                f"{PARSERS}/_fastpath.c",
                f"{PARSERS}/_fastpath_lines.c",
                f"{PARSERS}/_fastpath_due.c",
            ],
            # Rebuilds every file when the shared header changes; MANIFEST.in ships it.
            depends=[f"{PARSERS}/_fastpath.h"],
            optional=True,
        )
    ]
)
