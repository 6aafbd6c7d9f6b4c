"""The readers of the reports that need machines as well as money: allocations (with idle GPU cost) and unit costs.

One call per report, shared by /api/v1/allocations, /api/v1/unit-costs and the pages that show them. As in
finops/selectors/reports.py, each takes the request's parameters ({name: [value, ...]}) and raises
finops.reports.ReportError.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import pandas as pd

from capacity.models import IdleGpuCostDaily
from capacity.selectors.metering import unit_costs_for_query, unit_costs_for_steps
from finops.allocation.engine import ROW_COLUMNS, allocate
from finops.allocation.rules import Rules
from finops.reports import ReportQuery, money_sum, report_query_parse
from finops.selectors.allocation_rules import allocation_rules_current, allocation_rules_of_version
from finops.selectors.allocations import allocation_rows_frame, daily_table_rows_frame
from finops.selectors.billing_periods import final_period_rules_versions, scopes_where
from finops.selectors.costs import currency_of
from finops.selectors.reports import ReportParams


@dataclass(frozen=True)
class AllocationReport:
    """Items per key and period: `cost`, and the parts of it from shared-cost rules and from idle GPU capacity."""

    query: ReportQuery
    rules_version: int
    currency: str
    items: pd.DataFrame


def idle_lines_frame(*, query: ReportQuery, scopes: tuple[str, list] | None = None) -> pd.DataFrame | None:
    """The idle GPU parts of the billing lines (finops.allocation.engine.idle_costs) in ROW_COLUMNS, from the idle
    GPU cost per day (capacity.models.IdleGpuCostDaily), or None without any."""
    idle = daily_table_rows_frame(query=query, table=IdleGpuCostDaily._meta.db_table, scopes=scopes)
    return None if idle.empty else idle


def allocation_report(*, params: ReportParams, today: date) -> AllocationReport:
    """Cost after the allocation rules: tag rules, shared-cost splits, and idle GPU cost of the machines paid for."""
    query = report_query_parse(params, today=today)
    version, rules = allocation_rules_current()
    # A final billing period stays allocated under the rules version in force when it became final (ARCHITECTURE.md,
    # "Currencies and billing periods"): its rows are allocated apart, each group under its own version.
    kept = final_period_rules_versions(start=query.start, end=query.end, current_version=version)
    if not kept:
        frame, currency = allocation_rows_frame(query=query, rules=rules, aggregate=query.aggregate, only_needed=True)
        items = allocate(frame, aggregate=query.aggregate, rules=rules, idle=idle_lines_frame(query=query))
        return AllocationReport(query=query, rules_version=version, currency=currency, items=items)
    pinned = [scope for scopes in kept.values() for scope in scopes]
    groups = [(rules, scopes_where(pinned, inside=False))]
    groups += [
        (allocation_rules_of_version(number), scopes_where(scopes, inside=True)) for number, scopes in kept.items()
    ]
    parts, currencies = [], set()
    for group_rules, scopes in groups:
        frame, currency = allocation_rows_frame(
            query=query, scopes=scopes, rules=group_rules, aggregate=query.aggregate, only_needed=True
        )
        if frame.empty:
            continue
        currencies.add(currency)
        idle = idle_lines_frame(query=query, scopes=scopes)
        parts.append(allocate(frame, aggregate=query.aggregate, rules=group_rules, idle=idle))
    currency = currency_of(currencies, query=query)
    return AllocationReport(query=query, rules_version=version, currency=currency, items=_items_sum(parts, query))


def _items_sum(parts: list[pd.DataFrame], query: ReportQuery) -> pd.DataFrame:
    """Items of several allocations added per key and period, exactly (Decimal sums)."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return allocate(pd.DataFrame(columns=list(ROW_COLUMNS)), aggregate=query.aggregate, rules=Rules(), idle=None)
    keys = [*query.aggregate, "period"]
    combined = pd.concat(parts, ignore_index=True)
    money = [column for column in combined.columns if column not in keys]
    summed = combined.groupby(keys, sort=True, dropna=False)[money].agg(lambda values: money_sum(values))
    return summed.reset_index()


@dataclass(frozen=True)
class UnitCostReport:
    """Serving cost per 1,000 predictions and training cost per requested key (finops.unit_economics.unit_costs)."""

    query: ReportQuery
    rules_version: int
    currency: str
    items: pd.DataFrame


def unit_cost_report(*, params: ReportParams, today: date) -> UnitCostReport:
    query = report_query_parse(params, today=today)
    version, currency, items = unit_costs_for_query(query=query)
    return UnitCostReport(query=query, rules_version=version, currency=currency, items=items)


def training_cost_report(*, params: ReportParams, today: date) -> UnitCostReport:
    """The unit-cost report's training cost alone, reading only training jobs' lines (its serving cost is zero)."""
    query = report_query_parse(params, today=today)
    version, currency, items = unit_costs_for_steps(query=query, steps=(query.step,), training_only=True)
    return UnitCostReport(query=query, rules_version=version, currency=currency, items=items[query.step])


def unit_cost_report_daily(*, params: ReportParams, today: date) -> tuple[UnitCostReport, UnitCostReport]:
    """The unit-cost report of `params` and the same report per day (its step "day"), from one read of billing."""
    query = report_query_parse(params, today=today)
    version, currency, items = unit_costs_for_steps(query=query, steps=(query.step, "day"))
    return tuple(
        UnitCostReport(
            query=dataclasses.replace(query, step=step), rules_version=version, currency=currency, items=items[step]
        )
        for step in (query.step, "day")
    )
