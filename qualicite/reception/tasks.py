"""Background work of the reception app: uploaded call logs, imports left hanging."""

from datetime import datetime, timedelta

from django_tasks import task

from qualicite.core.tick import tick_job
from qualicite.reception import queries, services
from qualicite.reception.models import CallImport, ImportStatus

# A running import reports its progress at least every few seconds: one silent for this
# long died with its worker (killed, machine restarted) and will never finish.
STALE_AFTER = timedelta(minutes=15)


@task()
def import_call_file(call_import_id: int) -> str:
    """Imports an uploaded file of phone-system logs (`services.run_import`)."""
    call_import = services.run_import(call_import_id)
    return call_import.status if call_import is not None else "missing"


@tick_job("reception.stale_imports")
def fail_stale_imports(now: datetime) -> str | None:
    """Marks FAILED the imports whose worker died: their transaction was rolled back."""
    failed = 0
    running = CallImport.objects.filter(status=ImportStatus.RUNNING).select_related("organisation")
    for call_import in running:
        path = queries.progress_path(call_import.pk)
        try:
            last = datetime.fromtimestamp(path.stat().st_mtime, now.tzinfo)
        except FileNotFoundError:
            last = call_import.started_at or call_import.created_at
        if now - last < STALE_AFTER:
            continue
        updated = CallImport.objects.filter(pk=call_import.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED,
            finished_at=now,
            report={"failure": "the import stopped without finishing (worker stopped)"},
        )
        if updated:
            services.log(
                call_import.organisation,
                actor=None,
                verb="calls.import_failed",
                subject=call_import,
                error="stale",
            )
            services.forget_progress(call_import.pk)
            failed += 1
    return f"{failed} stale call import(s) marked failed" if failed else None
