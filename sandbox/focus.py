"""The billing lines as a FOCUS 1.2 table (the `costplane-focus` export).

FOCUS has no negation lines: usage a Savings Plan covers has BilledCost 0 (the plan's purchase lines
carry the bill) and EffectiveCost at the plan's rate, so the CUR's SavingsPlanNegation lines are left
out. Per account and day, BilledCost sums to the CUR's line_item_unblended_cost exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sandbox import arrow, rates
from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID, Catalogue

CHARGE_CATEGORIES = {
    "Usage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "Fee": "Purchase",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Adjustment",
}
CHARGE_FREQUENCIES = {
    "SavingsPlanRecurringFee": "Recurring",
    "SavingsPlanUpfrontFee": "One-Time",
    "Fee": "Recurring",
    "Refund": "One-Time",
}
RESOURCE_TYPES = {"i-": "Instance", "vol-": "Volume", "nat-": "NAT Gateway", "arn:aws:sagemaker": "SageMaker"}


def _resource_type(resource_id: str) -> str:
    for prefix, name in RESOURCE_TYPES.items():
        if resource_id.startswith(prefix):
            return name
    return "Bucket" if resource_id.startswith("costplane-") else ""


def focus_table(lines: pd.DataFrame, catalogue: Catalogue) -> pa.Table:
    lines = lines[lines["line_type"] != "SavingsPlanNegation"]
    line_type = lines["line_type"]
    covered = (line_type == "SavingsPlanCoveredUsage").to_numpy()
    usage = line_type.isin(["Usage", "SavingsPlanCoveredUsage"]).to_numpy()
    billed = np.where(covered, 0, lines["unblended"].to_numpy())
    period_start, period_end = arrow.month_bounds(lines["day"])
    service = lines["service"]
    names = lines["account_id"].map(arrow.ACCOUNT_NAMES)
    sp = (lines["sp_arn"] != "").to_numpy()
    unit_price = lines["unit_price"].to_numpy()
    columns = {
        "AvailabilityZone": pa.nulls(len(lines), pa.string()),
        "BilledCost": arrow.money(billed),
        "BillingAccountId": pa.array([MANAGEMENT_ACCOUNT_ID] * len(lines), pa.string()),
        "BillingAccountName": pa.array([arrow.ACCOUNT_NAMES[MANAGEMENT_ACCOUNT_ID]] * len(lines), pa.string()),
        "BillingAccountType": pa.array(["Billing Account"] * len(lines), pa.string()),
        "BillingCurrency": pa.array([rates.CURRENCY] * len(lines), pa.string()),
        "BillingPeriodEnd": arrow.timestamps(period_end),
        "BillingPeriodStart": arrow.timestamps(period_start),
        "ChargeCategory": pa.array(line_type.map(CHARGE_CATEGORIES).to_numpy(dtype=object), pa.string()),
        "ChargeClass": arrow.strings(np.where(line_type == "Refund", "Correction", "")),
        "ChargeDescription": pa.array((service + " " + lines["usage_type"]).to_numpy(dtype=object), pa.string()),
        "ChargeFrequency": pa.array(line_type.map(CHARGE_FREQUENCIES).fillna("Usage-Based").to_numpy(dtype=object)),
        "ChargePeriodEnd": arrow.timestamps(lines["period_end"]),
        "ChargePeriodStart": arrow.timestamps(lines["day"]),
        "CommitmentDiscountCategory": arrow.strings(np.where(sp, "Spend", "")),
        "CommitmentDiscountId": arrow.strings(lines["sp_arn"]),
        "CommitmentDiscountStatus": arrow.strings(np.where(covered, "Used", "")),
        "CommitmentDiscountType": arrow.strings(np.where(sp, "Compute Savings Plan", "")),
        "ConsumedQuantity": arrow.quantity(np.where(usage, lines["quantity"], 0)),
        "ConsumedUnit": arrow.strings(np.where(usage, lines["unit"], "")),
        "ContractedCost": arrow.money(lines["list_cost"]),
        "ContractedUnitPrice": arrow.unit_price(unit_price),
        "EffectiveCost": arrow.money(lines["effective"]),
        "InvoiceId": pa.array(("EUINUS" + lines["billing_period"].str.replace("-", "")).to_numpy(dtype=object)),
        "InvoiceIssuerName": pa.array(["Amazon Web Services, Inc."] * len(lines), pa.string()),
        "ListCost": arrow.money(lines["list_cost"]),
        "ListUnitPrice": arrow.unit_price(unit_price),
        "PricingCategory": arrow.strings(np.where(covered, "Committed", np.where(usage, "Standard", ""))),
        "PricingCurrency": pa.array([rates.CURRENCY] * len(lines), pa.string()),
        "PricingQuantity": arrow.quantity(lines["quantity"]),
        "PricingUnit": arrow.strings(lines["unit"]),
        "ProviderName": pa.array(["AWS"] * len(lines), pa.string()),
        "PublisherName": pa.array(["Amazon Web Services, Inc."] * len(lines), pa.string()),
        "RegionId": arrow.strings(lines["region"].fillna("")),
        "RegionName": arrow.strings(lines["region"].map(rates.REGION_NAMES).fillna("")),
        "ResourceId": arrow.strings(lines["resource_id"]),
        "ResourceName": arrow.strings(lines["resource_id"].str.rsplit("/", n=1).str[-1]),
        "ResourceType": arrow.strings(lines["resource_id"].map(_resource_type)),
        "ServiceCategory": pa.array(service.map(rates.SERVICE_CATEGORIES).to_numpy(dtype=object), pa.string()),
        "ServiceName": pa.array(service.to_numpy(dtype=object), pa.string()),
        "SkuId": arrow.strings(lines["usage_type"]),
        "SubAccountId": pa.array(lines["account_id"].to_numpy(dtype=object), pa.string()),
        "SubAccountName": pa.array(names.to_numpy(dtype=object), pa.string()),
        "SubAccountType": pa.array(["Linked Account"] * len(lines), pa.string()),
        "Tags": arrow.tags_json(lines["owner_id"], catalogue),
        "x_Operation": arrow.strings(lines["operation"]),
        "x_ServiceCode": pa.array(service.map(rates.SERVICE_CODES).to_numpy(dtype=object), pa.string()),
        "x_UsageType": arrow.strings(lines["usage_type"]),
    }
    return pa.table(columns)


def focus_frame(lines: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The FOCUS table as pandas; money columns hold Decimal objects."""
    return focus_table(lines, catalogue).to_pandas()
