from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from qualicite.core import views as core_views

admin.site.site_header = "Qualicité"
admin.site.site_title = "Qualicité"

account_patterns = [
    path("connexion/", auth_views.LoginView.as_view(), name="login"),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "mot-de-passe/oublie/",
        auth_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "mot-de-passe/oublie/envoye/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe/nouveau/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe/nouveau/fait/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "mot-de-passe/changer/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "mot-de-passe/changer/fait/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    *account_patterns,
    path("<slug:org_slug>/logo", core_views.organisation_logo, name="organisation_logo"),
    path("<slug:org_slug>/espace/", include("qualicite.core.urls")),
    path("<slug:org_slug>/espace/referentiel/", include("qualicite.charter.urls")),
    path("<slug:org_slug>/espace/prestations/", include("qualicite.requests.delivery_urls")),
    path(
        "<slug:org_slug>/espace/donnees-personnelles/", include("qualicite.requests.privacy_urls")
    ),
    path("<slug:org_slug>/espace/", include("qualicite.requests.urls")),
    path("<slug:org_slug>/espace/rapports/", include("qualicite.reports.urls")),
    path("<slug:org_slug>/espace/indicateurs/", include("qualicite.indicators.urls")),
    path("<slug:org_slug>/espace/alertes/", include("qualicite.indicators.alert_urls")),
    path("<slug:org_slug>/espace/saisies/", include("qualicite.indicators.manual_urls")),
    path("<slug:org_slug>/espace/appels/", include("qualicite.reception.urls")),
    path("<slug:org_slug>/espace/guichet/", include("qualicite.reception.desk_urls")),
    path("<slug:org_slug>/espace/rendez-vous/", include("qualicite.reception.appointment_urls")),
    path("<slug:org_slug>/resultats/", include("qualicite.indicators.public_urls")),
    path("<slug:org_slug>/", include("qualicite.requests.public_urls")),
    path("<slug:org_slug>/", include("qualicite.charter.public_urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
