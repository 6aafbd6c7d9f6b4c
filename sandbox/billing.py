"""The sandbox organisation's spend as daily line items, with exact money.

`billing_lines(catalogue)` returns one frame in CUR semantics (line types Usage,
SavingsPlanCoveredUsage, SavingsPlanNegation, SavingsPlanRecurringFee, Fee, Credit, Refund, Tax): one
line per resource, usage type and day, plus the purchase, fee, credit and tax lines. Money columns
are int64 numbers of 1e-10 USD (see rates.py); the FOCUS and CUR 2.0 renderings convert them to
decimal128(38, 10) without any float on the way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sandbox import rates
from sandbox.catalogue import ACCOUNT_IDS, MANAGEMENT_ACCOUNT_ID, Catalogue, Resource, month_start
from sandbox.savings_plans import apply_savings_plans

SCALE_QUANTITY_TO_MONEY = 10 ** (rates.MONEY_SCALE - rates.QUANTITY_SCALE)
CENT = 10 ** (rates.MONEY_SCALE - 2)
EBS_GB = {"p4d": 2000, "p5": 4000, "g5": 500, "inf2": 200}


@dataclass(frozen=True)
class Meter:
    service: str
    usage_type: str
    operation: str
    unit: str
    price: int  # 1e-4 USD per unit
    resource_id: str
    quantities: np.ndarray  # int64, 1e-6 units, one per day in `days`
    days: np.ndarray  # datetime64[D]


def _days(resource: Resource, catalogue: Catalogue) -> np.ndarray:
    first = max(resource.start, catalogue.start)
    last = min(resource.stop or catalogue.end, catalogue.end)
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D"))
    if resource.schedule == "weekdays":
        days = days[(days.astype(np.int64) + 3) % 7 < 5]  # 1970-01-01 was a Thursday
    return days


def _days_in_month(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)


def _hours(resource: Resource, days: np.ndarray) -> np.ndarray:
    hours = 12 if resource.schedule == "weekdays" else resource.hours_per_day
    return np.full(len(days), rates.quantity_units(hours) * resource.count, dtype=np.int64)


def _meters(resource: Resource, catalogue: Catalogue) -> list[Meter]:
    days = _days(resource, catalogue)
    if not len(days):
        return []
    region, price, kind = resource.region, rates.price_units(resource.hourly_price), resource.kind
    micro = 10**rates.QUANTITY_SCALE
    if kind == "ec2_instance":
        volume_gb = EBS_GB.get(resource.instance_type.split(".")[0], 100)
        ebs = (volume_gb * micro) // _days_in_month(days)
        ebs_price = rates.price_units(rates.regional_price(rates.EBS_GP3_GB_MONTH, region))
        box = rates.usage_type(region, f"BoxUsage:{resource.instance_type}", prefix_us_east_1=False)
        ebs_type = rates.usage_type(region, "EBS:VolumeUsage.gp3", prefix_us_east_1=False)
        return [
            Meter(rates.EC2_COMPUTE, box, "RunInstances", "Hrs", price, resource.id, _hours(resource, days), days),
            Meter(rates.EC2_OTHER, ebs_type, "CreateVolume-Gp3", "GB-Mo", ebs_price, resource.volume_id, ebs, days),
        ]
    if kind.startswith("sagemaker_"):
        prefix = {"sagemaker_endpoint": "Host", "sagemaker_notebook": "Notebk", "sagemaker_training_job": "Train"}[kind]
        usage = rates.usage_type(region, f"{prefix}:{resource.instance_type}")
        return [Meter(rates.SAGEMAKER, usage, "RunInstance", "Hrs", price, resource.id, _hours(resource, days), days)]
    age = (days - np.datetime64(resource.start, "D")).astype(np.int64)
    if kind == "s3_bucket":
        stored_gb = resource.size_gb + resource.growth_gb_per_day * age
        transfer_gb = stored_gb // 4000 + 2 + age % 5
        transfer_price = rates.price_units(rates.S3_TRANSFER_OUT_PER_GB)
        return [
            Meter(rates.S3, rates.usage_type(region, "TimedStorage-ByteHrs"), "StandardStorage", "GB-Mo", price,
                  resource.id, (stored_gb * micro) // _days_in_month(days), days),
            Meter(rates.S3, rates.usage_type(region, "DataTransfer-Out-Bytes"), "GetObject", "GB", transfer_price,
                  resource.id, transfer_gb * micro, days),
        ]  # fmt: skip
    if kind == "nat_gateway":
        gigabytes = resource.size_gb + (resource.size_gb * age) // 400 + (age % 7) * 11
        return [
            Meter(rates.EC2_OTHER, rates.usage_type(region, "NatGateway-Hours", prefix_us_east_1=False), "NatGateway",
                  "Hrs", price, resource.id, _hours(resource, days), days),
            Meter(rates.EC2_OTHER, rates.usage_type(region, "NatGateway-Bytes", prefix_us_east_1=False), "NatGateway",
                  "GB", rates.price_units(rates.NAT_PER_GB), resource.id, gigabytes * micro, days),
        ]  # fmt: skip
    raise ValueError(f"unknown resource kind {kind!r}")


def _usage_frame(catalogue: Catalogue) -> pd.DataFrame:
    parts: list[dict] = []
    for resource in catalogue.resources:
        for meter in _meters(resource, catalogue):
            parts.append(
                {
                    "day": meter.days,
                    "account_id": resource.account_id,
                    "region": resource.region,
                    "service": meter.service,
                    "usage_type": meter.usage_type,
                    "operation": meter.operation,
                    "resource_id": meter.resource_id,
                    "owner_id": resource.id,
                    "instance_type": resource.instance_type,
                    "unit": meter.unit,
                    "unit_price": meter.price,
                    "quantity": meter.quantities,
                    "cost": meter.quantities * meter.price,
                }
            )
    frame = pd.concat([pd.DataFrame(part) for part in parts], ignore_index=True)
    frame["line_type"] = "Usage"
    frame["unblended"] = frame["cost"]
    frame["effective"] = frame["cost"]
    frame["list_cost"] = frame["cost"]
    return frame.drop(columns="cost")


def _month_rows(frame: pd.DataFrame, catalogue: Catalogue) -> list[dict]:
    """Support (a fee on the payer) and tax (per account) per month, dated the month's first day."""
    rows: list[dict] = []
    month = frame["day"].to_numpy().astype("datetime64[M]")
    usage = frame[frame["line_type"].isin(["Usage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"])]
    org_usage = usage.groupby(month[usage.index])["unblended"].sum()
    for first, total in org_usage.items():
        fee = _support_fee(int(total))
        rows.append(_monthly_row(first, MANAGEMENT_ACCOUNT_ID, rates.SUPPORT, "Dollar", "Fee", fee))
    with_fees = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
    taxable = with_fees[~with_fees["line_type"].isin(["Credit", "Refund"])]
    taxable_month = taxable["day"].to_numpy().astype("datetime64[M]")
    for (first, account_id), base in taxable.groupby([taxable_month, taxable["account_id"]])["unblended"].sum().items():
        tax = _round_cents(int(base) * rates.TAX_RATE_PERCENT // 100)
        if tax > 0:
            rows.append(_monthly_row(first, account_id, rates.TAX, "Tax", "Tax", tax))
    return rows


def _monthly_row(first: np.datetime64, account_id: str, service: str, usage: str, line_type: str, amount: int) -> dict:
    start = pd.Timestamp(first).date()
    return {
        "day": np.datetime64(start, "D"),
        "period_end": np.datetime64(month_start(start, -1), "D"),
        "account_id": account_id,
        "region": None,
        "service": service,
        "usage_type": usage,
        "operation": "",
        "resource_id": "",
        "owner_id": "",
        "instance_type": "",
        "unit": "",
        "unit_price": 0,
        "quantity": 0,
        "line_type": line_type,
        "unblended": amount,
        "effective": amount,
        "list_cost": amount,
    }


def _support_fee(usage_units: int) -> int:
    """Business support: 10% of the first $10K, 7% to $80K, 5% to $250K, 3% above; at least $100."""
    usd = rates.UNITS_PER_USD
    tiers = ((10_000 * usd, 10), (80_000 * usd, 7), (250_000 * usd, 5), (None, 3))
    fee, floor = 0, 0
    for ceiling, percent in tiers:
        part = max(0, (usage_units if ceiling is None else min(usage_units, ceiling)) - floor)
        fee += part * percent // 100
        floor = ceiling or floor
    return max(_round_cents(fee), 100 * usd)


def _round_cents(units: int) -> int:
    return (units + CENT // 2) // CENT * CENT


def _credit_rows(frame: pd.DataFrame, catalogue: Catalogue) -> list[dict]:
    """Promotional credits: 20% of one account's SageMaker usage, every day of its first months."""
    ends = np.datetime64(month_start(catalogue.start, -catalogue.credit_months), "D")
    mask = (
        (frame["account_id"] == catalogue.credit_account_id)
        & (frame["service"] == rates.SAGEMAKER)
        & (frame["day"] < ends)
    )
    rows = []
    for day, total in frame[mask].groupby("day")["unblended"].sum().items():
        amount = -_round_cents(int(total) * 20 // 100)
        row = _monthly_row(np.datetime64(day, "D"), catalogue.credit_account_id, rates.SAGEMAKER, "", "Credit", amount)
        row |= {"period_end": np.datetime64(day, "D") + 1, "region": "us-east-1", "list_cost": 0}
        row["usage_type"] = rates.usage_type("us-east-1", "PromotionalCredit")
        rows.append(row)
    return rows


def _refund_row(catalogue: Catalogue) -> dict:
    """One refund (an Adjustment in FOCUS) correcting an earlier S3 charge of the data account."""
    day = np.datetime64(month_start(catalogue.start, -3), "D") + 14
    row = _monthly_row(day, ACCOUNT_IDS["data"], rates.S3, rates.usage_type("us-east-1", "Refund"), "Refund", 0)
    return row | {"unblended": -250 * rates.UNITS_PER_USD, "effective": -250 * rates.UNITS_PER_USD, "list_cost": 0,
                  "period_end": day + 1, "region": "us-east-1"}  # fmt: skip


def billing_lines(catalogue: Catalogue) -> pd.DataFrame:
    """Every line item of the catalogue's history, sorted, with a stable `line_id`."""
    frame = _usage_frame(catalogue)
    frame["period_end"] = frame["day"] + np.timedelta64(1, "D")
    frame = apply_savings_plans(frame, catalogue)
    extra = _credit_rows(frame, catalogue) + [_refund_row(catalogue)]
    frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    frame = pd.concat([frame, pd.DataFrame(_month_rows(frame, catalogue))], ignore_index=True)
    frame = frame[frame["day"] < np.datetime64(catalogue.end, "D")]
    for column in ("sp_arn",):
        frame[column] = frame[column].fillna("")
    for column in ("sp_effective", "sp_commitment", "sp_used", "sp_upfront", "unit_price", "quantity"):
        frame[column] = frame[column].fillna(0).astype(np.int64)
    frame["day"] = frame["day"].astype("datetime64[s]")
    frame["period_end"] = frame["period_end"].astype("datetime64[s]")
    order = ["day", "account_id", "service", "usage_type", "resource_id", "line_type", "sp_arn", "unblended"]
    frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
    frame["billing_period"] = frame["day"].dt.strftime("%Y-%m")
    return frame
