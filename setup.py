"""Builds the optional C fast path of the queue_log parser; pyproject.toml holds the rest.

`optional=True`: on a machine without a C compiler the install still succeeds and the
parsers run in pure Python (`qualicite.reception.parsers.fastpath_active()` says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "qualicite.reception.parsers._fastpath",
            ["qualicite/reception/parsers/_fastpath.c"],
            optional=True,
        )
    ]
)
