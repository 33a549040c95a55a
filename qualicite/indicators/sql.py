"""Moved to qualicite.core.localday (requests stamp their local days with it too)."""

from qualicite.core.localday import local_date, offset_changes  # noqa: F401
