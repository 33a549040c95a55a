from django.urls import path, re_path

from qualicite.reports import views

app_name = "reports"

# Mounted under /<org_slug>/espace/rapports/.
urlpatterns = [
    path("reclamations/", views.complaints, name="complaints"),
    re_path(
        r"^reclamations/bilan-reclamations-(?P<year>[0-9]{4})\.(?P<extension>pdf|ods|xlsx|csv)$",
        views.complaints_download,
        name="complaints_download",
    ),
    path("pics-d-appels/", views.call_peaks_page, name="call_peaks"),
    re_path(
        r"^pics-d-appels/pics-d-appels\.(?P<extension>pdf|ods|xlsx|csv)$",
        views.call_peaks_download,
        name="call_peaks_download",
    ),
]
