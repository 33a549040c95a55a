from django.urls import path

from qualicite.reception import desk_views

app_name = "desk"

urlpatterns = [
    path("", desk_views.tablet, name="tablet"),
    path("site/", desk_views.choose_site, name="choose_site"),
    path("arrivee/", desk_views.arrival, name="arrival"),
    path("<int:pk>/appel/", desk_views.call, name="call"),
    path("<int:pk>/fin/", desk_views.done, name="done"),
    path("<int:pk>/depart/", desk_views.left, name="left"),
    path("<int:pk>/annuler/", desk_views.reopen, name="reopen"),
    path("visites/", desk_views.visits, name="visits"),
    path("affluence/", desk_views.staffing, name="staffing"),
    path("import/", desk_views.import_visits, name="import"),
]
