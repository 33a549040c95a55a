from django.urls import path

from qualicite.requests import delivery_views

app_name = "deliveries"

urlpatterns = [
    path("", delivery_views.index, name="index"),
    path("enregistrer/", delivery_views.record, name="record"),
    path("<int:pk>/remise/", delivery_views.deliver, name="deliver"),
]
