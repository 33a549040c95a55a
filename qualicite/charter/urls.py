from django.urls import path

from qualicite.charter import views

app_name = "charter"

# Mounted under /<org_slug>/espace/referentiel/.
urlpatterns = [
    path("", views.referentiel, name="referentiel"),
    path("modeles/", views.adopt, name="adopt"),
    path("export.yaml", views.export_yaml, name="export"),
    path("import/", views.import_yaml, name="import"),
    path("programmes/nouveau/", views.programme_create, name="programme_create"),
    path("programmes/<int:pk>/modifier/", views.programme_edit, name="programme_edit"),
    path("programmes/<int:pk>/supprimer/", views.programme_delete, name="programme_delete"),
    path("engagements/nouveau/", views.commitment_create, name="commitment_create"),
    path("engagements/<int:pk>/", views.commitment_detail, name="commitment"),
    path("engagements/<int:pk>/modifier/", views.commitment_edit, name="commitment_edit"),
    path("engagements/<int:pk>/supprimer/", views.commitment_delete, name="commitment_delete"),
    path(
        "engagements/<int:pk>/indicateurs/nouveau/",
        views.indicator_create,
        name="indicator_create",
    ),
    path("indicateurs/<int:pk>/modifier/", views.indicator_edit, name="indicator_edit"),
    path("indicateurs/<int:pk>/supprimer/", views.indicator_delete, name="indicator_delete"),
]
