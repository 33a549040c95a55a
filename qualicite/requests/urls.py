from django.urls import path

from qualicite.requests import views

app_name = "requests"

urlpatterns = [
    path("demandes/<int:pk>/", views.detail, name="detail"),
]
