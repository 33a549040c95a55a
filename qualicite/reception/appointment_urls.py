from django.urls import path

from qualicite.reception import appointment_views

app_name = "appointments"

urlpatterns = [
    path("", appointment_views.index, name="index"),
    path("nouveau/", appointment_views.create, name="create"),
    path("import/", appointment_views.import_appointments, name="import"),
    path("<int:pk>/", appointment_views.edit, name="edit"),
    path("<int:pk>/arrivee/", appointment_views.check_in, name="check_in"),
    path("<int:pk>/recu/", appointment_views.serve, name="serve"),
    path("<int:pk>/absent/", appointment_views.no_show, name="no_show"),
    path("<int:pk>/annulation/", appointment_views.cancel, name="cancel"),
    path("<int:pk>/retablir/", appointment_views.reset, name="reset"),
]
