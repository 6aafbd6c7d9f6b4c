"""Unit economics on DataFrames: cost per prediction of each served model, cost to train each version. Pure.

Serving cost is the cost of billing lines whose resource is a SageMaker endpoint (ARN `...:endpoint/NAME`);
training cost is that of lines whose resource is a training job (`...:training-job/NAME`). Predictions are
the Invocations an endpoint served in a period, summed over its variants; a period without any datapoint
has unknown predictions (None), never zero, and then no cost per prediction.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

import pandas as pd

from finops.allocation import Rules, tag_columns
from finops.reports import MONEY_CONTEXT

ENDPOINT = re.compile(r":endpoint/", re.IGNORECASE)
TRAINING_JOB = re.compile(r":training-job/", re.IGNORECASE)
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


def unit_costs(
    rows: pd.DataFrame, predictions: pd.DataFrame, *, aggregate: tuple[str, ...], rules: Rules
) -> pd.DataFrame:
    """Items per aggregate key and period: serving cost, predictions, cost per 1,000 predictions, training cost.

    `rows` has finops.allocation.ROW_COLUMNS (period "" or None for a whole window); `predictions` has
    resource, period, predictions (Decimal). Returns [*aggregate, period, cost, predictions,
    cost_per_1000_predictions, training_cost]; `cost` sums to the serving total exactly.
    """
    columns = [*aggregate, "period", "cost", "predictions", "cost_per_1000_predictions", "training_cost"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.assign(period=rows["period"].map(lambda value: "" if value is None else value))
    resources = rows["resource"].fillna("")
    serving = _keyed(rows[resources.str.contains(ENDPOINT)], aggregate, rules)
    training = _keyed(rows[resources.str.contains(TRAINING_JOB)], aggregate, rules)
    keys = [*aggregate, "period"]
    with localcontext(MONEY_CONTEXT):
        per_endpoint_keys = list(dict.fromkeys([*keys, "resource"]))
        per_endpoint = serving.groupby(per_endpoint_keys, sort=True, dropna=False).agg(cost=("cost", _money_sum))
        per_endpoint = per_endpoint.reset_index()
        if not predictions.empty:
            counted = predictions.assign(period=predictions["period"].map(lambda value: "" if value is None else value))
            per_endpoint = per_endpoint.merge(counted, on=["resource", "period"], how="left")
        else:
            per_endpoint["predictions"] = None
        per_endpoint["predictions"] = (
            per_endpoint["predictions"].astype(object).where(per_endpoint["predictions"].notna(), None)
        )
        served = per_endpoint.groupby(keys, sort=True, dropna=False).agg(
            cost=("cost", _money_sum),
            predictions=(
                "predictions",
                lambda values: None
                if all(v is None for v in values)
                else _money_sum(v for v in values if v is not None),
            ),
        )
        trained = training.groupby(keys, sort=True, dropna=False).agg(training_cost=("cost", _money_sum))
        result = served.join(trained, how="outer").reset_index()
        result["cost"] = result["cost"].map(lambda value: Decimal(0) if not isinstance(value, Decimal) else value)
        result["training_cost"] = result["training_cost"].map(
            lambda value: value if isinstance(value, Decimal) else Decimal(0)
        )
        result["predictions"] = result["predictions"].map(lambda value: value if isinstance(value, Decimal) else None)
        result["cost_per_1000_predictions"] = [
            (cost * PER / count).quantize(UNIT_PRECISION) if count else None
            for cost, count in zip(result["cost"], result["predictions"], strict=True)
        ]
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]
