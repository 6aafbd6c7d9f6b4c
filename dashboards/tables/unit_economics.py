"""The Unit economics page's tables: cost per 1,000 predictions per model version (or endpoint), and training
cost per model version."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
import pandas as pd
from django.utils.html import format_html

from dashboards.tables.columns import NUMERIC, MoneyColumn
from dashboards.templatetags.costplane import exact, unit_price
from finops.reports import UNALLOCATED

UNKNOWN_PREDICTIONS = format_html(
    '<span class="no-data" title="No Invocations datapoint in the window: unknown, not zero">{}</span>', "unknown"
)
UNTAGGED_LABEL = "untagged"
COST_WITH_PREDICTIONS_TITLE = (
    "The serving cost of the endpoint-days with Invocations data: cost per 1,000 = this x 1,000 / predictions. "
    "Days without data add neither cost nor predictions."
)


def unit_key(record: dict, aggregate: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("" if record[key] in (None, UNALLOCATED) else str(record[key]) for key in aggregate)


def unit_key_label(key: tuple[str, ...], aggregate: tuple[str, ...]) -> str:
    """A model version as "model version", an endpoint by its name (the ARN's last part); untagged says so."""
    if aggregate == ("resource",):
        return key[0].rsplit("/", 1)[-1] or "(no resource)"
    return " ".join(value or f"({UNTAGGED_LABEL} {name[4:] if name.startswith('tag:') else name})"
                    for value, name in zip(key, aggregate, strict=True))  # fmt: skip


def unit_cost_table_rows(items: pd.DataFrame, *, aggregate: tuple[str, ...]) -> list[dict]:
    """unit_costs' items of a whole window as rows: key, label, the key values by name, cost, cost_with_predictions
    (the serving cost of the endpoint-days whose predictions are known: what the cost per 1,000 divides), predictions
    (None = unknown), cost_per_1000_predictions, training_cost; most serving cost first, then training cost."""
    rows = []
    for record in items.to_dict("records"):
        key = unit_key(record, aggregate)
        rows.append(
            {
                "key": key,
                "label": unit_key_label(key, aggregate),
                "values": dict(zip(aggregate, key, strict=True)),
                "model": record.get("tag:model"),
                "model_version": record.get("tag:model_version"),
                "cost": record["cost"],
                "cost_with_predictions": record["cost_with_predictions"],
                "predictions": record["predictions"],
                "cost_per_1000_predictions": record["cost_per_1000_predictions"],
                "training_cost": record["training_cost"],
            }
        )
    rows.sort(key=lambda row: (-row["cost"], -row["training_cost"], row["label"]))
    return rows


def unit_cost_daily_rows(items: pd.DataFrame, *, aggregate: tuple[str, ...], keys: list[tuple[str, ...]]) -> list[dict]:
    """unit_costs' daily items (step=day) of the given keys as label, period, cost_per_1000_predictions (None where
    the day's predictions are unknown), in the order of `keys`."""
    order = {key: index for index, key in enumerate(keys)}
    rows = [
        {
            "label": unit_key_label(key, aggregate),
            "order": order[key],
            "period": record["period"],
            "cost_per_1000_predictions": record["cost_per_1000_predictions"],
        }
        for record in items.to_dict("records")
        if (key := unit_key(record, aggregate)) in order and record["period"] is not None and record["cost"] > 0
    ]
    return sorted(rows, key=lambda row: (row["order"], row["period"]))


def unit_price_html(value: Decimal | None):
    """Cost per 1,000 predictions as the charts show it (costplane.unit_price); the exact value in the title."""
    if value is None:
        return "—"
    return format_html('<span title="{}" data-exact="{}">{}</span>', exact(value), exact(value), unit_price(value))


class UnitCostTable(tables.Table):
    """unit_cost_table_rows' rows: serving cost, the serving cost of the days with predictions counted, predictions
    (unknown where no datapoint), cost per 1,000 (= the days' cost x 1,000 / predictions, recomputable from the row)."""

    label = tables.Column(verbose_name="Model version", footer="Total", attrs={"tf": {"class": "total-label"}})
    cost = MoneyColumn(verbose_name="Serving cost")
    cost_with_predictions = MoneyColumn(
        verbose_name="Serving cost of days with predictions",
        attrs={**NUMERIC, "th": {"class": "num", "title": COST_WITH_PREDICTIONS_TITLE}},
    )
    predictions = tables.Column(verbose_name="Predictions", attrs=NUMERIC, empty_values=())
    cost_per_1000_predictions = tables.Column(verbose_name="Cost per 1,000 predictions", attrs=NUMERIC, empty_values=())
    training_cost = MoneyColumn(verbose_name="Training cost")

    class Meta:
        orderable = False
        attrs = {"id": "unit-cost-table", "class": "data"}
        row_attrs = {"data-key": lambda record: "|".join(record["key"])}
        empty_text = "No serving or training cost in this window."

    def __init__(self, *args, group: str = "model", **kwargs):
        super().__init__(*args, **kwargs)
        if group == "resource":
            self.columns["label"].column.verbose_name = "Endpoint or training job"

    def render_label(self, record):
        if "resource" in record["values"]:
            return format_html('<span class="resource-name" title="{}">{}</span>', record["values"]["resource"],
                               record["label"])  # fmt: skip
        if not all(record["key"]):
            return format_html('<span class="muted">{}</span>', record["label"])
        return record["label"]

    def render_predictions(self, record):
        if record["predictions"] is not None:
            count = record["predictions"]
            return format_html('<span title="{}">{}</span>', exact(count), f"{count:,.0f}")
        return UNKNOWN_PREDICTIONS if record["cost"] > 0 else "—"

    def render_cost_per_1000_predictions(self, record):
        return unit_price_html(record["cost_per_1000_predictions"])


class TrainingCostTable(tables.Table):
    """Training cost per model version (rows of unit_cost_table_rows with training cost)."""

    model = tables.Column(verbose_name="Model", footer="Total", attrs={"tf": {"class": "total-label"}}, empty_values=())
    model_version = tables.Column(verbose_name="Version", empty_values=())
    training_cost = MoneyColumn(verbose_name="Training cost")

    class Meta:
        orderable = False
        attrs = {"id": "training-cost-table", "class": "data"}
        empty_text = "No training job cost in the last 13 months."

    def render_model(self, value):
        return _tag_value_html(value, "(untagged model)")

    def render_model_version(self, value):
        return _tag_value_html(value, "(untagged version)")


def _tag_value_html(value: str | None, missing: str):
    return value if value not in (None, "", UNALLOCATED) else format_html('<span class="muted">{}</span>', missing)
