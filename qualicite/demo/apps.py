from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo towns. Sits above every domain app, like urls.py: it may import them all."""

    name = "qualicite.demo"
    label = "demo"
    verbose_name = "Demo"
