"""`qualicite tick`: the periodic jobs every app registers, run every minute.

Each job must be idempotent (running tick twice does no harm) and is isolated:
one failing job is logged and reported, and the others still run.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger("qualicite.tick")

TickJob = Callable[[datetime], str | None]
_jobs: dict[str, TickJob] = {}


def tick_job(name: str):
    """Register `function(now) -> summary or None` to run on every tick."""

    def register(function: TickJob) -> TickJob:
        _jobs[name] = function
        return function

    return register


def registered_jobs() -> dict[str, TickJob]:
    return dict(_jobs)


@dataclass
class JobOutcome:
    name: str
    ok: bool
    summary: str
    seconds: float


def run_tick(now: datetime | None = None) -> list[JobOutcome]:
    now = now or timezone.now()
    outcomes = []
    for name, job in _jobs.items():
        started = time.monotonic()
        try:
            summary = job(now) or ""
            ok = True
        except Exception as exc:  # one broken job must not stop the others
            logger.exception("tick job %s failed", name)
            summary, ok = f"{type(exc).__name__}: {exc}", False
        outcomes.append(JobOutcome(name, ok, summary, time.monotonic() - started))
    return outcomes
