"""The Capacity page: the GPU fleet, every inventoried resource with its 14-day utilisation and price, service
quotas, GPU demand with its forecast, and when each account and region was last collected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from capacity.filtersets import ResourceFilterSet
from capacity.models import CollectionRun, GpuDemandForecast, Resource, UtilisationHour
from capacity.selectors.demand import (
    gpu_demand_daily,
    gpu_demand_exists,
    gpu_demand_fleet_forecast,
    gpu_demand_team_forecasts,
    gpu_fleet_peaks,
    gpu_hours_by_team,
)
from capacity.selectors.inventory import gpu_fleet_summary, resource_teams, resources_listed
from capacity.selectors.prices import resource_prices
from capacity.selectors.quotas import quotas_by_use, quotas_near_limit
from capacity.selectors.runs import collection_runs_latest
from capacity.selectors.utilisation import fleet_gpu_utilisation, resource_utilisation_hours, utilisation_averages
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.capacity import gpu_demand_forecast, gpu_peaks
from dashboards.charts.utilisation import resource_utilisation
from dashboards.tables.capacity import GpuDemandTable, GpuFleetTable, ResourceTable, ServiceQuotaTable
from dashboards.templatetags.labels import enum_label
from dashboards.views.fragments import FragmentMixin
from finops.reports import UNALLOCATED, money_sum


class CapacityView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """The GPU fleet, every inventoried resource with its 14-day utilisation and price, quotas and freshness.

    One view, several renderings: the full page; the resources panel (filters, table, pages) and the quotas panel
    for their htmx links and forms (by HX-Target); a resource's hourly utilisation chart (`?resource=<pk>`) for a
    clicked row, which the full page also shows when opened with that parameter.
    """

    template_name = "dashboards/capacity.html"
    fragment_targets = {
        "capacity-forecast": ("dashboards/_capacity_forecast.html", "forecast_fragment"),
        "resource-detail": ("dashboards/_capacity_resource.html", "resource_fragment"),
        "capacity-resources": ("dashboards/_capacity_resources.html", "resources_context"),
        "capacity-quotas": ("dashboards/_capacity_quotas.html", "quotas_context"),
    }
    window = timedelta(days=14)
    resources_per_page = 25
    quotas_per_page = 10

    def forecast_fragment(self) -> dict:
        return {"demand": gpu_demand_panel(today=timezone.now().date())}

    def resource_fragment(self) -> dict:
        return self.resource_context(self.request.GET.get("resource", ""))

    @cached_property
    def window_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the window: 14 days of complete UTC hours, ending where the current hour starts."""
        end = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return end - self.window, end

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["freshness_rows"], context["prices_run"] = capacity_freshness_rows(collection_runs_latest())
        context["has_inventory"] = resources_listed().exists()
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
            figure = resource_utilisation(frame, start=start, end=end, invocations=is_endpoint)
            context["chart"] = to_html(figure)
        return context


DEMAND_HISTORY_DAYS = 120
DEMAND_RECENT_DAYS = 30
DEMAND_AHEAD_DAYS = 90
FORECAST_COLUMNS = ("mean", "lower_80", "upper_80", "lower_95", "upper_95")


# The forecasting package's candidate names as words (a name not listed is shown through enum_label).
FORECAST_MODEL_LABELS = {
    "seasonal_naive": "Seasonal naive (the same weekday a week before)",
    "ets_ann": "Exponential smoothing (level)",
    "ets_aan": "Exponential smoothing (level, trend)",
    "ets_aadn": "Exponential smoothing (level, damped trend)",
    "theta": "Theta method",
    "ets_ana": "Exponential smoothing (level, weekly season)",
    "ets_aada": "Exponential smoothing (level, damped trend, weekly season)",
    "stl_ets": "Seasonal decomposition (STL) with exponential smoothing",
    "sarima": "Seasonal ARIMA",
    "mstl_theta": "Theta method on the series with its seasons taken out (MSTL)",
    "mstl_ets": "Exponential smoothing (damped trend) on the series with its seasons taken out (MSTL)",
    "combination": "Median of the three models that did best in the backtest",
}


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
    fleet = gpu_demand_fleet_forecast()
    panel: dict = {"has_history": gpu_demand_exists(), "forecast": fleet, "ahead_days": DEMAND_AHEAD_DAYS}
    panel.update(history_days=DEMAND_HISTORY_DAYS, recent_days=DEMAND_RECENT_DAYS)
    if not panel["has_history"] and fleet is None:
        return panel
    history = gpu_demand_daily(since=today - timedelta(days=DEMAND_HISTORY_DAYS))
    points = pd.DataFrame(fleet.points if fleet else [], columns=["day", *FORECAST_COLUMNS])
    if not history.empty or not points.empty:
        panel["chart"] = to_html(gpu_demand_forecast(history, points))
    peaks = gpu_fleet_peaks(since=today - timedelta(days=DEMAND_HISTORY_DAYS))
    if not peaks.empty:
        panel["peaks_chart"] = to_html(gpu_peaks(peaks))
        panel["peaks"] = fleet_peaks_summary(peaks)
    if fleet is not None:
        panel["mase"] = (fleet.scores.get(fleet.model) or {}).get("mase")
        panel["model_label"] = FORECAST_MODEL_LABELS.get(fleet.model) or enum_label(fleet.model)
    recent_since = today - timedelta(days=DEMAND_RECENT_DAYS)
    recent = gpu_hours_by_team(start=recent_since, end=today)
    newest = gpu_demand_team_forecasts()
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


def fleet_peaks_summary(peaks: pd.DataFrame) -> dict:
    """What the peaks chart's note says: the highest hourly peak with its day and the GPUs in inventory then, and
    how many days are estimates (no hourly data) or partly covered."""
    hourly = peaks[peaks["source"] == "hourly"]
    summary = {
        "estimated_days": int((peaks["source"] == "average").sum()),
        "hourly_days": len(hourly),
        "partial_days": int((hourly["hours_with_data"] < 24).sum()),
    }
    if not hourly.empty:
        top = hourly.loc[hourly["peak_gpus"].idxmax()]
        summary["highest"] = {"gpus": int(top["peak_gpus"]), "day": top["day"], "inventory": int(top["inventory_gpus"])}
    return summary


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
