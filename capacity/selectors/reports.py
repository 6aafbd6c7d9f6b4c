"""The readers of the reports that need machines as well as money: allocations (with idle GPU cost) and unit costs.

One call per report, shared by /api/v1/allocations, /api/v1/unit-costs and the pages that show them. As in
finops/selectors/reports.py, each takes the request's parameters ({name: [value, ...]}) and raises
finops.reports.ReportError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from capacity.selectors.metering import gpu_hours_frame, gpu_resource_ids, unit_costs_for_query
from finops.allocation.engine import ROW_COLUMNS, allocate, idle_costs
from finops.reports import ReportQuery, report_query_parse
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame, resource_lines_frame
from finops.selectors.reports import ReportParams


@dataclass(frozen=True)
class AllocationReport:
    """Items per key and period: `cost`, and the parts of it from shared-cost rules and from idle GPU capacity."""

    query: ReportQuery
    rules_version: int
    currency: str
    items: pd.DataFrame


def idle_lines_frame(*, query: ReportQuery) -> pd.DataFrame | None:
    """The billing lines' idle GPU parts (finops.allocation.engine.idle_costs) in ROW_COLUMNS, or None without any."""
    resource_ids = gpu_resource_ids()
    lines = resource_lines_frame(query=query, resource_ids=resource_ids)
    if lines.empty:
        return None
    hours = gpu_hours_frame(resource_ids=resource_ids, start=query.start, end=query.end)
    idle = lines.assign(cost=idle_costs(lines, hours))
    return idle[list(ROW_COLUMNS)]


def allocation_report(*, params: ReportParams, today: date) -> AllocationReport:
    """Cost after the allocation rules: tag rules, shared-cost splits, and idle GPU cost of the machines paid for."""
    query = report_query_parse(params, today=today)
    version, rules = allocation_rules_current()
    frame, currency = allocation_rows_frame(query=query)
    items = allocate(frame, aggregate=query.aggregate, rules=rules, idle=idle_lines_frame(query=query))
    return AllocationReport(query=query, rules_version=version, currency=currency, items=items)


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
