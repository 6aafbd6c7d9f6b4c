"""Unit economics on DataFrames: cost per prediction of each served model, cost to train each version. Pure.

Serving cost is the cost of billing lines whose resource is a SageMaker endpoint (ARN `...:endpoint/NAME`);
training cost is that of lines whose resource is a training job (`...:training-job/NAME`). Predictions are
the Invocations an endpoint served in a period, summed over its variants; a period without any datapoint
has unknown predictions (None), never zero, and then no cost per prediction.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, localcontext

import pandas as pd

from finops.allocation.rules import Rules, tag_columns
from finops.reports import MONEY_CONTEXT

ENDPOINT = re.compile(r":endpoint/", re.IGNORECASE)
TRAINING_JOB = re.compile(r":training-job/", re.IGNORECASE)
# The resources whose lines unit costs read, as a case-insensitive regular expression SQL can match (`~*`).
UNIT_COST_RESOURCES = f"{ENDPOINT.pattern}|{TRAINING_JOB.pattern}"
TRAINING_RESOURCES = TRAINING_JOB.pattern
PER = Decimal(1000)
UNIT_PRECISION = Decimal("1e-10")


def _money_sum(values) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = MONEY_CONTEXT.add(total, value)
    return total


def _keyed(rows: pd.DataFrame, aggregate: tuple[str, ...], rules: Rules) -> pd.DataFrame:
    tags = [key[4:] for key in aggregate if key.startswith("tag:")]
    return rows.join(tag_columns(rows, tags, rules)) if tags else rows


def _bucket(day, step: str | None):
    """The report period a day falls in: the day, its ISO week's Monday, its month's first, or "" (whole window)."""
    if step is None:
        return ""
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day


def _known_sum(values) -> Decimal | None:
    known = [value for value in values if value is not None]
    return _money_sum(known) if known else None


def unit_costs(
    rows: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    aggregate: tuple[str, ...],
    rules: Rules,
    step: str | None = None,
) -> pd.DataFrame:
    """Items per aggregate key and period: serving cost, predictions, cost per 1,000 predictions, training cost.

    `rows` has finops.allocation.engine.ROW_COLUMNS with `period` the UTC day; `predictions` has resource,
    period (the day) and predictions (Decimal). Endpoint-days are joined first, then summed into the
    report's `step`. `cost_with_predictions` is the serving cost of the endpoint-days whose predictions
    are known, and the cost per 1,000 predictions divides that (never the cost of days without data) by
    the predictions. Returns [*aggregate, period, cost, cost_with_predictions, predictions,
    cost_per_1000_predictions, training_cost]; `cost` sums to the serving total exactly.
    """
    columns = [*aggregate, "period", "cost", "cost_with_predictions", "predictions", "cost_per_1000_predictions"]
    columns.append("training_cost")
    if rows.empty:
        return pd.DataFrame(columns=columns)
    resources = rows["resource"].fillna("")
    serving = _keyed(rows[resources.str.contains(ENDPOINT)], aggregate, rules)
    training = _keyed(rows[resources.str.contains(TRAINING_JOB)], aggregate, rules)
    keys = [*aggregate, "period"]
    with localcontext(MONEY_CONTEXT):
        per_day_keys = list(dict.fromkeys([*keys, "resource"]))
        per_day = serving.groupby(per_day_keys, sort=True, dropna=False).agg(cost=("cost", _money_sum)).reset_index()
        if predictions.empty:
            per_day["predictions"] = None
        else:
            per_day = per_day.merge(
                predictions[["resource", "period", "predictions"]], on=["resource", "period"], how="left"
            )
        per_day["predictions"] = per_day["predictions"].astype(object).where(per_day["predictions"].notna(), None)
        per_day["cost_with_predictions"] = [
            cost if count is not None else Decimal(0)
            for cost, count in zip(per_day["cost"], per_day["predictions"], strict=True)
        ]
        per_day["period"] = per_day["period"].map(lambda day: _bucket(day, step))
        training = training.assign(period=training["period"].map(lambda day: _bucket(day, step)))
        served = per_day.groupby(keys, sort=True, dropna=False).agg(
            cost=("cost", _money_sum),
            cost_with_predictions=("cost_with_predictions", _money_sum),
            predictions=("predictions", _known_sum),
        )
        trained = training.groupby(keys, sort=True, dropna=False).agg(training_cost=("cost", _money_sum))
        result = served.join(trained, how="outer").reset_index()
        for name in ("cost", "cost_with_predictions", "training_cost"):
            result[name] = result[name].map(lambda value: value if isinstance(value, Decimal) else Decimal(0))
        result["predictions"] = result["predictions"].map(lambda value: value if isinstance(value, Decimal) else None)
        result["cost_per_1000_predictions"] = [
            (cost * PER / count).quantize(UNIT_PRECISION) if count else None
            for cost, count in zip(result["cost_with_predictions"], result["predictions"], strict=True)
        ]
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]
