"""Background and periodic work of the core app."""

from datetime import datetime, timedelta

from django.conf import settings
from django_tasks_db.models import DBTaskResult

from qualicite.core.tick import tick_job


@tick_job("core.prune_task_results")
def prune_task_results(now: datetime) -> str | None:
    """Forget finished background jobs after QUALICITE_TASK_RETENTION_DAYS."""
    cutoff = now - timedelta(days=settings.QUALICITE_TASK_RETENTION_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return f"{deleted} finished job(s) pruned" if deleted else None
