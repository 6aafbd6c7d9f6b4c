"""The readers of the money reports: one call per report, shared by /api/v1/... and the page that shows it.

Each takes the request's parameters as the Reports API receives them ({name: [value, ...]}), parses them with the
one grammar (finops.reports), reads and computes, and raises finops.reports.ReportError (its `errors` are the API's
400 body; its `messages` what a page lists). The allocation and unit-cost reports need machines as well as money and
live in capacity/selectors/reports.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from finops.allocation.coverage import tag_coverage, untagged_resources
from finops.reports import ReportQuery, ReportQueryError, money_sum, report_query_parse
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame, rows_source, untagged_lines_frame
from finops.selectors.costs import CostRow, cost_rows, currency_of

ReportParams = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class CostReport:
    """Cost as stored (tags as written) per requested key and period: /api/v1/costs."""

    query: ReportQuery
    currency: str
    rows: list[CostRow]

    @property
    def total(self) -> Decimal:
        return money_sum(row.cost for row in self.rows)


def cost_report(*, params: ReportParams, today: date) -> CostReport:
    query = report_query_parse(params, today=today)
    rows = cost_rows(query=query)
    return CostReport(query=query, currency=currency_of(rows, query=query), rows=rows)


@dataclass(frozen=True)
class TagCoverageReport:
    """Usage cost carrying a tag key after the rules, per day and account, and the top untagged resources."""

    query: ReportQuery
    key: str
    rules_version: int
    currency: str
    coverage: pd.DataFrame
    untagged: pd.DataFrame


def tag_coverage_report(*, params: ReportParams, key: str, today: date, top: int = 20) -> TagCoverageReport:
    """Coverage of `key` over the window (and filters, cost basis) of `params`, by day whatever their step."""
    key = key.strip()
    if not key:
        raise ReportQueryError({"key": ["Name the tag key, for example key=team."]})
    daily = {name: values for name, values in params.items() if name != "aggregate"}
    query = report_query_parse({**daily, "step": ["day"]}, today=today)
    version, rules = allocation_rules_current()
    # Coverage from the rollups when the rules allow; the top untagged resources from the lines that may lack the key.
    frame, currency = allocation_rows_frame(query=query, rules=rules, aggregate=(f"tag:{key}",))
    if rows_source(query, rules, (f"tag:{key}",))[0] == "lines":
        lacking = frame
    else:
        lacking = untagged_lines_frame(query=query, rules=rules, key=key)
    return TagCoverageReport(
        query=query,
        key=key,
        rules_version=version,
        currency=currency,
        coverage=tag_coverage(frame, key=key, rules=rules),
        untagged=untagged_resources(lacking, key=key, rules=rules, top=top),
    )
