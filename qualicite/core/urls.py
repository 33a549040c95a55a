from django.urls import path

from qualicite.core import views

app_name = "core"

# Mounted under /<org_slug>/espace/.
urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("organisation/", views.organisation_detail, name="organisation"),
    path("services/<slug:service_code>/", views.service_detail, name="service"),
    path("historique/", views.history, name="history"),
]
