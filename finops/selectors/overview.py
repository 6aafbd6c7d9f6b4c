"""The Overview page's numbers: /api/v1/costs' reader (finops.selectors.reports.cost_report) for its windows."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from finops.selectors.reports import CostReport, cost_report


@dataclass(frozen=True)
class Mover:
    service: str
    previous: Decimal
    current: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def change_percent(self) -> float | None:
        return None if not self.previous else float(self.change / abs(self.previous) * 100)


@dataclass(frozen=True)
class OverviewSummary:
    today: date
    month_to_date: Decimal
    last_month_same_days: Decimal
    daily_by_service: pd.DataFrame
    movers: list[Mover]

    @property
    def has_data(self) -> bool:
        return not self.daily_by_service.empty

    @property
    def month_to_date_change_percent(self) -> float | None:
        if not self.last_month_same_days:
            return None
        return float((self.month_to_date - self.last_month_same_days) / abs(self.last_month_same_days) * 100)


def _costs(start: date, end: date, today: date, **params: str) -> CostReport:
    """/api/v1/costs' answer for this window and these parameters (raises ReportError, e.g. mixed currencies)."""
    window = f"{start.isoformat()},{end.isoformat()}"
    return cost_report(params={"window": [window], **{name: [value] for name, value in params.items()}}, today=today)


def _total(start: date, end: date, today: date) -> Decimal:
    return _costs(start, end, today).total


def _by_service(start: date, end: date, today: date) -> dict[str, Decimal]:
    return {row.key["service"]: row.cost for row in _costs(start, end, today, aggregate="service").rows}


def overview_summary(*, today: date, days: int = 90, movers: int = 10) -> OverviewSummary:
    month_start = today.replace(day=1)
    previous_month_start = (month_start - timedelta(days=1)).replace(day=1)
    days_in_previous = calendar.monthrange(previous_month_start.year, previous_month_start.month)[1]
    previous_end = previous_month_start + timedelta(days=min(today.day - 1, days_in_previous))
    daily = _costs(today - timedelta(days=days), today, today, aggregate="service", step="day").rows
    frame = pd.DataFrame(
        [{"day": row.period, "service": row.key["service"], "cost": row.cost} for row in daily],
        columns=["day", "service", "cost"],
    )
    current = _by_service(today - timedelta(days=7), today, today)
    previous = _by_service(today - timedelta(days=14), today - timedelta(days=7), today)
    changes = [
        Mover(service=service, previous=previous.get(service, Decimal(0)), current=current.get(service, Decimal(0)))
        for service in set(current) | set(previous)
    ]
    changes.sort(key=lambda mover: abs(mover.change), reverse=True)
    return OverviewSummary(
        today=today,
        month_to_date=_total(month_start, today, today),
        last_month_same_days=_total(previous_month_start, previous_end, today),
        daily_by_service=frame,
        movers=[mover for mover in changes[:movers] if mover.change],
    )
