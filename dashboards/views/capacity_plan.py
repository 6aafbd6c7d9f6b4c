"""The Capacity plan page (/capacity/plan/): GPU demand with its forecast bands and backtest scores per fleet, team,
GPU family and region; one quota's demand against its limit and reservations; the plan table of every GPU quota
with its crossing and request-by dates; and the what-if scenarios, which operators edit.

It reads what the API reads: capacity.selectors.capacity_plan.capacity_plan (GET /api/v1/capacity-plan) and
capacity.selectors.forecasts.gpu_demand_forecast (GET /api/v1/forecasts/gpu-demand); scenarios are written through
capacity.services.scenarios.scenario_save, as POST/PUT /api/v1/capacity-scenarios do. With a scenario chosen
(?scenario=ID) every panel shows the scenario beside the base.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView
from django_tables2 import RequestConfig

from capacity.models import CapacityScenario, InstanceTypeInfo
from capacity.selectors.capacity_plan import Plan, PlanItem, capacity_plan
from capacity.selectors.demand import gpu_demand_fleet_forecast, group_values, quota_demand_series
from capacity.selectors.forecasts import GROUPS, METRICS, ForecastQueryError, gpu_demand_forecast
from capacity.services.scenarios import ScenarioInputError, scenario_save
from capacity.tasks import gpu_demand_refresh
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.capacity_plan import (
    BASE_COLOUR,
    SCENARIO_COLOUR,
    DateMarker,
    gpu_demand_plan_forecast,
    quota_against_demand,
)
from dashboards.forms.capacity_plan import scenario_data, scenario_errors_show, scenario_forms
from dashboards.tables.capacity_plan import PlanTable, plan_row, plan_rows_ordered
from dashboards.templatetags.labels import account_label_text, enum_label
from dashboards.views.capacity import FORECAST_MODEL_LABELS
from dashboards.views.fragments import FragmentMixin
from finops.roles import user_is_operator
from finops.selectors.accounts import cloud_accounts_listed

GROUP_LABELS = {"fleet": "Whole fleet", "team": "Team", "gpu_family": "GPU family", "region": "Region"}
METRIC_LABELS = {"gpu_hours": "GPU-hours per day", "peak_gpus": "Peak GPUs per day"}
FORECAST_HISTORY_DAYS = 365
QUOTA_HISTORY_DAYS = 180
LEVELS = "80,95"


def plan_item_key(item: PlanItem) -> str:
    return f"{item.account}:{item.region}:{item.service_code}:{item.quota_code}"


def plan_days_frame(item: PlanItem | None) -> pd.DataFrame:
    rows = [
        {
            "day": day.day,
            "median": float(day.median),
            "p95": float(day.p95),
            "unused_reserved": float(day.unused_reserved),
        }
        for day in (item.days if item else [])
    ]
    return pd.DataFrame(rows, columns=["day", "median", "p95", "unused_reserved"])


def plan_markers(item: PlanItem, scenario_item: PlanItem | None, *, today: date) -> list[DateMarker]:
    """The vertical markers of a quota's chart: today, then each crossing and request-by date (the scenario's too)."""
    markers = [DateMarker(today, "today", "#828282", "dot")]
    for source, colour, suffix in ((item, BASE_COLOUR, ""), (scenario_item, SCENARIO_COLOUR, " (scenario)")):
        if source is None:
            continue
        for day, label in (
            (source.cross_date_median, "median crosses"),
            (source.cross_date_p95, "p95 crosses"),
            (source.request_by, "request by"),
        ):
            if day is not None:
                markers.append(DateMarker(day, label + suffix, colour, "dash" if label != "request by" else "solid"))
    return markers


def model_label(model: str) -> str:
    return FORECAST_MODEL_LABELS.get(model) or (enum_label(model) if model else "")


class CapacityPlanView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """One view, several renderings: the full page; the demand forecast panel (HX-Target plan-forecast) for its
    controls; the capacity-against-demand panel (HX-Target plan-quota) for a plan row's link (?quota=KEY). The
    scenario editor posts plain forms (operators): save, delete, and a forecast refresh in the empty state; a saved
    scenario redirects to the page with it chosen, an invalid one re-renders the editor with the errors beside
    their fields (400)."""

    template_name = "dashboards/capacity_plan.html"
    fragment_targets = {
        "plan-forecast": ("dashboards/_capacity_plan_forecast.html", "forecast_fragment"),
        "plan-quota": ("dashboards/_capacity_plan_quota.html", "quota_fragment"),
    }

    @cached_property
    def today(self) -> date:
        return timezone.now().date()

    @cached_property
    def scenarios(self) -> list[CapacityScenario]:
        return list(CapacityScenario.objects.prefetch_related("projects").order_by("name"))

    @cached_property
    def scenario(self) -> CapacityScenario | None:
        chosen = self.request.GET.get("scenario", "")
        return next((scenario for scenario in self.scenarios if str(scenario.pk) == chosen), None)

    @cached_property
    def base_plan(self) -> Plan:
        return capacity_plan(today=self.today)

    @cached_property
    def scenario_plan(self) -> Plan | None:
        return capacity_plan(scenario=self.scenario, today=self.today) if self.scenario else None

    def page_url(self, **params) -> str:
        """The page's URL with the chosen scenario kept and `params` set (None drops one)."""
        query = {"scenario": self.scenario.pk if self.scenario else None}
        for name in ("group", "value", "metric", "quota"):
            if self.request.GET.get(name):
                query[name] = self.request.GET[name]
        query.update(params)
        kept = {name: value for name, value in query.items() if value not in (None, "")}
        return reverse("dashboards:capacity_plan") + (f"?{urlencode(kept)}" if kept else "")

    # Reading

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        can_edit = user_is_operator(self.request.user)
        chosen = self.request.GET.get("scenario", "")
        context.update(self.forecast_fragment())
        context.update(self.quota_fragment())
        context.update(
            today=self.today,
            can_edit=can_edit,
            scenarios=self.scenarios,
            scenario=self.scenario,
            scenario_unknown=chosen if chosen and self.scenario is None else "",
            page_url=reverse("dashboards:capacity_plan"),
            plan=self.base_plan,
            has_quotas=bool(self.base_plan.items),
            refresh_url=reverse("forecast-gpu-demand-refresh"),
            **self.plan_context(),
        )
        if can_edit:
            context.update(self.editor_context(kwargs))
        return context

    def scenario_items(self) -> dict[str, PlanItem]:
        return {plan_item_key(item): item for item in self.scenario_plan.items} if self.scenario_plan else {}

    def plan_context(self) -> dict:
        scenario_items = self.scenario_items()
        rows = [
            plan_row(
                item,
                scenario_items.get(plan_item_key(item)),
                chart_url=f"{self.page_url(quota=plan_item_key(item))}#plan-quota-panel",
            )
            for item in self.base_plan.items
        ]
        table = PlanTable(plan_rows_ordered(rows), with_scenario=self.scenario is not None, selected=self.selected_key)
        RequestConfig(self.request, paginate=False).configure(table)
        csv = {"format": "csv"} | ({"scenario": self.scenario.pk} if self.scenario else {})
        return {
            "plan_table": table,
            "plan_csv_url": f"{reverse('capacity-plan')}?{urlencode(csv)}",
            "plan_crossing_count": sum(1 for item in self.base_plan.items if item.cross_date_p95 is not None),
            "scenario_crossing_count": sum(1 for item in scenario_items.values() if item.cross_date_p95 is not None),
        }

    @cached_property
    def selected_key(self) -> str:
        """The quota the capacity-against-demand chart shows: the one asked for, else the first crossing (in the
        scenario when one is chosen, else the base), else the first in use, else the first."""
        items = self.base_plan.items
        asked = self.request.GET.get("quota", "")
        if any(plan_item_key(item) == asked for item in items):
            return asked
        scenario_items = list(self.scenario_items().values())
        for candidates in (
            [item for item in scenario_items if item.cross_date_p95 or item.cross_date_median],
            [item for item in items if item.cross_date_p95 or item.cross_date_median],
            [item for item in items if item.in_use_now],
            items,
        ):
            if candidates:
                first = min(candidates, key=lambda item: (item.request_by or date.max, plan_item_key(item)))
                return plan_item_key(first)
        return ""

    def quota_fragment(self) -> dict:
        key = self.selected_key
        item = next((item for item in self.base_plan.items if plan_item_key(item) == key), None)
        if item is None:
            return {"quota": None}
        scenario_item = self.scenario_items().get(key)
        accounts = {account.account_id: account for account in cloud_accounts_listed()}
        history = quota_demand_series(
            account_id=accounts[item.account].pk,
            region=item.region,
            service_code=item.service_code,
            quota_code=item.quota_code,
            end=self.today,
        )
        if history.empty:
            history_frame = pd.DataFrame(columns=["day", "demand"])
        else:
            history = history[history.index >= pd.Timestamp(self.today - timedelta(days=QUOTA_HISTORY_DAYS))]
            history_frame = pd.DataFrame({"day": history.index, "demand": history.to_numpy()})
        base_frame = plan_days_frame(item)
        figure = quota_against_demand(
            history_frame,
            base_frame,
            plan_days_frame(scenario_item) if scenario_item else None,
            limit=float(item.limit),
            unit=item.unit,
            markers=plan_markers(item, scenario_item, today=self.today),
            scenario_name=self.scenario.name if self.scenario else "",
        )
        has_data = not (history_frame.empty and base_frame.empty)
        return {
            "quota": {
                "item": item,
                "scenario_item": scenario_item,
                "key": key,
                "account_label": account_label_text(item.account, {a.account_id: a.name for a in accounts.values()}),
                "chart": to_html(figure) if has_data else "",
                "history_days": QUOTA_HISTORY_DAYS,
                "model_label": model_label(item.forecast_model),
                "has_forecast": bool(item.days),
                "lead_time_days": self.base_plan.lead_time_days,
            },
            "scenario": self.scenario,
        }

    def forecast_fragment(self) -> dict:
        """The demand forecast panel: the chosen series (group, value, metric), the base and the scenario's forecast,
        the model and its backtest scores beside seasonal naive's."""
        values = group_values(since=date.min)
        # The nightly run stores the fleet's forecast with every other; without it the selector would forecast each
        # series on the spot (seconds), so the panel says how to get forecasts instead.
        has_forecasts = gpu_demand_fleet_forecast() is not None
        group = self.request.GET.get("group") or "fleet"
        group = group if group in GROUPS else "fleet"
        metric = self.request.GET.get("metric") or "gpu_hours"
        metric = metric if metric in METRICS else "gpu_hours"
        choices = values.get(group, [])
        asked = self.request.GET.get("value", "")
        # A value of another group (the group was just changed) falls back to the group's first value.
        value = "" if group == "fleet" else (asked if asked in choices else next(iter(choices), ""))
        panel = {
            "group": group,
            "value": value,
            "metric": metric,
            "metric_label": METRIC_LABELS[metric],
            "group_choices": [(name, GROUP_LABELS[name]) for name in GROUPS],
            "metric_choices": [(name, METRIC_LABELS[name]) for name in METRICS],
            "value_choices": [] if group == "fleet" else choices,
            "has_demand": bool(values),
            "has_forecasts": has_forecasts,
            "history_days": FORECAST_HISTORY_DAYS,
        }
        fragment = {
            "forecast": panel,
            "scenario": self.scenario,
            "page_url": reverse("dashboards:capacity_plan"),
            "can_edit": user_is_operator(self.request.user),
            "refresh_url": reverse("forecast-gpu-demand-refresh"),
        }
        if not values or not has_forecasts:
            return fragment
        params = {"group": group, "value": value, "metric": metric, "levels": LEVELS}
        try:
            base = gpu_demand_forecast(params=params, today=self.today)
            chosen = (
                gpu_demand_forecast(params=params | {"scenario": str(self.scenario.pk)}, today=self.today)
                if self.scenario
                else None
            )
        except ForecastQueryError as error:
            panel["errors"] = error.errors
            return fragment
        since = (self.today - timedelta(days=FORECAST_HISTORY_DAYS)).isoformat()
        history = pd.DataFrame([row for row in base["history"] if row["day"] >= since], columns=["day", "value"])
        forecast_frame = pd.DataFrame(base["forecast"])
        scenario_frame = pd.DataFrame(chosen["forecast"]) if chosen else None
        if not forecast_frame.empty or not history.empty:
            figure = gpu_demand_plan_forecast(
                history,
                forecast_frame,
                scenario_frame,
                unit=METRIC_LABELS[metric],
                scenario_name=self.scenario.name if self.scenario else "",
            )
            panel["chart"] = to_html(figure)
        panel.update(
            model=base["model"],
            model_label=model_label(base["model"]),
            scores=base["scores"],
            fallback=base["fallback"],
            generated_at=base["generated_at"],
            horizon_days=len(base["forecast"]),
        )
        csv = params | {"format": "csv"} | ({"scenario": self.scenario.pk} if self.scenario else {})
        panel["csv_url"] = f"{reverse('forecast-gpu-demand')}?{urlencode(csv)}"
        return fragment

    def editor_context(self, kwargs: dict) -> dict:
        """The editor (operators): bound forms after a bad post; else the scenario named by ?edit= (or a new one)."""
        context = {
            "instance_types": list(
                InstanceTypeInfo.objects.filter(gpu_count__gt=0)
                .order_by("instance_type")
                .values_list("instance_type", flat=True)
            ),
            "teams": group_values(since=date.min).get("team", []),
            "regions": sorted({item.region for item in self.base_plan.items}),
            "accounts": list(cloud_accounts_listed()),
        }
        if "scenario_form" in kwargs:
            return context
        edit = self.request.GET.get("edit", "")
        editing = next((scenario for scenario in self.scenarios if str(scenario.pk) == edit), None)
        form, formset = scenario_forms(scenario=editing)
        return context | {
            "scenario_form": form,
            "project_formset": formset,
            "editing": editing,
            "editor_open": edit == "new" or editing is not None,
        }

    # Writing

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Editing scenarios needs the operator or admin role.")
        command = request.POST.get("command", "save")
        if command == "delete":
            return self.delete_post(request)
        if command == "refresh":
            gpu_demand_refresh.delay()
            messages.success(request, "Queued a recompute of GPU demand and its forecasts; reload in a few minutes.")
            return redirect(reverse("dashboards:capacity_plan"))
        return self.save_post(request)

    def posted_scenario(self, request) -> CapacityScenario | None:
        pk = request.POST.get("scenario_id", "")
        return CapacityScenario.objects.filter(pk=int(pk)).first() if pk.isdigit() else None

    def save_post(self, request):
        editing = self.posted_scenario(request)
        form, formset = scenario_forms(request.POST)
        if form.is_valid() and formset.is_valid():
            data, projects = scenario_data(form, formset)
            try:
                saved = scenario_save(data=data, partial=False, scenario=editing, user=request.user)
            except ScenarioInputError as error:
                scenario_errors_show(error.errors, form, projects)
            else:
                verb = "Created" if editing is None else "Saved"
                count = saved.projects.count()
                messages.success(
                    request,
                    f"{verb} scenario {saved.name}: demand × {saved.growth_multiplier.normalize():f}, "
                    f"{count} project{'s' if count != 1 else ''}. The plan below shows it beside the base.",
                )
                return redirect(f"{reverse('dashboards:capacity_plan')}?scenario={saved.pk}")
        context = self.get_context_data(scenario_form=form, project_formset=formset, editing=editing, editor_open=True)
        return self.render_to_response(context, status=400)

    def delete_post(self, request):
        scenario = self.posted_scenario(request)
        if scenario is None:
            messages.warning(request, "Nothing deleted: that scenario no longer exists.")
        else:
            # No service deletes a scenario: the API's DELETE is the model's delete too; its projects go with it.
            scenario.delete()
            messages.success(request, f"Deleted scenario {scenario.name}.")
        return redirect(reverse("dashboards:capacity_plan"))
