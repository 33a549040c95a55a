"""The phone pages, under /<org>/espace/appels/."""

from django.urls import path

from qualicite.reception import views

app_name = "reception"

urlpatterns = [
    path("", views.calls, name="calls"),
    path("<int:pk>/appel-test/", views.flag_test, name="flag_test"),
    path("imports/", views.imports, name="imports"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/avancement/", views.import_progress, name="import_progress"),
    path("files-attente/", views.queues, name="queues"),
    path("files-attente/<int:pk>/", views.queue_edit, name="queue_edit"),
]
