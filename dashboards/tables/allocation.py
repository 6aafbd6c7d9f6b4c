"""The Allocation page's tables: allocated cost per key value, and the resources missing the tag."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
import pandas as pd
from django.utils.html import format_html

from dashboards.tables.columns import NUMERIC, MoneyColumn, key_value_label
from finops.reports import UNALLOCATED, money_sum


def share_text(part: Decimal, total: Decimal) -> str:
    if not total:
        return "—"
    return f"{part / total * 100:.1f}%"


def allocation_table_rows(items: pd.DataFrame, *, key: str) -> list[dict]:
    """Items per key value and period (allocate's output) summed per key value, largest cost first,
    Unallocated last; each row has value, label, cost, shared_cost and share (of the total, as text)."""
    if items.empty:
        return []
    by_value: dict[str, list[Decimal]] = {}
    for value, cost, shared in zip(items[key], items["cost"], items["shared_cost"], strict=True):
        sums = by_value.setdefault(value, [Decimal(0), Decimal(0)])
        sums[0] = money_sum([sums[0], cost])
        sums[1] = money_sum([sums[1], shared])
    total = money_sum(cost for cost, _ in by_value.values())
    rows = [
        {
            "value": value,
            "label": key_value_label(value),
            "cost": cost,
            "shared_cost": shared,
            "share": share_text(cost, total),
        }
        for value, (cost, shared) in by_value.items()
    ]
    rows.sort(key=lambda row: (row["value"] == UNALLOCATED, -row["cost"], row["label"]))
    return rows


class AllocationTable(tables.Table):
    label = tables.Column(verbose_name="Value", footer="Total", attrs={"tf": {"class": "total-label"}})
    cost = MoneyColumn(verbose_name="Cost")
    shared_cost = MoneyColumn(verbose_name="Of which shared")
    share = tables.Column(verbose_name="Share of total", attrs=NUMERIC, footer="100.0%")

    class Meta:
        orderable = False
        attrs = {"id": "allocation-table", "class": "data"}
        row_attrs = {
            "data-value": lambda record: record["value"],
            "class": lambda record: "unallocated" if record["value"] == UNALLOCATED else "",
        }
        empty_text = "No cost in this window."

    def __init__(self, *args, key_label: str = "Value", **kwargs):
        super().__init__(*args, **kwargs)
        self.columns["label"].column.verbose_name = key_label

    def render_label(self, record):
        if record["value"] == UNALLOCATED:
            return format_html('<span class="swatch swatch-unallocated"></span>{}', record["label"])
        return record["label"]


class UntaggedResourcesTable(tables.Table):
    resource = tables.Column(attrs={"td": {"class": "resource"}})
    account = tables.Column()
    service = tables.Column()
    cost = MoneyColumn(verbose_name="Cost")

    class Meta:
        orderable = False
        attrs = {"id": "untagged-resources", "class": "data"}
        empty_text = "Every resource with cost carries this tag."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, show_footer=False, **kwargs)
