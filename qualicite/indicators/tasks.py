"""Periodic work of the indicators, run by `qualicite tick`."""

from qualicite.charter.models import Indicator, SourceKind
from qualicite.core.models import Organisation
from qualicite.core.tick import tick_job
from qualicite.indicators import rollups
from qualicite.indicators.models import PendingRollup, RollupState


@tick_job("indicators.rollups")
def refresh_rollups(now) -> str | None:
    """Roll up again the days whose records changed; everything for a never rolled-up one."""
    pending = set(PendingRollup.objects.values_list("organisation_id", flat=True).distinct())
    computed = set(
        Indicator.objects.filter(source_kind=SourceKind.COMPUTED)
        .values_list("organisation_id", flat=True)
        .distinct()
    )
    rebuilt = set(
        RollupState.objects.filter(rebuilt_at__isnull=False).values_list(
            "organisation_id", flat=True
        )
    )
    wanted = pending | (computed - rebuilt)
    done = []
    for organisation in Organisation.objects.filter(pk__in=wanted, is_active=True).order_by("pk"):
        result = rollups.refresh(organisation)
        done.append(f"{organisation.slug}: {result.rows} rows")
    return "; ".join(done) or None
