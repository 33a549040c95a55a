from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RequestsConfig(AppConfig):
    name = "qualicite.requests"
    label = "requests"
    verbose_name = _("Requests")

    def ready(self):
        from qualicite.requests import days, mail, privacy, tasks  # noqa: F401 - tick jobs, signals
