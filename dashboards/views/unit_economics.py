"""The Unit economics page: cost per 1,000 predictions of each served model (or endpoint), its daily course, and
what training each model version cost, as /api/v1/unit-costs reports them."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from capacity.selectors.reports import training_cost_report, unit_cost_report_daily
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.unit_economics import unit_cost_by_group, unit_cost_daily
from dashboards.forms.unit_economics import UNIT_GROUPINGS, UnitEconomicsControlsForm
from dashboards.tables.unit_economics import (
    TrainingCostTable,
    UnitCostTable,
    unit_cost_daily_rows,
    unit_cost_table_rows,
)
from dashboards.views.controls import form_errors
from dashboards.views.fragments import FragmentMixin
from finops.reports import ReportError, money_sum
from finops.selectors.billing import billing_rows_exist

TRAINING_MONTHS = 13
TOP_DAILY_GROUPS = 5


def training_window(today: date) -> str:
    """The last 13 months as a report window: the current month so far and the 12 before it."""
    start = today.replace(day=1)
    for _ in range(TRAINING_MONTHS - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return f"{start.isoformat()},{today.isoformat()}"


def _api_links(params: dict[str, str]) -> dict[str, str]:
    base = reverse("report-unit-costs")
    return {"api_url": f"{base}?{urlencode(params)}", "csv_url": f"{base}?{urlencode({**params, 'format': 'csv'})}"}


class UnitEconomicsView(ViewerRequiredMixin, FragmentMixin, TemplateView):
    """Cost per 1,000 predictions of each served model (or endpoint) and what training each model version cost.

    Figures are /api/v1/unit-costs' for the same parameters. One view, three renderings: the full page; the
    report fragment for the htmx controls; the training panel (`?panel=training`, 13 months of billing), which
    the page loads with hx-trigger="load".
    """

    template_name = "dashboards/unit_economics.html"
    fragment_panels = {"training": ("dashboards/_unit_training.html", "training_context")}
    fragment_htmx = ("dashboards/_unit_report.html", "report_fragment")
    fragment_vary = ("HX-Request",)

    def report_fragment(self) -> dict:
        return self.report_context(self.controls_form())

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
        context = {"controls": form, "has_data": billing_rows_exist(), "errors": form_errors(form)}
        if context["errors"] or not context["has_data"]:
            return context
        params = form.report_params()
        group = form.cleaned_data["group"]
        context.update(params=params, group=group, group_label=UNIT_GROUPINGS[group][0], **_api_links(params))
        try:
            report, daily_report = unit_cost_report_daily(
                params={name: [value] for name, value in params.items()}, today=timezone.now().date()
            )
        except ReportError as error:
            context["errors"] = error.messages
            return context
        query, daily = report.query, daily_report.items
        rows = unit_cost_table_rows(report.items, aggregate=query.aggregate)
        served = [row for row in rows if row["cost"] > 0]
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=report.currency,
            rules_version=report.rules_version,
            serving_total=money_sum(row["cost"] for row in rows),
            training_total=money_sum(row["training_cost"] for row in rows),
            has_rows=bool(rows),
            has_serving=bool(served),
            unknown_count=sum(1 for row in served if row["predictions"] is None),
            table=UnitCostTable(rows, group=group),
        )
        known = [row for row in served if row["cost_per_1000_predictions"] is not None]
        if known:
            context["chart"] = to_html(unit_cost_by_group(pd.DataFrame(known)))
            top = [row["key"] for row in sorted(known, key=lambda row: -row["cost"])[:TOP_DAILY_GROUPS]]
            counted = daily[daily["predictions"].notna()]["period"]
            if not counted.empty and min(counted) > query.start:
                context["predictions_since"] = min(counted)
            daily_rows = unit_cost_daily_rows(daily, aggregate=query.aggregate, keys=top)
            if daily_rows:
                context["daily_chart"] = to_html(unit_cost_daily(pd.DataFrame(daily_rows)))
        return context

    def training_context(self) -> dict:
        params = {"window": training_window(timezone.now().date()), "aggregate": "tag:model,tag:model_version"}
        context: dict = {"has_data": billing_rows_exist(), "errors": [], **_api_links(params)}
        if not context["has_data"]:
            return context
        try:
            report = training_cost_report(
                params={name: [value] for name, value in params.items()}, today=timezone.now().date()
            )
        except ReportError as error:
            context["errors"] = error.messages
            return context
        query = report.query
        rows = [row for row in unit_cost_table_rows(report.items, aggregate=query.aggregate) if row["training_cost"]]
        rows.sort(key=lambda row: (-row["training_cost"], row["label"]))
        context.update(
            query=query,
            last_day=query.end - timedelta(days=1),
            currency=report.currency,
            training_total=money_sum(row["training_cost"] for row in rows),
            table=TrainingCostTable(rows),
            has_rows=bool(rows),
        )
        return context
