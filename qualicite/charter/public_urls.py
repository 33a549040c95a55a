from django.urls import path

from qualicite.charter import views

app_name = "public"

# Mounted under /<org_slug>/: pages for citizens, no account needed.
urlpatterns = [
    path("", views.public_home, name="home"),
]
