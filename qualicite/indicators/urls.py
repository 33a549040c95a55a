from django.urls import path, re_path

from qualicite.indicators import views

app_name = "indicators"

# Mounted under /<org_slug>/espace/indicateurs/.
urlpatterns = [
    path("", views.index, name="dashboard"),
    path("service/<slug:code>/", views.service, name="service"),
    path("<int:pk>/detail/", views.drilldown, name="drilldown"),
    re_path(r"^export\.(?P<format>csv|xlsx|ods)$", views.export, name="export"),
]
