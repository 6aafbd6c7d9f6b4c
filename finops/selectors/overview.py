"""The Overview page's numbers, read with /api/v1/costs' SQL (finops.selectors.costs.cost_rows) in one query.

Month to date compares like with like: usage of this month's complete days against usage of the same days last
month. One-time and monthly fees (tax, support, purchases, commitment fees; finops/charges.py) and credits are
shown apart, since a fee dated the month's first day would otherwise swing the comparison. Every range of days
is named by the days it holds (the end of a window is exclusive; the label is not).
"""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from finops.charges import CREDIT, FEE, KIND_LABELS, USAGE
from finops.reports import money_sum, report_query_parse
from finops.selectors.billing_periods import estimated_day_ranges
from finops.selectors.costs import CHARGE_KIND, CostRow, cost_rows, currency_of


@dataclass(frozen=True)
class DayRange:
    """Complete UTC days from `start` up to `end` (exclusive)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return max(0, (self.end - self.start).days)

    @property
    def last(self) -> date | None:
        return self.end - timedelta(days=1) if self.days else None

    @property
    def label(self) -> str:
        """The days included, e.g. "December 1–2", "December 1", "November 26 – December 2"."""
        last = self.last
        if last is None:
            return f"{calendar.month_name[self.start.month]}: no complete day yet"
        start = f"{calendar.month_name[self.start.month]} {self.start.day}"
        if last == self.start:
            return start
        if (last.year, last.month) == (self.start.year, self.start.month):
            return f"{start}–{last.day}"
        return f"{start} – {calendar.month_name[last.month]} {last.day}"


@dataclass(frozen=True)
class ChargeSplit:
    """Cost of a range of days by kind of charge; the three parts sum to `total` exactly."""

    usage: Decimal
    fees: Decimal
    credits: Decimal

    @property
    def total(self) -> Decimal:
        return money_sum([self.usage, self.fees, self.credits])

    def part(self, kind: str) -> Decimal:
        return {USAGE: self.usage, FEE: self.fees, CREDIT: self.credits}[kind]


def change_percent(current: Decimal, previous: Decimal) -> float | None:
    return None if not previous else float((current - previous) / abs(previous) * 100)


@dataclass(frozen=True)
class ChargeKindRow:
    kind: str
    label: str
    current: Decimal
    previous: Decimal

    @property
    def change_percent(self) -> float | None:
        return change_percent(self.current, self.previous)


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
        return change_percent(self.current, self.previous)


@dataclass(frozen=True)
class OverviewSummary:
    today: date
    currency: str
    this_month: DayRange
    last_month: DayRange
    current: ChargeSplit
    previous: ChargeSplit
    daily_by_service: pd.DataFrame
    this_week: DayRange
    last_week: DayRange
    movers: list[Mover]
    # The chart's days whose billing period is still estimated (the invoice is not final): their figures may change.
    estimated: tuple[DayRange, ...] = ()

    @property
    def has_data(self) -> bool:
        return not self.daily_by_service.empty

    @property
    def month_to_date(self) -> Decimal:
        """All charges of this month's complete days (what /api/v1/costs?window=mtd totals)."""
        return self.current.total

    @property
    def last_month_same_days(self) -> Decimal:
        return self.previous.total

    @property
    def usage_change_percent(self) -> float | None:
        """Usage this month so far against usage of the same days last month; None without days to compare."""
        if not self.this_month.days:
            return None
        return change_percent(self.current.usage, self.previous.usage)

    @property
    def by_kind(self) -> list[ChargeKindRow]:
        return [
            ChargeKindRow(kind=kind, label=KIND_LABELS[kind], current=self.current.part(kind),
                          previous=self.previous.part(kind))
            for kind in (USAGE, FEE, CREDIT)
        ]  # fmt: skip


def month_to_date_ranges(today: date) -> tuple[DayRange, DayRange]:
    """This month's complete days, and the same days of last month (all of it when it is shorter)."""
    month_start = today.replace(day=1)
    previous_start = (month_start - timedelta(days=1)).replace(day=1)
    days_in_previous = calendar.monthrange(previous_start.year, previous_start.month)[1]
    previous_end = previous_start + timedelta(days=min(today.day - 1, days_in_previous))
    return DayRange(month_start, today), DayRange(previous_start, previous_end)


def _daily_rows(start: date, end: date, today: date, currency: str | None) -> tuple[str, list[CostRow]]:
    """Billed cost per day, service and kind of charge over [start, end), export and Cost Explorer as the API reads
    them, in `currency` (None: the rows' one currency); raises ReportError (e.g. rows in several currencies and
    none chosen) as the API would."""
    params = {"window": [f"{start.isoformat()},{end.isoformat()}"]}
    if currency:
        params["currency"] = [currency]
    query = report_query_parse(params, today=today)
    query = dataclasses.replace(query, aggregate=("service", CHARGE_KIND), step="day")
    rows = cost_rows(query=query)
    return currency_of(rows, query=query), rows


def _within(frame: pd.DataFrame, days: DayRange) -> pd.DataFrame:
    return frame[(frame["day"] >= days.start) & (frame["day"] < days.end)]


def _split(frame: pd.DataFrame, days: DayRange) -> ChargeSplit:
    inside = _within(frame, days)
    sums = {kind: money_sum(inside.loc[inside["kind"] == kind, "cost"]) for kind in (USAGE, FEE, CREDIT)}
    return ChargeSplit(usage=sums[USAGE], fees=sums[FEE], credits=sums[CREDIT])


def _usage_by_service(frame: pd.DataFrame, days: DayRange) -> dict[str, Decimal]:
    inside = _within(frame, days)
    inside = inside[inside["kind"] == USAGE]
    return {service: money_sum(costs) for service, costs in inside.groupby("service")["cost"]}


def overview_summary(*, today: date, days: int = 90, movers: int = 10, currency: str | None = None) -> OverviewSummary:
    this_month, last_month = month_to_date_ranges(today)
    this_week = DayRange(today - timedelta(days=7), today)
    last_week = DayRange(today - timedelta(days=14), today - timedelta(days=7))
    start = min(today - timedelta(days=days), last_month.start, last_week.start)
    currency, rows = _daily_rows(start, today, today, currency)
    frame = pd.DataFrame(
        [{"day": row.period, "service": row.key["service"], "kind": row.key[CHARGE_KIND], "cost": row.cost}
         for row in rows],
        columns=["day", "service", "kind", "cost"],
    )  # fmt: skip
    chart_range = DayRange(today - timedelta(days=days), today)
    current = _usage_by_service(frame, this_week)
    previous = _usage_by_service(frame, last_week)
    changes = [
        Mover(service=service, previous=previous.get(service, Decimal(0)), current=current.get(service, Decimal(0)))
        for service in set(current) | set(previous)
    ]
    changes.sort(key=lambda mover: (-abs(mover.change), mover.service))
    return OverviewSummary(
        today=today,
        currency=currency,
        this_month=this_month,
        last_month=last_month,
        current=_split(frame, this_month),
        previous=_split(frame, last_month),
        daily_by_service=_within(frame, chart_range).reset_index(drop=True),
        this_week=this_week,
        last_week=last_week,
        movers=[mover for mover in changes[:movers] if mover.change],
        estimated=tuple(
            DayRange(start, end) for start, end in estimated_day_ranges(start=chart_range.start, end=chart_range.end)
        ),
    )
