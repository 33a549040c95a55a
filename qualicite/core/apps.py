from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "qualicite.core"
    label = "core"
    verbose_name = _("Organisations")

    def ready(self):
        from qualicite.core import checks, signals, tasks  # noqa: F401 - checks, signals, ticks
