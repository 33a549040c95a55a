from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceptionConfig(AppConfig):
    name = "qualicite.reception"
    label = "reception"
    verbose_name = _("Phone and front desk")

    def ready(self):
        # Tick jobs: imports whose worker died, appointments never checked in.
        from qualicite.reception import appointment_services, tasks  # noqa: F401
