"""Idle GPU cost and unit economics, pure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from finops.allocation.engine import ROW_COLUMNS, allocate, idle_costs
from finops.allocation.rules import rules_parse
from finops.unit_economics import unit_costs

D = Decimal
ENDPOINT = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/resnet-prod"
IDLE_ENDPOINT = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/resnet-dev"
TRAINING = "arn:aws:sagemaker:us-east-1:111111111111:training-job/resnet-v7-20260101"


def rows(*entries: dict) -> pd.DataFrame:
    defaults = {"period": None, "account": "111111111111", "service": "Amazon SageMaker", "region": "us-east-1",
                "usage_type": "", "resource": "", "charge_category": "usage", "tags": {}, "cost": D(0)}  # fmt: skip
    return pd.DataFrame([{**defaults, **entry} for entry in entries], columns=list(ROW_COLUMNS))


def test_it_counts_idle_gpu_cost_only_for_hours_with_data():
    lines = pd.DataFrame(
        {
            "resource": ["i-gpu", "i-gpu"],
            "start": pd.to_datetime(["2026-01-01T00:00Z", "2026-01-02T00:00Z"], utc=True),
            "end": pd.to_datetime(["2026-01-02T00:00Z", "2026-01-03T00:00Z"], utc=True),
            "cost": [D("24"), D("48")],
        }
    )
    hours = pd.DataFrame(
        {
            "resource": ["i-gpu"] * 5,
            "hour": pd.to_datetime(
                [
                    "2026-01-01T00:00Z",
                    "2026-01-01T01:00Z",
                    "2026-01-01T02:00Z",
                    "2026-01-01T03:00Z",
                    "2026-01-02T05:00Z",
                ],
                utc=True,
            ),
            "average": [D("25"), D("25"), D("100"), None, D("0")],
        }
    )
    # Day 1: $1/hour, data for 3 hours (one NULL): 0.75 + 0.75 + 0. Day 2: $2/hour, one idle hour: 2.
    assert list(idle_costs(lines, hours)) == [D("1.5"), D("2")]


def test_it_puts_idle_cost_in_the_owning_teams_item_as_part_of_its_cost():
    frame = rows(
        {"resource": "i-gpu", "tags": {"team": "vision"}, "cost": D("24")},
        {"resource": "i-cpu", "tags": {"team": "speech"}, "cost": D("5")},
    )
    idle = rows({"resource": "i-gpu", "tags": {"team": "vision"}, "cost": D("6")})
    items = allocate(frame, aggregate=("tag:team",), rules=rules_parse({}), idle=idle)
    got = {record["tag:team"]: (record["cost"], record["idle_cost"]) for record in items.to_dict("records")}
    assert got == {"speech": (D("5"), D("0")), "vision": (D("24"), D("6"))}


def test_it_prices_predictions_per_model_version_and_leaves_unknown_unknown():
    frame = rows(
        {"period": date(2026, 1, 5), "resource": ENDPOINT, "tags": {"model": "resnet", "model_version": "v7"},
         "cost": D("30")},
        {"period": date(2026, 1, 5), "resource": IDLE_ENDPOINT, "tags": {"model": "resnet", "model_version": "v8"},
         "cost": D("12")},
        {"period": date(2026, 1, 5), "resource": TRAINING, "tags": {"model": "resnet", "model_version": "v7"},
         "cost": D("400")},
        {"period": date(2026, 1, 5), "resource": "i-other", "cost": D("99")},
    )  # fmt: skip
    predictions = pd.DataFrame({"resource": [ENDPOINT], "period": [date(2026, 1, 5)], "predictions": [D("120000")]})
    items = unit_costs(frame, predictions, aggregate=("tag:model", "tag:model_version"), rules=rules_parse({}))
    got = {
        record["tag:model_version"]: (
            record["cost"], record["predictions"], record["cost_per_1000_predictions"], record["training_cost"]
        )
        for record in items.to_dict("records")
    }  # fmt: skip
    assert got == {
        "v7": (D("30"), D("120000"), D("0.25"), D("400")),
        "v8": (D("12"), None, None, D("0")),
    }
    assert sum(items["cost"], D(0)) == D("42"), "only serving cost counts in cost; the EC2 line is not a model's"


def test_it_divides_only_the_cost_of_days_with_prediction_data():
    tags = {"model": "resnet", "model_version": "v7"}
    frame = rows(
        {"period": date(2026, 1, 5), "resource": ENDPOINT, "tags": tags, "cost": D("30")},
        {"period": date(2026, 1, 6), "resource": ENDPOINT, "tags": tags, "cost": D("30")},
    )
    predictions = pd.DataFrame({"resource": [ENDPOINT], "period": [date(2026, 1, 5)], "predictions": [D("120000")]})
    weekly = unit_costs(frame, predictions, aggregate=("tag:model",), rules=rules_parse({}), step="week")
    [record] = weekly.to_dict("records")
    assert record["period"] == date(2026, 1, 5)  # the Monday of that ISO week
    assert (record["cost"], record["cost_with_predictions"], record["predictions"]) == (D("60"), D("30"), D("120000"))
    assert record["cost_per_1000_predictions"] == D("0.25")
