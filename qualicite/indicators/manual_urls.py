from django.urls import path

from qualicite.indicators import manual_views

app_name = "indicator_values"

urlpatterns = [
    path("", manual_views.index, name="index"),
    path("indicateurs/<int:pk>/saisir/", manual_views.enter, name="enter"),
    path("valeurs/<int:pk>/corriger/", manual_views.correct, name="correct"),
    path("valeurs/<int:pk>/justificatif/", manual_views.evidence, name="evidence"),
]
