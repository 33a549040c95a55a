import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from qualicite.core import tick


@pytest.fixture
def isolated_jobs(monkeypatch):
    jobs = dict(tick._jobs)
    monkeypatch.setattr(tick, "_jobs", jobs)
    return jobs


def test_a_failing_job_does_not_stop_the_others(isolated_jobs):
    ran = []
    isolated_jobs.clear()
    isolated_jobs["broken"] = lambda now: 1 / 0
    isolated_jobs["fine"] = lambda now: ran.append(now) or "done"
    outcomes = {o.name: o for o in tick.run_tick()}
    assert not outcomes["broken"].ok and "ZeroDivisionError" in outcomes["broken"].summary
    assert outcomes["fine"].ok and ran


def test_the_command_fails_when_a_job_failed(isolated_jobs, db):
    isolated_jobs["broken"] = lambda now: 1 / 0
    with pytest.raises(CommandError, match="tick job failed"):
        call_command("tick")


def test_finished_jobs_are_pruned_after_the_retention_and_twice_is_harmless(db, settings):
    settings.QUALICITE_TASK_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (40, 5):
        DBTaskResult.objects.create(
            status="SUCCESSFUL",
            args_kwargs={"args": [], "kwargs": {}},
            task_path="x.y",
            backend_name="default",
            queue_name="default",
            run_after=now,
            finished_at=now - dt.timedelta(days=days),
        )
    from qualicite.core.tasks import prune_task_results

    assert prune_task_results(now) == "1 finished job(s) pruned"
    assert prune_task_results(now) is None
    assert DBTaskResult.objects.count() == 1
