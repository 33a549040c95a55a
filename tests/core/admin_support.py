"""Helpers of the admin tests: the registered models and how to post admin forms."""

from django import forms
from django.contrib.auth import get_user_model
from django.urls import reverse

from qualicite.charter.models import (
    CharterEvent,
    Commitment,
    Indicator,
    Programme,
    ServiceTarget,
)
from qualicite.core import events
from qualicite.core.models import (
    Membership,
    Organisation,
    OrganisationEvent,
    Role,
    Service,
    Site,
)
from qualicite.indicators.models import (
    Alert,
    IndicatorEvent,
    ManualValue,
    PendingRollup,
    Rollup,
    RollupState,
)
from qualicite.reports.models import ReportEvent
from qualicite.requests.models import (
    Mailbox,
    Prestation,
    ReplyTemplate,
    RequestEvent,
    RequestSettings,
    Theme,
)

User = get_user_model()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def make_referentiel(organisation):
    programme = Programme.objects.create(
        organisation=organisation, key="qualivilles", kind="qualivilles", name="Qualivilles"
    )
    commitment = Commitment.objects.create(
        organisation=organisation,
        programme=programme,
        number="1",
        title="Nous répondons à vos courriers sous 15 jours ouvrés",
    )
    indicator = Indicator.objects.create(
        organisation=organisation,
        commitment=commitment,
        code="courriers-dans-le-delai",
        name="Courriers répondus dans le délai",
        source="requests.answered_in_time",
        target=90,
    )
    ServiceTarget.objects.create(
        organisation=organisation,
        indicator=indicator,
        service=organisation.service_set.get(code="accueil"),
        target=95,
    )
    events.record(
        CharterEvent,
        organisation=organisation,
        actor=None,
        verb="programme.adopted",
        subject=programme,
    )
    make_request_configuration(organisation)
    make_indicator_rows(organisation, indicator)
    return programme


def make_request_configuration(organisation):
    """One row of each request-configuration model, and an event in each later app's log."""
    accueil = organisation.service_set.get(code="accueil")
    Theme.objects.create(organisation=organisation, name="Voirie")
    Prestation.objects.create(
        organisation=organisation, service=accueil, name="Passeport", announced_delay_days=20
    )
    ReplyTemplate.objects.create(
        organisation=organisation, name="Accusé", subject="Votre demande", body="Bonjour"
    )
    RequestSettings.of(organisation)
    Mailbox.objects.create(
        organisation=organisation, host="imap.example.org", username="mairie", password="x"
    )
    for model in (RequestEvent, ReportEvent):
        events.record(model, organisation=organisation, actor=None, verb="configured")


def make_indicator_rows(organisation, indicator):
    """One row of each indicators model the admin shows."""
    import datetime as dt

    accueil = organisation.service_set.get(code="accueil")
    day = dt.date(2025, 3, 1)
    Rollup.objects.create(
        organisation=organisation,
        indicator=indicator,
        service=accueil,
        day=day,
        numerator=8,
        denominator=10,
    )
    PendingRollup.objects.create(organisation=organisation, family="requests", day=day)
    RollupState.objects.create(organisation=organisation)
    ManualValue.objects.create(
        organisation=organisation,
        indicator=indicator,
        period_start=day,
        period_end=dt.date(2025, 3, 31),
        value=80,
    )
    Alert.objects.create(
        organisation=organisation,
        indicator=indicator,
        service=accueil,
        period="month",
        period_start=day,
        period_end=dt.date(2025, 3, 31),
        status="missed",
        value=80,
        target=90,
    )
    events.record(IndicatorEvent, organisation=organisation, actor=None, verb="configured")


def staff(user):
    user.is_staff = True
    user.save()
    return user


def one_agent(organisation):
    return User.objects.get(username=f"{organisation.slug}-{Role.AGENT}")


# (admin URL prefix, rows of one organisation)
MODELS = {
    "core_organisation": lambda o: Organisation.objects.filter(pk=o.pk),
    "core_service": lambda o: Service.objects.filter(organisation=o),
    "core_site": lambda o: Site.objects.filter(organisation=o),
    "core_membership": lambda o: Membership.objects.filter(organisation=o),
    "core_organisationevent": lambda o: OrganisationEvent.objects.filter(organisation=o),
    "auth_user": lambda o: User.objects.filter(memberships__organisation=o).distinct(),
    "charter_programme": lambda o: Programme.objects.filter(organisation=o),
    "charter_commitment": lambda o: Commitment.objects.filter(organisation=o),
    "charter_indicator": lambda o: Indicator.objects.filter(organisation=o),
    "charter_charterevent": lambda o: CharterEvent.objects.filter(organisation=o),
    "requests_theme": lambda o: Theme.objects.filter(organisation=o),
    "requests_prestation": lambda o: Prestation.objects.filter(organisation=o),
    "requests_replytemplate": lambda o: ReplyTemplate.objects.filter(organisation=o),
    "requests_requestsettings": lambda o: RequestSettings.objects.filter(organisation=o),
    "requests_mailbox": lambda o: Mailbox.objects.filter(organisation=o),
    "requests_requestevent": lambda o: RequestEvent.objects.filter(organisation=o),
    "reports_reportevent": lambda o: ReportEvent.objects.filter(organisation=o),
    "indicators_rollup": lambda o: Rollup.objects.filter(organisation=o),
    "indicators_pendingrollup": lambda o: PendingRollup.objects.filter(organisation=o),
    "indicators_rollupstate": lambda o: RollupState.objects.filter(organisation=o),
    "indicators_manualvalue": lambda o: ManualValue.objects.filter(organisation=o),
    "indicators_alert": lambda o: Alert.objects.filter(organisation=o),
    "indicators_indicatorevent": lambda o: IndicatorEvent.objects.filter(organisation=o),
}
READ_ONLY = {
    "core_organisationevent",
    "charter_charterevent",
    "requests_requestevent",
    "reports_reportevent",
    "indicators_indicatorevent",
}
# Computed rows: read-only like the event logs, but with no verb to forge.
COMPUTED = {"indicators_rollup", "indicators_pendingrollup", "indicators_rollupstate"}
# An organisation administrator may not add or delete organisations.
NO_ADD_FOR_ADMINISTRATORS = READ_ONLY | COMPUTED | {"core_organisation"}


def changelist(prefix):
    return reverse(f"admin:{prefix}_changelist")


def change(prefix, obj):
    return reverse(f"admin:{prefix}_change", args=[obj.pk])


def an_object(prefix, organisation):
    if prefix == "auth_user":
        return one_agent(organisation)
    return MODELS[prefix](organisation).first()


def listed(response):
    return {obj.pk for obj in response.context["cl"].result_list}


def _add_form_data(data, form):
    for name, field in form.fields.items():
        if field.disabled:
            continue
        key = form.add_prefix(name)
        value = form[name].value()
        if isinstance(field.widget, forms.CheckboxInput):
            data[key] = "on" if value else None
        elif value is None:
            data[key] = ""
        elif isinstance(value, list | tuple):
            data[key] = [str(getattr(item, "pk", item)) for item in value]
        else:
            data[key] = str(getattr(value, "pk", value))


def form_data(response, **changes):
    """The POST data of the admin form shown by `response`, as it stands, plus `changes`."""
    data = {}
    _add_form_data(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _add_form_data(data, formset.management_form)
        for form in formset.forms:
            _add_form_data(data, form)
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def form_errors(response):
    return response.context["adminform"].form.errors.as_data()


def error_codes(response, field):
    return {error.code for error in form_errors(response).get(field, [])}
