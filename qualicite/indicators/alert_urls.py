from django.urls import path

from qualicite.indicators import alert_views

app_name = "indicator_alerts"

urlpatterns = [
    path("", alert_views.index, name="index"),
    path("<int:pk>/cloturer/", alert_views.close, name="close"),
]
