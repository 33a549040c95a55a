from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndicatorsConfig(AppConfig):
    name = "qualicite.indicators"
    label = "indicators"
    verbose_name = _("Indicators")

    def ready(self):
        # The sources register themselves; the signals mark changed days for tick.
        from qualicite.indicators import (  # noqa: F401
            signals,
            sources_desk,
            sources_phone,
            sources_requests,
            tasks,
        )
