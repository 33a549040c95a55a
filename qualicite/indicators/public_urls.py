from django.urls import path

from qualicite.indicators import public_views

app_name = "public_results"

# Mounted under /<org_slug>/resultats/: for citizens, no account needed.
urlpatterns = [
    path("", public_views.results, name="index"),
    path("affiche.pdf", public_views.poster, name="poster"),
]
