"""Paths to the shared third-party fixtures and small helpers for the importer tests."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd

from finops.importers import NORMALISED_COLUMNS, open_billing_file

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT.parent / "shared" / "data"
FOCUS_EXAMPLES = DATA / "focus-examples"

FOCUS_HEADER = [
    "BillingAccountId",
    "SubAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ServiceName",
    "RegionId",
    "ResourceId",
    "PricingQuantity",
    "PricingUnit",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "Tags",
]


def read_all(source, **options) -> pd.DataFrame:
    billing_file = open_billing_file(source)
    frames = list(billing_file.batches(**options))
    for frame in frames:
        assert tuple(frame.columns) == NORMALISED_COLUMNS
    return pd.concat(frames, ignore_index=True)


def total(values) -> Decimal:
    return sum((Decimal(value) for value in values), Decimal(0))


def focus_row(**overrides: str) -> dict[str, str]:
    row = {
        "BillingAccountId": "000123456789",
        "SubAccountId": "000987654321",
        "BillingPeriodStart": "2024-03-01T00:00:00Z",
        "BillingPeriodEnd": "2024-04-01T00:00:00Z",
        "ChargePeriodStart": "2024-03-05T10:00:00Z",
        "ChargePeriodEnd": "2024-03-05T11:00:00Z",
        "ChargeCategory": "Usage",
        "ServiceName": "Amazon SageMaker",
        "RegionId": "us-east-1",
        "ResourceId": "arn:aws:sagemaker:us-east-1:000987654321:endpoint/demo",
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        "BilledCost": "1.5",
        "EffectiveCost": "1.25",
        "ListCost": "2",
        "BillingCurrency": "USD",
        "Tags": '{"team": "ml", "env": ""}',
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
