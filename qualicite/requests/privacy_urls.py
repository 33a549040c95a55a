from django.urls import path

from qualicite.requests import privacy_views

app_name = "privacy"

# Mounted under /<org_slug>/espace/donnees-personnelles/.
urlpatterns = [
    path("", privacy_views.index, name="index"),
    path("export/", privacy_views.export, name="export"),
    path("acces/", privacy_views.accesses, name="accesses"),
]
