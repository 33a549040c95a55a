from django.urls import path

from qualicite.requests import public_views

app_name = "requests_public"

urlpatterns = [
    path("suivi/", public_views.track, name="track"),
]
