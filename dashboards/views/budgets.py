"""The Budgets page: each budget's current period, actual against forecast, with its burn-down; beside them the
spend forecast (capacity.selectors.spend_forecast, the rows /api/v1/forecasts/spend reads) for the months ahead."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from capacity.selectors.spend_forecast import spend_forecasts_latest
from dashboards.access import ViewerRequiredMixin
from dashboards.charts.base import to_html
from dashboards.charts.budgets import budget_burn_down, spend_forecast_chart
from dashboards.forms.budgets import BudgetForm
from finops.reports import ReportError
from finops.roles import user_is_operator
from finops.selectors.budgets import budget_status, budgets_listed
from finops.services.budgets import budget_create


def _frame(series: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"day": list(series.index), "cost": list(series.values)}, columns=["day", "cost"])


FIGURES = ("mean", "lower_80", "upper_80", "lower_95", "upper_95")


def _points(points: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "month": date.fromisoformat(point["month"]),
                **{name: Decimal(point[name]) for name in FIGURES if point.get(name) is not None},
            }
            for point in points
        ],
        columns=["month", *FIGURES],
    )


def spend_forecast_context() -> dict:
    """The spend forecast panel: the newest stored run's total and teams, AWS's beside the total, a chart, a table."""
    try:
        stored = spend_forecasts_latest()
    except ReportError as error:
        return {"errors": error.messages}
    total = stored.total
    if total is None:
        return {"generated_at": stored.generated_at}
    ours = _points(total.points)
    aws = _points((total.aws_forecast or {}).get("forecast", []))
    aws_by_month = {row["month"]: row for row in aws.to_dict("records")}
    teams = pd.DataFrame(
        [
            {"team": row.key, "month": date.fromisoformat(point["month"]), "mean": Decimal(point["mean"])}
            for row in stored.teams
            for point in row.points
        ],
        columns=["team", "month", "mean"],
    )
    team_names = [row.key for row in stored.teams]
    team_means = {(row.key, point["month"]): Decimal(point["mean"]) for row in stored.teams for point in row.points}
    months = [
        {
            **record,
            "index": index,
            "actual_to_date": None if index else Decimal(total.points[0]["actual_to_date"] or 0),
            "aws": aws_by_month.get(record["month"]) or dict.fromkeys(FIGURES),
            "teams": [team_means.get((team, record["month"].isoformat())) for team in team_names],
        }
        for index, record in enumerate(ours.to_dict("records"))
    ]
    chart = spend_forecast_chart(ours, aws, teams, currency=total.currency)
    return {
        "generated_at": stored.generated_at,
        "currency": total.currency,
        "total": total,
        "months": months,
        "team_names": team_names,
        "aws_reason": (total.scores or {}).get("aws_forecast_unavailable"),
        "chart": to_html(chart),
    }


class BudgetsView(ViewerRequiredMixin, TemplateView):
    """Where each budget stands. Operators add budgets here; editing and deleting is /api/v1/budgets."""

    template_name = "dashboards/budgets.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.now().date()
        rows = []
        for budget in budgets_listed():
            status = budget_status(budget=budget, today=today)
            chart = budget_burn_down(
                _frame(status.daily), _frame(status.forecast_daily), amount=budget.amount,
                period_start=status.period_start, period_end=status.period_end,
            )  # fmt: skip
            rows.append({"budget": budget, "status": status, "chart": to_html(chart)})
        context.update(
            rows=rows, today=today, can_edit=user_is_operator(self.request.user), spend=spend_forecast_context()
        )
        context.setdefault("form", BudgetForm())
        return context

    def post(self, request, *args, **kwargs):
        if not user_is_operator(request.user):
            raise PermissionDenied("Adding budgets needs the operator or admin role.")
        form = BudgetForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["tag_key"], data["tag_value"] = data.pop("tag")
            try:
                budget = budget_create(**data, user=request.user)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Added budget {budget.name}.")
                return redirect(f"{request.path}#budget-{budget.pk}")
        return self.render_to_response(self.get_context_data(form=form))
