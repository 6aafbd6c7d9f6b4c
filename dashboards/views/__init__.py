from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pandas as pd
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from capacity.filtersets import ResourceFilterSet
from capacity.models import (
    CollectionRun,
    GpuDemandDay,
    GpuDemandForecast,
    Resource,
    UtilisationHour,
)
from capacity.selectors.inventory import gpu_fleet_summary, resource_teams, resources_listed
from capacity.selectors.metering import unit_cost_report
from capacity.selectors.prices import resource_prices
from capacity.selectors.quotas import quotas_by_use, quotas_near_limit
from capacity.selectors.runs import collection_runs_latest
from capacity.selectors.utilisation import fleet_gpu_utilisation, resource_utilisation_hours, utilisation_averages
from dashboards import charts
from dashboards.access import ViewerRequiredMixin
from dashboards.forms import (
    WINDOW_CHOICES,
    AllocationControlsForm,
    AllocationRulesForm,
    CloudAccountForm,
    allocation_key_default,
)
from dashboards.tables import (
    AllocationTable,
    GpuDemandTable,
    GpuFleetTable,
    ResourceTable,
    ServiceQuotaTable,
    TrainingCostTable,
    UnitCostTable,
    UntaggedResourcesTable,
    allocation_table_rows,
    unit_cost_daily_rows,
    unit_cost_table_rows,
)
from finops.allocation.coverage import tag_coverage, untagged_resources
from finops.allocation.engine import allocate
from finops.allocation.rules import RulesError
from finops.models import AllocationRulesVersion, CostRecord
from finops.reports import UNALLOCATED, ReportQueryError, money_sum, report_query_parse
from finops.roles import user_is_operator
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.selectors.costs import ReportDataError
from finops.selectors.ingestion import account_freshness_list
from finops.selectors.overview import overview_summary
from finops.selectors.reconciliation import reconciliation_rows
from finops.services.accounts import cloud_account_create
from finops.services.allocation_rules import allocation_rules_publish

# Shown as help next to the rules editor; tests check that it is a valid rules document.
RULES_EXAMPLE = {
    "fold_key_case": True,
    "aliases": {"env": "environment"},
    "value_mappings": [{"key": "environment", "from": "production", "to": "prod", "ignore_case": True}],
    "virtual_tags": [
        {"key": "team", "value": "research", "match": {"service": ["Amazon SageMaker"], "resource_pattern": "notebook"}}
    ],
    "shared_costs": [
        {
            "name": "Support",
            "match": {"service": ["AWS Support (Business)"]},
            "key": "tag:team",
            "method": "proportional",
        }
    ],
}


class OverviewView(ViewerRequiredMixin, TemplateView):
    template_name = "dashboards/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        summary = overview_summary(today=timezone.now().date())
        context["summary"] = summary
        context["freshness"] = account_freshness_list()
        if summary.has_data:
            context["daily_chart"] = charts.to_html(charts.daily_spend_by_service(summary.daily_by_service))
        return context


class AllocationView(ViewerRequiredMixin, TemplateView):
    """Allocated cost by a key per period, tag coverage, and the allocation rules (operators publish new versions).

    One view, three renderings: the full page; the report fragment (chart and table) for the htmx controls;
    the tag coverage fragment (`?panel=coverage`), which the report loads with hx-trigger="load".
    """

    template_name = "dashboards/allocation.html"
    report_template = "dashboards/_allocation_report.html"
    coverage_template = "dashboards/_tag_coverage.html"
    history_length = 25

    def get(self, request, *args, **kwargs):
        if request.GET.get("panel") == "coverage":
            response = render(request, self.coverage_template, self.coverage_context(self.controls_form()))
        elif request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
            response = render(request, self.report_template, self.report_context(self.controls_form()))
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Publishing allocation rules needs the operator or admin role.")
        form = AllocationRulesForm(request.POST)
        if form.is_valid():
            try:
                version = allocation_rules_publish(
                    document=form.cleaned_data["document"], user=request.user, comment=form.cleaned_data["comment"]
                )
            except RulesError as error:
                for path, problems in sorted(error.errors.items()):
                    for problem in problems:
                        form.add_error("document", f"{path}: {problem}")
            else:
                messages.success(request, f"Published allocation rules version {version.number}.")
                return redirect(f"{request.get_full_path()}#rules")
        return self.render_to_response(self.get_context_data(rules_form=form))

    def controls_form(self) -> AllocationControlsForm:
        data = {"window": "30d", "key": allocation_key_default(), "step": "week", "cost_basis": "billed"}
        data.update({name: value for name, value in self.request.GET.items() if name != "panel"})
        return AllocationControlsForm(data)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.report_context(self.controls_form()))
        versions = list(AllocationRulesVersion.objects.select_related("created_by")[: self.history_length])
        current = versions[0] if versions else None
        context.update(
            rules_current=current,
            rules_current_json=json.dumps(current.document if current else {}, indent=2, sort_keys=True),
            rules_history=versions,
            rules_example_json=json.dumps(RULES_EXAMPLE, indent=2),
            can_edit_rules=user_is_operator(self.request.user),
        )
        context.setdefault("rules_form", AllocationRulesForm(initial={"document": context["rules_current_json"]}))
        return context

    def report_context(self, form: AllocationControlsForm) -> dict:
        context = {"controls": form, "has_data": CostRecord.objects.exists(), "errors": _form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        key = params["aggregate"]
        context.update(
            params=params,
            key=key,
            key_label=key[4:] if key.startswith("tag:") else key,
            is_tag_key=key.startswith("tag:"),
            csv_url=f"{reverse('report-allocations')}?{urlencode({**params, 'format': 'csv'})}",
            api_url=f"{reverse('report-allocations')}?{urlencode(params)}",
            coverage_url=f"{reverse('dashboards:allocation')}?{urlencode({**form.data, 'panel': 'coverage'})}",
        )
        if not context["has_data"]:
            return context
        try:
            query, version, rules, frame, currency = _allocation_input(params)
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        items = allocate(frame, aggregate=query.aggregate, rules=rules)
        rows = allocation_table_rows(items, key=key)
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=currency,
            rules_version=version,
            total=money_sum(items["cost"]),
            shared_total=money_sum(items["shared_cost"]),
            table=AllocationTable(rows, key_label=context["key_label"].capitalize()),
            has_rows=bool(rows),
        )
        if rows:
            context["chart"] = charts.to_html(charts.allocation_by_period(items, key=key))
        return context

    def coverage_context(self, form: AllocationControlsForm) -> dict:
        context: dict = {"errors": _form_errors(form)}
        if context["errors"]:
            return context
        params = form.report_params()
        if not params["aggregate"].startswith("tag:"):
            return context
        tag_key = context["tag_key"] = params["aggregate"][4:]
        try:
            _, version, rules, frame, currency = _allocation_input({**params, "aggregate": "", "step": "day"})
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        coverage = tag_coverage(frame, key=tag_key, rules=rules)
        resources = untagged_resources(frame, key=tag_key, rules=rules, top=15)
        resources = resources[resources["cost"] != 0]  # a zero-cost line (e.g. an unused commitment) needs no tag
        usage_cost = money_sum(coverage["cost"])
        tagged_cost = money_sum(coverage["tagged_cost"])
        context.update(
            rules_version=version,
            currency=currency,
            has_usage=usage_cost > 0,
            untagged_cost=usage_cost - tagged_cost,
            coverage_percent=tagged_cost / usage_cost * 100 if usage_cost > 0 else None,
            resources=UntaggedResourcesTable(resources.to_dict("records")),
        )
        if not coverage.empty:
            context["chart"] = charts.to_html(charts.tag_coverage_by_day(coverage))
        return context


class _ControlsError(Exception):
    def __init__(self, messages_: list[str]):
        super().__init__(messages_)
        self.messages = messages_


def _form_errors(form: AllocationControlsForm) -> list[str]:
    return [] if form.is_valid() else [str(error) for errors in form.errors.values() for error in errors]


def _allocation_input(params: dict[str, str]):
    """What the Reports API reads for these parameters: the query, the current rules and the rows."""
    try:
        query = report_query_parse({name: [value] for name, value in params.items()}, today=timezone.now().date())
        version, rules = allocation_rules_current()
        frame, currency = allocation_rows_frame(query=query)
    except ReportQueryError as error:
        raise _ControlsError([message for messages_ in error.errors.values() for message in messages_]) from None
    except ReportDataError as error:
        raise _ControlsError([str(error)]) from None
    return query, version, rules, frame, currency


UNIT_GROUPINGS = {
    "model": ("Model and version", ("tag:model", "tag:model_version")),
    "resource": ("Endpoint (resource)", ("resource",)),
}
UNIT_WINDOWS = [choice for choice in WINDOW_CHOICES if choice[0] != "custom"]
TRAINING_MONTHS = 13
TOP_DAILY_GROUPS = 5


class UnitEconomicsControlsForm(forms.Form):
    """The Unit economics page's GET controls: a relative window and the grouping."""

    window = forms.ChoiceField(choices=UNIT_WINDOWS, initial="30d", required=False)
    group = forms.ChoiceField(
        choices=[(name, label) for name, (label, _) in UNIT_GROUPINGS.items()],
        initial="model",
        required=False,
        label="Group by",
    )

    def clean(self):
        data = super().clean()
        for name in ("window", "group"):
            data[name] = data.get(name) or self.fields[name].initial
        return data

    def report_params(self) -> dict[str, str]:
        """The /api/v1/unit-costs parameters for these controls (call after is_valid())."""
        keys = UNIT_GROUPINGS[self.cleaned_data["group"]][1]
        return {"window": self.cleaned_data["window"], "aggregate": ",".join(keys)}


def training_window(today: date) -> str:
    """The last 13 months as a report window: the current month so far and the 12 before it."""
    start = today.replace(day=1)
    for _ in range(TRAINING_MONTHS - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return f"{start.isoformat()},{today.isoformat()}"


def _unit_items(params: dict[str, str]):
    """unit_costs for Reports API parameters, read exactly as /api/v1/unit-costs reads them."""
    try:
        query = report_query_parse({name: [value] for name, value in params.items()}, today=timezone.now().date())
        version, currency, items = unit_cost_report(query=query)
    except ReportQueryError as error:
        raise _ControlsError([message for messages_ in error.errors.values() for message in messages_]) from None
    except ReportDataError as error:
        raise _ControlsError([str(error)]) from None
    return query, version, currency, items


def _api_links(params: dict[str, str]) -> dict[str, str]:
    base = reverse("report-unit-costs")
    return {"api_url": f"{base}?{urlencode(params)}", "csv_url": f"{base}?{urlencode({**params, 'format': 'csv'})}"}


class UnitEconomicsView(ViewerRequiredMixin, TemplateView):
    """Cost per 1,000 predictions of each served model (or endpoint) and what training each model version cost.

    Figures are /api/v1/unit-costs' for the same parameters. One view, three renderings: the full page; the
    report fragment for the htmx controls; the training panel (`?panel=training`, 13 months of billing), which
    the page loads with hx-trigger="load".
    """

    template_name = "dashboards/unit_economics.html"
    report_template = "dashboards/_unit_report.html"
    training_template = "dashboards/_unit_training.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("panel") == "training":
            response = render(request, self.training_template, self.training_context())
        elif request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
            response = render(request, self.report_template, self.report_context(self.controls_form()))
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def controls_form(self) -> UnitEconomicsControlsForm:
        data = {"window": "30d", "group": "model"}
        data.update({name: value for name, value in self.request.GET.items() if name in ("window", "group")})
        return UnitEconomicsControlsForm(data)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.report_context(self.controls_form()))
        context["training_url"] = f"{reverse('dashboards:unit_economics')}?panel=training"
        return context

    def report_context(self, form: UnitEconomicsControlsForm) -> dict:
        context = {"controls": form, "has_data": CostRecord.objects.exists(), "errors": _form_errors(form)}
        if context["errors"] or not context["has_data"]:
            return context
        params = form.report_params()
        group = form.cleaned_data["group"]
        context.update(params=params, group=group, group_label=UNIT_GROUPINGS[group][0], **_api_links(params))
        try:
            query, version, currency, items = _unit_items(params)
            _, _, _, daily = _unit_items({**params, "step": "day"})
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        rows = unit_cost_table_rows(items, aggregate=query.aggregate)
        served = [row for row in rows if row["cost"] > 0]
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=currency,
            rules_version=version,
            serving_total=money_sum(row["cost"] for row in rows),
            training_total=money_sum(row["training_cost"] for row in rows),
            has_rows=bool(rows),
            has_serving=bool(served),
            unknown_count=sum(1 for row in served if row["predictions"] is None),
            table=UnitCostTable(rows, group=group),
        )
        known = [row for row in served if row["cost_per_1000_predictions"] is not None]
        if known:
            context["chart"] = charts.to_html(charts.unit_cost_by_group(pd.DataFrame(known)))
            top = [row["key"] for row in sorted(known, key=lambda row: -row["cost"])[:TOP_DAILY_GROUPS]]
            counted = daily[daily["predictions"].notna()]["period"]
            if not counted.empty and min(counted) > query.start:
                context["predictions_since"] = min(counted)
            daily_rows = unit_cost_daily_rows(daily, aggregate=query.aggregate, keys=top)
            if daily_rows:
                context["daily_chart"] = charts.to_html(charts.unit_cost_daily(pd.DataFrame(daily_rows)))
        return context

    def training_context(self) -> dict:
        params = {"window": training_window(timezone.now().date()), "aggregate": "tag:model,tag:model_version"}
        context: dict = {"has_data": CostRecord.objects.exists(), "errors": [], **_api_links(params)}
        if not context["has_data"]:
            return context
        try:
            query, _, currency, items = _unit_items(params)
        except _ControlsError as error:
            context["errors"] = error.messages
            return context
        rows = [row for row in unit_cost_table_rows(items, aggregate=query.aggregate) if row["training_cost"]]
        rows.sort(key=lambda row: (-row["training_cost"], row["label"]))
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=currency,
            training_total=money_sum(row["training_cost"] for row in rows),
            table=TrainingCostTable(rows),
            has_rows=bool(rows),
        )
        return context


class CapacityView(ViewerRequiredMixin, TemplateView):
    """The GPU fleet, every inventoried resource with its 14-day utilisation and price, quotas and freshness.

    One view, several renderings: the full page; the resources panel (filters, table, pages) and the quotas panel
    for their htmx links and forms (by HX-Target); a resource's hourly utilisation chart (`?resource=<pk>`) for a
    clicked row, which the full page also shows when opened with that parameter.
    """

    template_name = "dashboards/capacity.html"
    resource_template = "dashboards/_capacity_resource.html"
    forecast_template = "dashboards/_capacity_forecast.html"
    panel_templates = {
        "capacity-resources": "dashboards/_capacity_resources.html",
        "capacity-quotas": "dashboards/_capacity_quotas.html",
    }
    window = timedelta(days=14)
    resources_per_page = 25
    quotas_per_page = 10

    def get(self, request, *args, **kwargs):
        htmx = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
        target = request.headers.get("HX-Target", "")
        if htmx and target == "capacity-forecast":
            response = render(
                request, self.forecast_template, {"demand": gpu_demand_panel(today=timezone.now().date())}
            )
        elif htmx and target == "resource-detail":
            response = render(request, self.resource_template, self.resource_context(request.GET.get("resource", "")))
        elif htmx and target in self.panel_templates:
            context = self.resources_context() if target == "capacity-resources" else self.quotas_context()
            response = render(request, self.panel_templates[target], context)
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    @cached_property
    def window_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the window: 14 days of complete UTC hours, ending where the current hour starts."""
        end = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return end - self.window, end

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness_rows"], context["prices_run"] = capacity_freshness_rows(collection_runs_latest())
        context["has_inventory"] = Resource.objects.exists()
        context["demand"] = gpu_demand_panel(today=timezone.now().date())
        if not context["has_inventory"]:
            return context
        start, end = context["window_start"], context["window_end"] = self.window_bounds
        summary = gpu_fleet_summary()
        context.update(
            fleet_table=GpuFleetTable(summary),
            total_gpus=sum(row["gpus"] for row in summary),
            running_gpus=sum(row["running_gpus"] for row in summary),
            neuron_devices=sum(row["gpus"] for row in summary if row["accelerator"] == "neuron"),
            fleet_utilisation=fleet_gpu_utilisation(start=start, end=end),
            **self.resources_context(),
            **self.quotas_context(),
        )
        if self.request.GET.get("resource"):
            context["detail"] = self.resource_context(self.request.GET["resource"])
        return context

    def resources_context(self) -> dict:
        """The resources panel: ResourceFilterSet over GET (gone resources only with ?gone=1), ordered, paginated."""
        start, end = self.window_bounds
        data = self.request.GET.copy()
        include_gone = data.pop("gone", [""])[-1] in ("1", "true", "on")
        if not include_gone:
            data["gone"] = "false"
        filterset = ResourceFilterSet(data, queryset=resources_listed())
        averages = {
            metric: utilisation_averages(start=start, end=end, metric=metric)
            for metric in (UtilisationHour.Metric.CPU, UtilisationHour.Metric.GPU)
        }
        table = ResourceTable(
            filterset.qs,
            detail_url=reverse("dashboards:capacity"),
            averages=averages,
            selected=self.request.GET.get("resource"),
        )
        RequestConfig(self.request, paginate={"per_page": self.resources_per_page}).configure(table)
        table.prices = resource_prices(resources=[row.record for row in table.page.object_list])
        return {
            "resources_table": table,
            "resource_filters": {name: self.request.GET.get(name, "") for name in ("kind", "team", "gpu", "name")},
            "include_gone": include_gone,
            "filter_errors": [f"{field}: {error}" for field, errors in filterset.errors.items() for error in errors],
            "kind_choices": Resource.Kind.choices,
            "team_choices": resource_teams(),
            "window_days": self.window.days,
        }

    def quotas_context(self) -> dict:
        near = set(quotas_near_limit().values_list("pk", flat=True))
        table = ServiceQuotaTable(quotas_by_use(), near=near, prefix="quotas-")
        RequestConfig(self.request, paginate={"per_page": self.quotas_per_page}).configure(table)
        return {"quotas_table": table, "quotas_near_count": len(near)}

    def resource_context(self, pk: str) -> dict:
        resource = resources_listed().filter(pk=pk).first() if pk.isdigit() else None
        if resource is None:
            raise Http404("No such resource.")
        start, end = self.window_bounds
        frame = resource_utilisation_hours(resource=resource, start=start, end=end)
        is_endpoint = resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT
        invocations = frame[frame["metric"] == UtilisationHour.Metric.INVOCATIONS]
        measured = frame[frame["metric"] != UtilisationHour.Metric.INVOCATIONS]
        context = {
            "resource": resource,
            "window_start": start,
            "window_end": end,
            "window_days": self.window.days,
            "is_endpoint": is_endpoint,
            "has_utilisation": bool(measured["average"].notna().any()),
            "has_invocations": bool(invocations["total"].notna().any()),
            "price": resource_prices(resources=[resource]).get(resource.pk),
        }
        if context["has_utilisation"] or context["has_invocations"]:
            figure = charts.resource_utilisation(frame, start=start, end=end, invocations=is_endpoint)
            context["chart"] = charts.to_html(figure)
        return context


DEMAND_HISTORY_DAYS = 120
DEMAND_RECENT_DAYS = 30
DEMAND_AHEAD_DAYS = 90
FORECAST_COLUMNS = ("mean", "lower_80", "upper_80", "lower_95", "upper_95")


def _point_sum(points: list[dict], column: str) -> Decimal:
    return money_sum(Decimal(point[column]) for point in points)


def _forecast_ahead(forecast: GpuDemandForecast | None, *, today: date) -> dict | None:
    """A forecast's GPU-hours over the DEMAND_AHEAD_DAYS from today: mean and the sums of the daily 80% bounds."""
    if forecast is None:
        return None
    ahead = today + timedelta(days=DEMAND_AHEAD_DAYS)
    points = [point for point in forecast.points if today.isoformat() <= point["day"] < ahead.isoformat()]
    if not points:
        return None
    return {
        "mean": _point_sum(points, "mean"),
        "lower_80": _point_sum(points, "lower_80"),
        "upper_80": _point_sum(points, "upper_80"),
        "days": len(points),
    }


def gpu_demand_panel(*, today: date) -> dict:
    """The Capacity page's GPU demand panel: the fleet's daily GPU-hours and peak GPUs over the last
    DEMAND_HISTORY_DAYS, the newest fleet-wide forecast with its model and backtest MASE, and per team the
    GPU-hours of the last DEMAND_RECENT_DAYS and forecast for the next DEMAND_AHEAD_DAYS."""
    forecasts = GpuDemandForecast.objects.filter(gpu_model="", region="")
    fleet = forecasts.filter(team="").first()
    panel: dict = {"has_history": GpuDemandDay.objects.exists(), "forecast": fleet, "ahead_days": DEMAND_AHEAD_DAYS}
    panel.update(history_days=DEMAND_HISTORY_DAYS, recent_days=DEMAND_RECENT_DAYS)
    if not panel["has_history"] and fleet is None:
        return panel
    daily = (
        GpuDemandDay.objects.filter(day__gte=today - timedelta(days=DEMAND_HISTORY_DAYS))
        .values("day")
        .annotate(
            gpu_hours=Sum("gpu_hours"),
            peak_gpus=Sum("peak_gpus"),
            estimated=Count("pk", filter=Q(peak_source=GpuDemandDay.PeakSource.AVERAGE)),
        )
        .order_by("day")
    )
    history = pd.DataFrame(list(daily), columns=["day", "gpu_hours", "peak_gpus", "estimated"])
    history["estimated"] = history["estimated"] > 0
    points = pd.DataFrame(fleet.points if fleet else [], columns=["day", *FORECAST_COLUMNS])
    if not history.empty or not points.empty:
        panel["chart"] = charts.to_html(charts.gpu_demand_forecast(history, points))
    if not history.empty:
        panel["peaks_chart"] = charts.to_html(charts.gpu_peaks(history))
        panel["estimated_days"] = int(history["estimated"].sum())
    if fleet is not None:
        panel["mase"] = (fleet.scores.get(fleet.model) or {}).get("mase")
    recent_since = today - timedelta(days=DEMAND_RECENT_DAYS)
    recent = dict(
        GpuDemandDay.objects.filter(day__gte=recent_since, day__lt=today)
        .values_list("team")
        .annotate(Sum("gpu_hours"))
        .order_by("team")
    )
    newest = {item.team: item for item in forecasts.exclude(team="").order_by("team", "-generated_at").distinct("team")}
    rows = [
        {
            "team": team,
            "recent_gpu_hours": recent.get(team, Decimal(0)),
            "ahead": _forecast_ahead(newest.get(team), today=today),
        }
        for team in sorted(set(recent) | set(newest))
    ]
    rows.sort(key=lambda row: (row["team"] == UNALLOCATED, -row["recent_gpu_hours"], row["team"]))
    fleet_row = {
        "team": "",
        "recent_gpu_hours": money_sum(recent.values()),
        "ahead": _forecast_ahead(fleet, today=today),
    }
    panel["table"] = GpuDemandTable(rows, fleet=fleet_row, ahead_days=DEMAND_AHEAD_DAYS, recent_days=DEMAND_RECENT_DAYS)
    return panel


FRESHNESS_KINDS = (CollectionRun.Kind.INVENTORY, CollectionRun.Kind.UTILISATION, CollectionRun.Kind.QUOTAS)


def capacity_freshness_rows(runs: list[CollectionRun]) -> tuple[list[dict], CollectionRun | None]:
    """collection_runs_latest() as one row per account and region, in the order given, with its latest run of each
    of FRESHNESS_KINDS (None where none ran): {"account", "region", "runs": [...]}; and the latest prices run
    (prices are fetched for all accounts at once)."""
    rows: dict[tuple, dict] = {}
    prices = None
    for run in runs:
        if run.kind not in FRESHNESS_KINDS:
            prices = run if run.kind == CollectionRun.Kind.PRICES else prices
            continue
        row = rows.setdefault(
            (run.account_id, run.region), {"account": run.account, "region": run.region, "runs": [None] * 3}
        )
        row["runs"][FRESHNESS_KINDS.index(run.kind)] = run
    return list(rows.values()), prices


class AccountsView(ViewerRequiredMixin, TemplateView):
    """Cloud accounts with their data freshness; operators add accounts here."""

    template_name = "dashboards/accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness"] = account_freshness_list()
        context["can_edit"] = user_is_operator(self.request.user)
        context.setdefault("form", CloudAccountForm())
        return context

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Adding accounts needs the operator or admin role.")
        form = CloudAccountForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = cloud_account_create(**data, exports_enabled=bool(data["export_s3_uri"]))
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Added account {account}.")
                return redirect("dashboards:accounts")
        return self.render_to_response(self.get_context_data(form=form))


class ReconciliationView(ViewerRequiredMixin, TemplateView):
    """Account-days where Cost Explorer, the export file and the stored rows disagree."""

    template_name = "dashboards/reconciliation.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.now().date()
        try:
            days = max(1, min(int(self.request.GET.get("days", 90)), 800))
        except ValueError:
            days = 90
        rows = reconciliation_rows(start=today - timedelta(days=days), end=today)
        context.update(days=days, checked=len(rows), mismatches=[row for row in rows if row.mismatch])
        return context
