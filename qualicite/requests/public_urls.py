from django.urls import path

from qualicite.requests import public_views

app_name = "requests_public"

# Mounted under /<org_slug>/: pages for citizens, no account needed.
urlpatterns = [
    path("ecrire/", public_views.write, name="write"),
    path("ecrire/confirmation/", public_views.confirmation, name="confirmation"),
    path("suivi/", public_views.track, name="track"),
]
