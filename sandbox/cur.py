"""The billing lines as a CUR 2.0 table (the `costplane-cur2` export), daily, with resource ids.

Money and quantities are decimal128(38, 10) rather than CUR's doubles, so sums stay exact; the
resource_tags column is a MAP<string, string> with keys `user_<tag key>`, as CUR 2.0 writes it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from sandbox import arrow, rates
from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID, Catalogue

PRODUCT_FAMILIES = {
    rates.EC2_COMPUTE: "Compute Instance",
    rates.EC2_OTHER: "Storage",
    rates.SAGEMAKER: "ML Instance",
    rates.S3: "Storage",
    rates.SUPPORT: "",
    rates.SAVINGS_PLANS: "Savings Plan",
    rates.TAX: "",
}


def line_item_ids(lines: pd.DataFrame) -> list[str]:
    """Stable ids: a hash of what makes the line unique (its day, account, usage, resource, type, plan)."""
    keys = (
        lines["day"].dt.strftime("%Y-%m-%d")
        + "|" + lines["account_id"] + "|" + lines["usage_type"] + "|" + lines["resource_id"]
        + "|" + lines["line_type"] + "|" + lines["sp_arn"] + "|" + lines["service"]
    )  # fmt: skip
    return [hashlib.sha1(key.encode()).hexdigest() for key in keys]


def cur_table(lines: pd.DataFrame, catalogue: Catalogue) -> pa.Table:
    count = len(lines)
    line_type = lines["line_type"]
    service = lines["service"]
    period_start, period_end = arrow.month_bounds(lines["day"])
    usage = line_type.isin(["Usage", "SavingsPlanCoveredUsage"]).to_numpy()
    covered = (line_type == "SavingsPlanCoveredUsage").to_numpy()
    fee = (line_type == "SavingsPlanRecurringFee").to_numpy()
    instance = usage & service.isin([rates.EC2_COMPUTE, rates.SAGEMAKER]).to_numpy()
    on_demand = np.where(usage, lines["list_cost"].to_numpy(), 0)
    unit_price = lines["unit_price"].to_numpy()
    rate_text = pd.Series([f"{rates.units_to_decimal(v * 10**6).normalize():f}" for v in unit_price], index=lines.index)
    interval = (
        lines["day"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") + "/" + lines["period_end"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    columns = {
        "identity_line_item_id": pa.array(line_item_ids(lines), pa.string()),
        "identity_time_interval": pa.array(interval.to_numpy(dtype=object), pa.string()),
        "bill_invoice_id": pa.array(("EUINUS" + lines["billing_period"].str.replace("-", "")).to_numpy(dtype=object)),
        "bill_invoicing_entity": pa.array(["Amazon Web Services, Inc."] * count, pa.string()),
        "bill_billing_entity": pa.array(["AWS"] * count, pa.string()),
        "bill_bill_type": pa.array(["Anniversary"] * count, pa.string()),
        "bill_payer_account_id": pa.array([MANAGEMENT_ACCOUNT_ID] * count, pa.string()),
        "bill_payer_account_name": pa.array([arrow.ACCOUNT_NAMES[MANAGEMENT_ACCOUNT_ID]] * count, pa.string()),
        "bill_billing_period_start_date": arrow.timestamps(period_start),
        "bill_billing_period_end_date": arrow.timestamps(period_end),
        "line_item_usage_account_id": pa.array(lines["account_id"].to_numpy(dtype=object), pa.string()),
        "line_item_usage_account_name": pa.array(lines["account_id"].map(arrow.ACCOUNT_NAMES).to_numpy(dtype=object)),
        "line_item_line_item_type": pa.array(line_type.to_numpy(dtype=object), pa.string()),
        "line_item_usage_start_date": arrow.timestamps(lines["day"]),
        "line_item_usage_end_date": arrow.timestamps(lines["period_end"]),
        "line_item_product_code": pa.array(service.map(rates.SERVICE_CODES).to_numpy(dtype=object), pa.string()),
        "line_item_usage_type": arrow.strings(lines["usage_type"]),
        "line_item_operation": arrow.strings(lines["operation"]),
        "line_item_availability_zone": pa.nulls(count, pa.string()),
        "line_item_resource_id": arrow.strings(lines["resource_id"]),
        "line_item_usage_amount": arrow.quantity(lines["quantity"]),
        "line_item_currency_code": pa.array([rates.CURRENCY] * count, pa.string()),
        "line_item_unblended_rate": arrow.strings(np.where(usage, rate_text, "")),
        "line_item_unblended_cost": arrow.money(lines["unblended"]),
        "line_item_blended_cost": arrow.money(lines["unblended"]),
        "line_item_net_unblended_cost": arrow.money(lines["unblended"]),
        "line_item_line_item_description": pa.array((service + " " + lines["usage_type"]).to_numpy(dtype=object)),
        "line_item_legal_entity": pa.array(["Amazon Web Services, Inc."] * count, pa.string()),
        "pricing_public_on_demand_cost": arrow.money(on_demand),
        "pricing_public_on_demand_rate": arrow.strings(np.where(usage, rate_text, "")),
        "pricing_term": arrow.strings(np.where(usage, "OnDemand", "")),
        "pricing_unit": arrow.strings(lines["unit"]),
        "product_product_name": pa.array(service.to_numpy(dtype=object), pa.string()),
        "product_servicecode": pa.array(service.map(rates.SERVICE_CODES).to_numpy(dtype=object), pa.string()),
        "product_product_family": arrow.strings(service.map(PRODUCT_FAMILIES).fillna("")),
        "product_region_code": arrow.strings(lines["region"].fillna("")),
        "product_location": arrow.strings(lines["region"].map(rates.REGION_NAMES).fillna("")),
        "product_instance_type": arrow.strings(np.where(instance, lines["instance_type"], "")),
        "savings_plan_savings_plan_a_r_n": arrow.strings(lines["sp_arn"]),
        "savings_plan_savings_plan_effective_cost": arrow.money(np.where(covered, lines["sp_effective"], 0)),
        "savings_plan_net_savings_plan_effective_cost": arrow.money(np.where(covered, lines["sp_effective"], 0)),
        "savings_plan_total_commitment_to_date": arrow.money(np.where(fee, lines["sp_commitment"], 0)),
        "savings_plan_used_commitment": arrow.money(np.where(fee, lines["sp_used"], 0)),
        "savings_plan_amortized_upfront_commitment_for_billing_period": arrow.money(lines["sp_upfront"]),
        "savings_plan_recurring_commitment_for_billing_period": arrow.money(
            np.where(fee, lines["sp_commitment"] - lines["sp_upfront"], 0)
        ),
        "resource_tags": arrow.tags_map(lines["owner_id"], catalogue),
    }
    return pa.table(columns)


def cur_frame(lines: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The CUR 2.0 table as pandas; money columns hold Decimal objects, resource_tags lists of pairs."""
    return cur_table(lines, catalogue).to_pandas()
