"""The Allocation page's tables: allocated cost per key value, and the resources missing the tag."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import django_tables2 as tables
import pandas as pd
from django.utils.html import format_html

from dashboards.tables.columns import NUMERIC, AccountColumn, MoneyColumn, key_value_label
from dashboards.templatetags.labels import account_label_html, enum_label, period_bucket, period_start
from finops.models import CostRecord
from finops.reports import UNALLOCATED, ReportQuery, money_sum


def share_text(part: Decimal, total: Decimal) -> str:
    if not total:
        return "—"
    return f"{part / total * 100:.1f}%"


def allocation_table_rows(items: pd.DataFrame, *, key: str) -> list[dict]:
    """Items per key value and period (allocate's output) summed per key value, largest cost first,
    Unallocated last; each row has value, label, cost, shared_cost, share (of the total, as text), idle_cost (the
    idle GPU part of its cost) and idle_share (of its own cost, as text)."""
    if items.empty:
        return []
    by_value: dict[str, list[Decimal]] = {}
    for value, cost, shared, idle in zip(
        items[key], items["cost"], items["shared_cost"], items["idle_cost"], strict=True
    ):
        sums = by_value.setdefault(value, [Decimal(0), Decimal(0), Decimal(0)])
        sums[0] = money_sum([sums[0], cost])
        sums[1] = money_sum([sums[1], shared])
        sums[2] = money_sum([sums[2], idle])
    total = money_sum(cost for cost, _, _ in by_value.values())
    rows = [
        {
            "value": value,
            "label": key_value_label(value),
            "cost": cost,
            "shared_cost": shared,
            "share": share_text(cost, total),
            "idle_cost": idle,
            "idle_share": share_text(idle, cost),
        }
        for value, (cost, shared, idle) in by_value.items()
    ]
    rows.sort(key=lambda row: (row["value"] == UNALLOCATED, -row["cost"], row["label"]))
    return rows


def period_buckets(items: pd.DataFrame, *, query: ReportQuery) -> dict:
    """{period's first day: PeriodBucket} for every period the window touches (those without cost too, so that a
    gap shows as a gap), each cut to the window; a whole-window report (no step) has one bucket keyed None."""
    if query.step is None:
        return {None: period_bucket(query.start, step=None, start=query.start, end=query.end)}
    buckets = {}
    period = period_start(query.start, step=query.step)
    while period < query.end:
        bucket = period_bucket(period, step=query.step, start=query.start, end=query.end)
        buckets[period] = bucket
        period = bucket.period_end
    return buckets


def item_periods(items: pd.DataFrame) -> pd.Series:
    """The items' periods as dates (as the buckets are keyed)."""
    return items["period"].map(lambda value: value.date() if isinstance(value, datetime) else value)


def period_table_rows(items: pd.DataFrame, *, buckets: dict) -> list[dict]:
    """Cost, shared and idle GPU cost per period, labelled by the dates each period holds in the window, a period
    the window cuts marked partial ("partial: 3 of 7 days")."""
    periods = item_periods(items) if not items.empty else pd.Series(dtype=object)
    rows = []
    for period, bucket in buckets.items():
        chosen = items if period is None else items[periods == period]
        cost, idle = money_sum(chosen["cost"]), money_sum(chosen["idle_cost"])
        rows.append(
            {
                "period": period,
                "label": bucket.label,
                "days": bucket.days,
                "partial_note": bucket.partial_note,
                "cost": cost,
                "shared_cost": money_sum(chosen["shared_cost"]),
                "idle_cost": idle,
                "idle_share": share_text(idle, cost),
            }
        )
    return rows


class AllocationTable(tables.Table):
    label = tables.Column(verbose_name="Value", footer="Total", attrs={"tf": {"class": "total-label"}})
    cost = MoneyColumn(verbose_name="Cost")
    shared_cost = MoneyColumn(
        verbose_name="Shared", attrs={**NUMERIC, "th": {"class": "num", "title": "Of the cost: from shared-cost rules"}}
    )
    idle_cost = MoneyColumn(
        verbose_name="Idle GPU",
        attrs={**NUMERIC, "th": {"class": "num", "title": "Of the cost: paid-for GPU capacity left unused"}},
    )
    idle_share = tables.Column(
        verbose_name="Idle share",
        attrs={**NUMERIC, "th": {"class": "num", "title": "Idle GPU cost as a share of this row's cost"}},
        footer=lambda table: share_text(
            money_sum(row["idle_cost"] for row in table.data), money_sum(row["cost"] for row in table.data)
        ),
    )
    share = tables.Column(verbose_name="Share of total", attrs=NUMERIC, footer="100.0%")

    class Meta:
        orderable = False
        attrs = {"id": "allocation-table", "class": "data"}
        sequence = ("label", "cost", "shared_cost", "share", "idle_cost", "idle_share")
        row_attrs = {
            "data-value": lambda record: record["value"],
            "class": lambda record: "unallocated" if record["value"] == UNALLOCATED else "",
        }
        empty_text = "No cost in this window."

    def __init__(
        self, *args, key: str = "", key_label: str = "Value", account_names: dict[str, str] | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.key = key
        self.account_names = account_names or {}
        self.columns["label"].column.verbose_name = key_label

    def render_label(self, record):
        if record["value"] == UNALLOCATED:
            return format_html('<span class="swatch swatch-unallocated"></span>{}', record["label"])
        if self.key == "account":
            return account_label_html(record["value"], self.account_names)
        if self.key == "charge_category":
            return enum_label(record["value"], CostRecord.ChargeCategory.choices)
        return record["label"]


class AllocationPeriodTable(tables.Table):
    """Totals per period, each labelled by the dates it holds; a period the window cuts is marked partial."""

    label = tables.Column(verbose_name="Period", footer="Total", attrs={"tf": {"class": "total-label"}})
    days = tables.Column(verbose_name="Days", attrs=NUMERIC)
    cost = MoneyColumn(verbose_name="Cost")
    shared_cost = MoneyColumn(verbose_name="Of which shared")
    idle_cost = MoneyColumn(verbose_name="Of which idle GPU")
    idle_share = tables.Column(
        verbose_name="Idle share",
        attrs=NUMERIC,
        footer=lambda table: share_text(
            money_sum(row["idle_cost"] for row in table.data), money_sum(row["cost"] for row in table.data)
        ),
    )

    class Meta:
        orderable = False
        attrs = {"id": "allocation-periods", "class": "data"}
        row_attrs = {
            "data-period": lambda record: record["period"].isoformat() if record["period"] else "",
            "class": lambda record: "partial" if record["partial_note"] else "",
        }
        empty_text = "No cost in this window."

    def render_label(self, record):
        if record["partial_note"]:
            return format_html(
                '{} <span class="badge partial-badge" title="The window holds only part of this period">{}</span>',
                record["label"],
                record["partial_note"],
            )
        return record["label"]


class UntaggedResourcesTable(tables.Table):
    resource = tables.Column(attrs={"td": {"class": "resource"}})
    account = AccountColumn()
    service = tables.Column()
    cost = MoneyColumn(verbose_name="Cost")

    class Meta:
        orderable = False
        attrs = {"id": "untagged-resources", "class": "data"}
        empty_text = "Every resource with cost carries this tag."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, show_footer=False, **kwargs)
