"""The indicators dashboard: the organisation's matrix, one service's page, the records behind
a figure, and the matrix as a spreadsheet.

Every page reads the roll-ups (`queries.results()` for the period, `dashboard.trend()` for
the last twelve months), so its cost does not grow with history. A member restricted to some
services sees only their columns and records; another service is a 404, like another
organisation's indicator.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qualicite.charter.models import SourceKind, Unit
from qualicite.core import permissions
from qualicite.core.permissions import Perm, organisation_view
from qualicite.indicators import charts, dashboard, exports, queries, rollups
from qualicite.indicators.dashboard_forms import EARLIEST, DashboardForm, PeriodForm, query_for

RECORDS_PER_PAGE = 50
DOWNLOADS = [
    ("ods", gettext_lazy("ODS spreadsheet (LibreOffice)")),
    ("xlsx", gettext_lazy("XLSX spreadsheet (Excel)")),
    ("csv", gettext_lazy("CSV, semicolon-separated")),
]
STATUS_ORDER = [
    queries.Status.MET,
    queries.Status.WARNING,
    queries.Status.MISSED,
    queries.Status.NO_DATA,
    queries.Status.WATCHED,
]


# --- URLs --------------------------------------------------------------------------------------


def _url(name: str, organisation, query: dict | None = None, **kwargs) -> str:
    url = reverse(f"indicators:{name}", kwargs={"org_slug": organisation.slug, **kwargs})
    return f"{url}?{urlencode(query)}" if query else url


def drilldown_url(organisation, indicator, period, column) -> str:
    return _url("drilldown", organisation, query_for(period, service=column.code), pk=indicator.pk)


def service_url(organisation, service, period) -> str:
    return _url("service", organisation, query_for(period), code=service.code)


# --- What every page shows around its figures --------------------------------------------------


def _period_nav(request, period, today, **extra) -> dict:
    """Links to the previous and next periods (none after today, none before EARLIEST)."""
    base = request.path
    previous, following = period.previous(), period.next()
    return {
        "previous_url": (
            f"{base}?{urlencode(query_for(previous, **extra))}"
            if previous.start >= EARLIEST
            else ""
        ),
        "previous_label": previous.label,
        "next_url": (
            f"{base}?{urlencode(query_for(following, **extra))}" if following.start <= today else ""
        ),
        "next_label": following.label,
    }


def _common(request, organisation, form, period, today, **extra) -> dict:
    updated = queries.last_updated(organisation)
    context = {
        "form": form,
        "period": period,
        "in_progress": period is not None and not period.is_closed(today),
        "updated_at": timezone.localtime(updated, organisation.zone) if updated else None,
        "statuses": [
            (status.value, queries.STATUS_SYMBOLS[status], queries.STATUS_LABELS[status])
            for status in STATUS_ORDER
        ],
    }
    if period is not None:
        context.update(_period_nav(request, period, today, **extra))
    return context


def _points(results) -> list[charts.Point]:
    return [charts.Point(r.period.short_label, r.value, r.value_display) for r in results]


def sparkline(row: dashboard.Row, column: dashboard.Column) -> str:
    if not row.trend:
        return ""
    indicator = row.indicator
    points = _points(row.trend)
    return charts.sparkline(
        f"spark-{indicator.pk}-{column.code or 'org'}",
        _("%(indicator)s, last 12 months (%(column)s)")
        % {"indicator": indicator.name, "column": column.label},
        charts.describe(points),
        points,
        target=row.trend[-1].target,
        percent=indicator.unit == Unit.PERCENT,
    )


def _decorate(organisation, matrix: dashboard.Matrix) -> None:
    """Give each cell its drill-down link and each row its sparkline, for the template."""
    lead = matrix.trend_column
    for row in matrix.rows:
        for cell in row.cells:
            cell.url = drilldown_url(organisation, row.indicator, matrix.period, cell.column)
            cell.basis = dashboard.basis(cell.result)
        row.sparkline = sparkline(row, lead) if lead is not None else ""
        first = row.first
        row.target_display = first.target_display if first is not None else ""
        for cell in row.cells:
            cell.own_target = (
                cell.result is not None and first is not None and cell.result.target != first.target
            )


def _downloads(organisation, period, **extra) -> list[tuple]:
    query = query_for(period, **extra)
    return [
        (extension, label, _url("export", organisation, query, format=extension))
        for extension, label in DOWNLOADS
    ]


# --- Pages -------------------------------------------------------------------------------------


@organisation_view(Perm.VIEW_INDICATORS)
def index(request, organisation):
    """The matrix: every indicator × the organisation and each service the member may see."""
    today = rollups.today(organisation)
    form = DashboardForm(request.GET, today=today)
    period = form.chosen
    subservices = form.is_valid() and form.cleaned_data["subservices"]
    extra = {"subservices": "on" if subservices else None}
    context = _common(request, organisation, form, period, today, **extra)
    if period is None:
        return render(request, "indicators/dashboard.html", context, status=400)
    columns = dashboard.columns_for(request.user, organisation, subservices=subservices)
    matrix = dashboard.matrix(organisation, period, columns)
    _decorate(organisation, matrix)
    for column in columns:
        column.url = service_url(organisation, column.service, period) if column.service else ""
    context.update(
        matrix=matrix,
        restricted=permissions.restricted_service_ids(request.user, organisation) is not None,
        downloads=_downloads(organisation, period, **extra),
    )
    return render(request, "indicators/dashboard.html", context)


@organisation_view(Perm.VIEW_INDICATORS)
def service(request, organisation, code):
    """One service: each indicator that measures it, its figures and its last 12 months."""
    chosen = dashboard.visible_service(request.user, organisation, code)
    if chosen is None:
        raise Http404
    today = rollups.today(organisation)
    form = PeriodForm(request.GET, today=today)
    period = form.chosen
    context = _common(request, organisation, form, period, today)
    context["service"] = chosen
    if period is None:
        return render(request, "indicators/dashboard_service.html", context, status=400)
    column = dashboard.Column(chosen, chosen.name)
    matrix = dashboard.matrix(organisation, period, [column])
    _decorate(organisation, matrix)
    context.update(
        matrix=matrix,
        column=column,
        downloads=_downloads(organisation, period, service=chosen.code),
        dashboard_url=_url("dashboard", organisation, query_for(period)),
    )
    return render(request, "indicators/dashboard_service.html", context)


def _with_relations(records):
    """Each record's service and organisation in the same query: the columns and links read
    them, and a page of 50 would otherwise cost 100 more queries."""
    names = {f.name for f in records.model._meta.concrete_fields if f.is_relation}
    wanted = [name for name in ("organisation", "service") if name in names]
    records = records.select_related(*wanted) if wanted else records
    return records if records.ordered else records.order_by("pk")


def _drill_column(request, organisation, allowed):
    """The column asked for; a restricted member without one gets their first service."""
    code = request.GET.get("service", "")
    if code:
        chosen = dashboard.visible_service(request.user, organisation, code)
        if chosen is None:
            raise Http404
        return dashboard.Column(chosen, chosen.name)
    if allowed is None:
        return dashboard.organisation_column()
    columns = dashboard.columns_for(request.user, organisation)
    if not columns:
        raise Http404
    return columns[0]


def _records(request, organisation, indicator, period, column, allowed) -> dict:
    drill = queries.drilldown(
        organisation, indicator, period, service=column.service, allowed=allowed
    )
    if drill is None:
        return {}
    failing = drill.failing_filter
    only_failing = failing is not None and request.GET.get("failing") == "1"
    records = drill.records.filter(failing) if only_failing else drill.records
    page = Paginator(_with_relations(records), RECORDS_PER_PAGE).get_page(request.GET.get("page"))
    base = query_for(period, service=column.code)
    page_query = {**base, **({"failing": "1"} if only_failing else {})}
    return {
        "drill": drill,
        "only_failing": only_failing,
        "failing_count": drill.records.filter(failing).count() if failing is not None else None,
        "all_count": drill.records.count() if only_failing else page.paginator.count,
        "all_url": f"{request.path}?{urlencode(base)}#records",
        "failing_url": f"{request.path}?{urlencode({**base, 'failing': '1'})}#records",
        "page": page,
        "page_query": urlencode(page_query),
        "lines": [
            (
                [column_.value(record) for column_ in drill.columns],
                drill.link(record),
            )
            for record in page.object_list
        ],
    }


@organisation_view(Perm.VIEW_INDICATORS)
def drilldown(request, organisation, pk):
    """The records behind one figure (the late requests, the acts delivered late…)."""
    # The records' dates and times are the organisation's wall-clock ones.
    with timezone.override(organisation.zone):
        return _drilldown(request, organisation, pk)


def _drilldown(request, organisation, pk):
    found = queries.indicators_of(organisation, pks=[pk])
    if not found:
        raise Http404
    indicator = found[0]
    allowed = permissions.restricted_service_ids(request.user, organisation)
    column = _drill_column(request, organisation, allowed)
    today = rollups.today(organisation)
    form = PeriodForm(request.GET, today=today)
    period = form.chosen
    context = _common(request, organisation, form, period, today, service=column.code or None)
    context.update(indicator=indicator, column=column, hidden_service=column.code)
    if period is None:
        return render(request, "indicators/drilldown.html", context, status=400)
    services = [column.service] if column.service is not None else []
    result = queries.results(
        organisation, [indicator], period, services=services, consolidated=not services
    ).get((indicator.pk, column.key))
    line = queries.trend(
        organisation,
        [indicator],
        dashboard.months_to(period),
        dashboard.TREND_LENGTH,
        service=column.service,
    ).get(indicator.pk, [])
    for month in line:
        month.basis = dashboard.basis(month)
    points = _points(line)
    context.update(
        result=result,
        basis=dashboard.basis(result),
        line=line,
        chart=(
            charts.trend_chart(
                "trend-chart",
                indicator.name,
                _(
                    "%(indicator)s, last 12 months (%(column)s). The figures are in the table "
                    "that follows the chart."
                )
                % {"indicator": indicator.name, "column": column.label},
                points,
                target=line[-1].target,
                target_text=_("Target %(target)s") % {"target": line[-1].target_display},
                percent=indicator.unit == Unit.PERCENT,
            )
            if line
            else ""
        ),
        dashboard_url=_url("dashboard", organisation, query_for(period)),
        service_url=service_url(organisation, column.service, period) if column.service else "",
        manual=indicator.source_kind == SourceKind.MANUAL,
    )
    if indicator.source_kind == SourceKind.MANUAL:
        values = list(
            dashboard.manual_values(
                organisation, indicator, period, service=column.service, allowed=allowed
            )
        )
        for value in values:
            value.shown = indicator.format_value(value.value)
        context["values"] = values
    else:
        context.update(_records(request, organisation, indicator, period, column, allowed))
    return render(request, "indicators/drilldown.html", context)


@organisation_view(Perm.VIEW_INDICATORS)
def export(request, organisation, format):
    """The matrix of the dashboard (or of one service) as CSV, XLSX or ODS."""
    today = rollups.today(organisation)
    form = DashboardForm(request.GET, today=today)
    period = form.chosen
    if period is None:
        context = _common(request, organisation, form, None, today)
        context["form_action"] = _url("dashboard", organisation)
        return render(request, "indicators/dashboard.html", context, status=400)
    code = request.GET.get("service", "")
    if code:
        chosen = dashboard.visible_service(request.user, organisation, code)
        if chosen is None:
            raise Http404
        columns = [dashboard.Column(chosen, chosen.name)]
    else:
        columns = dashboard.columns_for(
            request.user, organisation, subservices=form.cleaned_data["subservices"]
        )
    matrix = dashboard.matrix(organisation, period, columns, with_trend=False)
    content = exports.write(matrix, format, updated_at=queries.last_updated(organisation))
    response = HttpResponse(content, content_type=exports.FORMATS[format])
    name = exports.filename(matrix, format, service=code)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
