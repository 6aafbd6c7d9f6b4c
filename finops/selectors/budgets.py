"""Budget reads: a budget's spend per day and its current period status, from the Reports API's cost reads.

A budget's scope becomes a ReportQuery (account and service are report filters; team and tag become
`tag:KEY` aggregate keys whose values are matched here), read by finops.selectors.costs.cost_rows: the same
rows, and the same choice of export or Cost Explorer per account-day, as /api/v1/costs. So a budget's
actual spend equals the Reports API total of the same scope and window to the last digit. Like a report with a
`tag:KEY` key, a team or tag scope reads export data only: Cost Explorer's stored account_service view has no tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings

from finops.budgets import FORECAST_HISTORY_DAYS, period_bounds, spend_forecast
from finops.models import Budget, BudgetCrossing, BudgetThreshold
from finops.reports import ReportQuery, money_sum
from finops.selectors.costs import cost_rows


def budget_report_query(*, budget: Budget, start: date, end: date, step: str | None = None) -> ReportQuery:
    filters: dict[str, tuple[str, ...]] = {}
    if budget.account_id:
        filters["account"] = (budget.account_id,)
    if budget.service:
        filters["service"] = (budget.service,)
    tag_keys: list[str] = []
    if budget.team_id:
        tag_keys.append(settings.COSTPLANE_TEAM_TAG_KEY)
    if budget.tag_key and budget.tag_key not in tag_keys:
        tag_keys.append(budget.tag_key)
    return ReportQuery(
        start=start,
        end=end,
        aggregate=tuple(f"tag:{key}" for key in tag_keys),
        cost_basis=budget.cost_basis,
        step=step,
        filters=filters,
        # A budget is an amount in one currency: it counts only the rows billed in it (never converted).
        currency=budget.currency or "USD",
    )


def _in_scope(budget: Budget, key: dict[str, str]) -> bool:
    if budget.team_id and key[f"tag:{settings.COSTPLANE_TEAM_TAG_KEY}"] not in set(budget.team.tag_values):
        return False
    return not budget.tag_key or key[f"tag:{budget.tag_key}"] == budget.tag_value


def budget_daily_costs(*, budget: Budget, start: date, end: date) -> pd.Series:
    """The budget scope's cost per day in [start, end): Decimal values indexed by date, days without cost left out."""
    rows = cost_rows(query=budget_report_query(budget=budget, start=start, end=end, step="day"))
    daily: dict[date, list[Decimal]] = {}
    for row in rows:
        if _in_scope(budget, row.key):
            daily.setdefault(row.period, []).append(row.cost)
    return pd.Series({day: money_sum(costs) for day, costs in sorted(daily.items())}, dtype=object)


@dataclass(frozen=True)
class ThresholdStatus:
    threshold: BudgetThreshold
    amount: Decimal  # the spend at which it is reached
    spend: Decimal  # the actual or forecast spend it is compared with
    crossing: BudgetCrossing | None  # recorded in this period (it stays current once recorded)

    @property
    def reached(self) -> bool:
        return self.spend >= self.amount


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    today: date
    period_start: date
    period_end: date  # exclusive
    actual: Decimal  # complete days of the period before today
    forecast: Decimal  # actual + forecast of the days left
    method: str  # "forecast" or "run_rate"
    daily: pd.Series  # actual per day of the period (Decimal by date)
    forecast_daily: pd.Series  # forecast per remaining day (Decimal by date)
    thresholds: list[ThresholdStatus]

    @property
    def period_last_day(self) -> date:
        return self.period_end - timedelta(days=1)

    @property
    def percent_used(self) -> float:
        return float(self.actual / self.budget.amount * 100)

    @property
    def forecast_percent(self) -> float:
        return float(self.forecast / self.budget.amount * 100)

    @property
    def crossed(self) -> list[ThresholdStatus]:
        """The thresholds crossed this period: recorded crossings (which stay current for the period) and those the
        spend reaches now but no evaluation has recorded yet. The page and the API both list these, so they agree
        between two evaluations too."""
        return [status for status in self.thresholds if status.crossing is not None or status.reached]


def budget_status(*, budget: Budget, today: date) -> BudgetStatus:
    """The budget's period holding `today`: actual spend (complete days), forecast to period end, thresholds."""
    period_start, period_end = period_bounds(budget.period, today)
    actual_end = min(today, period_end)
    history_start = min(period_start, today - timedelta(days=FORECAST_HISTORY_DAYS))
    history = budget_daily_costs(budget=budget, start=history_start, end=actual_end)
    in_period = history[[period_start <= day < actual_end for day in history.index]] if len(history) else history
    actual = money_sum(in_period.tolist())
    projection = spend_forecast(history, today=today, period_start=period_start, period_end=period_end)
    forecast = actual + projection.total
    crossings = {
        crossing.threshold_id: crossing
        for crossing in BudgetCrossing.objects.filter(threshold__budget=budget, period_start=period_start)
    }
    thresholds = [
        ThresholdStatus(
            threshold=threshold,
            amount=budget.amount * threshold.percent / 100,
            spend=actual if threshold.kind == BudgetThreshold.Kind.ACTUAL else forecast,
            crossing=crossings.get(threshold.pk),
        )
        for threshold in budget.thresholds.all()
    ]
    return BudgetStatus(
        budget=budget,
        today=today,
        period_start=period_start,
        period_end=period_end,
        actual=actual,
        forecast=forecast,
        method=projection.method,
        daily=in_period,
        forecast_daily=projection.daily,
        thresholds=thresholds,
    )


def budgets_listed():
    return Budget.objects.select_related("team").prefetch_related("thresholds").order_by("name")
