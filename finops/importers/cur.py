"""CUR 2.0 and legacy CUR (slash-style or Athena snake_case columns) → normalised frames.

Slash-style names are first converted to snake_case (``lineItem/UnblendedCost`` →
``line_item_unblended_cost``), so one code path reads all three. Columns vary from month to month:
every column but the four required ones (unblended cost, usage start and end, line item type) is
optional, and an absent one gives None (or the fallback below).

charge_category, from ``line_item_line_item_type``, following the FinOps Foundation converter
(focus_converters, ``conversion_rules_aws-cur.csv``) except where FOCUS 1.0 gained a category
the converter's FOCUS version lacked:

=============================================================================  ==========
Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation            usage
BundledDiscount, Discount, PrivateRateDiscount, EdpDiscount                     usage
SppDiscount, DistributorDiscount (not in the converter; the same kind of
discount as the ones above)                                                     usage
Fee, RIFee, SavingsPlanUpfrontFee, SavingsPlanRecurringFee                      purchase
Tax                                                                             tax
Credit, Refund (the converter says Adjustment: its FOCUS had no Credit)         credit
=============================================================================  ==========

Any other line item type is an error naming its row and column, so that a new AWS type is looked
at rather than guessed. charge_class is None: CUR does not mark corrections.

Money: billed_cost is ``line_item_unblended_cost`` (what Cost Explorer calls UnblendedCost; the
converter prefers ``line_item_net_unblended_cost``, which only exists with negotiated discounts).
effective_cost is amortised as the converter does, in Decimal:

- SavingsPlanCoveredUsage → ``savings_plan_savings_plan_effective_cost``
- DiscountedUsage → ``reservation_effective_cost``
- SavingsPlanRecurringFee → ``savings_plan_total_commitment_to_date`` − ``savings_plan_used_commitment``
  (the unused commitment)
- RIFee → ``reservation_unused_amortized_upfront_fee_for_billing_period`` + ``reservation_unused_recurring_fee``
- SavingsPlanNegation, SavingsPlanUpfrontFee, and a Fee with a reservation ARN (an RI's upfront fee) → 0
- anything else → the unblended cost,

and a row whose needed column is absent or empty falls back to the unblended cost.
list_cost is ``pricing_public_on_demand_cost``; pricing_quantity ``line_item_usage_amount``.

service_name: ``product_product_name`` (legacy; in CUR 2.0 the ``product_name`` key of the
``product`` map), the product's full name, which is what Cost Explorer's SERVICE dimension shows
("Amazon Elastic Compute Cloud"); rows without one fall back to ``product_servicename`` and then to
the product code (``AmazonEC2``). service_category is None (CUR has no such column).
region_id: ``product_region_code`` (CUR 2.0), else ``product_region`` (legacy, which holds codes).
Accounts: billing = ``bill_payer_account_id``, sub account = ``line_item_usage_account_id``.
billing_currency: ``line_item_currency_code`` (ISO 4217; USD only when the file has no such column);
provider_name is AWS; invoice_issuer_name ``bill_invoicing_entity``; invoice_id ``bill_invoice_id``;
sku_id ``product_sku``; pricing_currency ``pricing_currency`` (kept, never a cost basis). CUR has no
null apart from an empty field: an empty text value is None.
"""

from __future__ import annotations

from decimal import Context, Decimal

import numpy as np
import pandas as pd

from finops.importers.batch import Batch, ColumnPlan, accounts, billing_periods, frame
from finops.importers.errors import BillingFileError
from finops.importers.schema import BillingFormat, canonical_column_names
from finops.importers.tags import (
    athena_tag_key,
    empty_tags,
    map_values,
    slash_tag_key,
    strip_user_prefix,
    tags_from_columns,
    tags_from_json,
)
from finops.importers.values import coalesce, currency_codes, decimal_strings, mapped, or_nones, text, timestamps

SOURCE_COLUMNS = (
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_line_item_type",
    "product_product_name",
    "product",
    "product_servicename",
    "line_item_product_code",
    "product_region_code",
    "product_region",
    "line_item_resource_id",
    "line_item_usage_type",
    "line_item_usage_amount",
    "pricing_unit",
    "line_item_unblended_cost",
    "pricing_public_on_demand_cost",
    "line_item_currency_code",
    "pricing_currency",
    "product_sku",
    "bill_invoicing_entity",
    "bill_invoice_id",
    "savings_plan_savings_plan_effective_cost",
    "reservation_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_reservation_a_r_n",
    "resource_tags",
)
# Sums of two stored figures (38 digits each) exactly: Decimal's default 28 digits would round 1e9 + 0.5 at
# 19 fractional places.
_EXACT = Context(prec=80)
_START, _END, _TYPE = "line_item_usage_start_date", "line_item_usage_end_date", "line_item_line_item_type"
_REQUIRED = ("line_item_unblended_cost", _START, _END, _TYPE)
_SLASH_NAMES = {
    "line_item_unblended_cost": "lineItem/UnblendedCost",
    _START: "lineItem/UsageStartDate",
    _END: "lineItem/UsageEndDate",
    _TYPE: "lineItem/LineItemType",
}
LINE_ITEM_TYPES: dict[str, str | None] = {
    "Usage": "usage",
    "DiscountedUsage": "usage",
    "SavingsPlanCoveredUsage": "usage",
    "SavingsPlanNegation": "usage",
    "BundledDiscount": "usage",
    "Discount": "usage",
    "PrivateRateDiscount": "usage",
    "EdpDiscount": "usage",
    "SppDiscount": "usage",
    "DistributorDiscount": "usage",
    "Fee": "purchase",
    "RIFee": "purchase",
    "SavingsPlanUpfrontFee": "purchase",
    "SavingsPlanRecurringFee": "purchase",
    "Tax": "tax",
    "Credit": "credit",
    "Refund": "credit",
}


def column_plan(header: list[str], names: list[str], billing_format: BillingFormat, path: str) -> ColumnPlan:
    """``header``: the names as written; ``names``: the same, made unique, as the reader selects them."""
    canonical = canonical_column_names(header)
    present = {name: unique for name, unique in reversed(list(zip(canonical, names, strict=True)))}
    for required in _REQUIRED:
        if required not in present:
            # Named as the file would write it: slash style in a slash-style file.
            written = _SLASH_NAMES[required] if any("/" in name for name in header) else required
            raise BillingFileError(path, "this CUR file has no such column, which every CUR has", column=written)
    tag_columns: list[tuple[str, str]] = []
    if billing_format is BillingFormat.CUR_LEGACY:
        for original, snake, unique in zip(header, canonical, names, strict=True):
            if original.startswith("resourceTags/"):
                tag_columns.append((unique, slash_tag_key(original)))
            elif "/" not in original and snake.startswith("resource_tags_"):
                tag_columns.append((unique, athena_tag_key(snake)))
    return ColumnPlan(
        columns={name: present[name] for name in SOURCE_COLUMNS if name in present}, tag_columns=tuple(tag_columns)
    )


def normalise(batch: Batch) -> pd.DataFrame:
    context, length = batch.context, batch.length

    def money(name: str) -> np.ndarray | None:
        values = batch.get(name)
        return None if values is None else decimal_strings(values, context, name)

    billing_account, sub_account = accounts(batch, "bill_payer_account_id", "line_item_usage_account_id")
    charge_start = timestamps(batch.columns[_START], context, _START, required=True)
    charge_end = timestamps(batch.columns[_END], context, _END, required=True)
    period_start, period_end = billing_periods(
        *(
            None if batch.get(name) is None else timestamps(batch.columns[name], context, name, required=False)
            for name in ("bill_billing_period_start_date", "bill_billing_period_end_date")
        ),
        charge_start,
    )
    line_item_types = text(batch.columns[_TYPE])
    categories = mapped(batch.columns[_TYPE], context, _TYPE, LINE_ITEM_TYPES, required=True)
    billed = money("line_item_unblended_cost")
    assert billed is not None
    missing = pd.isna(billed)
    if missing.any():
        raise context.error(int(np.flatnonzero(missing)[0]), "line_item_unblended_cost", "a cost is required here")
    product = batch.get("product")
    tags = batch.get("resource_tags")
    if tags is not None:
        row_tags = tags_from_json(tags, context, "resource_tags", strip_user_prefix)
    elif batch.tags:
        row_tags = tags_from_columns(batch.tags, length)
    else:
        row_tags = empty_tags(length)
    return frame(
        {
            "billing_account_id": billing_account,
            "sub_account_id": sub_account,
            "billing_period_start": period_start,
            "billing_period_end": period_end,
            "charge_period_start": charge_start,
            "charge_period_end": charge_end,
            "charge_category": categories,
            "charge_class": or_nones(None, length),
            "service_name": or_nones(
                coalesce(
                    batch.text("product_product_name"),
                    None if product is None else map_values(product, "product_name"),
                    batch.text("product_servicename", "line_item_product_code"),
                ),
                length,
            ),
            "service_category": or_nones(None, length),
            "region_id": or_nones(batch.text("product_region_code", "product_region"), length),
            "resource_id": or_nones(batch.text("line_item_resource_id"), length),
            "usage_type": or_nones(batch.text("line_item_usage_type"), length),
            "sku_id": or_nones(batch.text("product_sku"), length),
            "pricing_quantity": or_nones(money("line_item_usage_amount"), length),
            "pricing_unit": or_nones(batch.text("pricing_unit"), length),
            "billed_cost": billed,
            "effective_cost": _effective_cost(batch, line_item_types, billed, money),
            "list_cost": or_nones(money("pricing_public_on_demand_cost"), length),
            "billing_currency": currency_codes(
                batch.get("line_item_currency_code"), context, "line_item_currency_code", length
            ),
            "pricing_currency": or_nones(batch.text("pricing_currency"), length),
            "pricing_currency_effective_cost": or_nones(None, length),
            "pricing_currency_contracted_unit_price": or_nones(None, length),
            "pricing_currency_list_unit_price": or_nones(None, length),
            "provider_name": np.full(length, "AWS", dtype=object),
            "invoice_issuer_name": or_nones(batch.text("bill_invoicing_entity"), length),
            "invoice_id": or_nones(batch.text("bill_invoice_id"), length),
            "tags": row_tags,
        }
    )


def _effective_cost(batch: Batch, line_item_types: np.ndarray, billed: np.ndarray, money) -> np.ndarray:
    effective = billed.copy()
    for line_item_type, column in (
        ("SavingsPlanCoveredUsage", "savings_plan_savings_plan_effective_cost"),
        ("DiscountedUsage", "reservation_effective_cost"),
    ):
        rows = line_item_types == line_item_type
        if rows.any() and (values := money(column)) is not None:
            rows &= ~pd.isna(values)
            effective[rows] = values[rows]
    zero = (line_item_types == "SavingsPlanNegation") | (line_item_types == "SavingsPlanUpfrontFee")
    reservation = batch.text("reservation_reservation_a_r_n")
    if reservation is not None:
        zero |= (line_item_types == "Fee") & ~pd.isna(reservation)
    effective[zero] = "0"
    for line_item_type, first, second, sign in (
        ("SavingsPlanRecurringFee", "savings_plan_total_commitment_to_date", "savings_plan_used_commitment", -1),
        (
            "RIFee",
            "reservation_unused_amortized_upfront_fee_for_billing_period",
            "reservation_unused_recurring_fee",
            1,
        ),
    ):
        rows = line_item_types == line_item_type
        if not rows.any():
            continue
        left, right = money(first), money(second)
        if left is None or right is None:
            continue
        for index in np.flatnonzero(rows & ~pd.isna(left) & ~pd.isna(right)):
            left_value, right_value = Decimal(left[index]), Decimal(right[index])
            exact = _EXACT.add(left_value, right_value) if sign > 0 else _EXACT.subtract(left_value, right_value)
            effective[index] = format(exact, "f")
    return effective
