"""Output columns, and which export a header belongs to.

Detection looks only at the header:

- FOCUS: has ``BilledCost``. Version: ``1.0-preview`` when it has ``ChargeType`` or ``AmortizedCost``
  but no ``ChargeCategory``; ``1.2`` when it has a column FOCUS 1.2 added (``BillingAccountType``,
  ``InvoiceId``, ``PricingCurrency``...); ``1.1`` when it has one 1.1 added (``ServiceSubcategory``,
  ``SkuMeter``, ``CommitmentDiscountQuantity``...); otherwise ``1.0``. Optional columns may be
  left out of an export, so the version is the lowest one the columns are consistent with.
- CUR: has ``line_item_unblended_cost`` (after slash-style names such as ``lineItem/UnblendedCost``
  are converted to Athena snake_case, see ``athena_column_name``). It is CUR 2.0 when it has a
  column legacy CUR never had: the map columns ``resource_tags``, ``product``, ``cost_category``,
  ``discount``, or the account-name columns ``bill_payer_account_name`` /
  ``line_item_usage_account_name`` (legacy CUR flattens maps into ``resource_tags_user_*`` and has no
  account names). Otherwise it is legacy CUR, version ``slash`` or ``athena`` by its column style.
"""

from __future__ import annotations

import re
from enum import StrEnum

NORMALISED_COLUMNS: tuple[str, ...] = (
    "billing_account_id",
    "sub_account_id",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "charge_class",
    "service_name",
    "service_category",
    "region_id",
    "resource_id",
    "usage_type",
    "sku_id",
    "pricing_quantity",
    "pricing_unit",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "billing_currency",
    "pricing_currency",
    "pricing_currency_effective_cost",
    "pricing_currency_contracted_unit_price",
    "pricing_currency_list_unit_price",
    "provider_name",
    "invoice_issuer_name",
    "invoice_id",
    "tags",
)
MONEY_COLUMNS = ("billed_cost", "effective_cost", "list_cost")
CHARGE_CATEGORIES = ("usage", "purchase", "tax", "credit", "adjustment")


class BillingFormat(StrEnum):
    FOCUS = "focus"
    CUR2 = "cur2"
    CUR_LEGACY = "cur_legacy"


FOCUS_1_1_COLUMNS = frozenset(
    {
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
    }
)
FOCUS_1_2_COLUMNS = frozenset(
    {
        "BillingAccountType",
        "SubAccountType",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
    }
)
_CUR2_ONLY_COLUMNS = frozenset(
    {"resource_tags", "product", "cost_category", "discount", "bill_payer_account_name", "line_item_usage_account_name"}
)


def athena_column_name(name: str) -> str:
    """The name Athena gives a legacy CUR column: ``lineItem/UnblendedCost`` → ``line_item_unblended_cost``.

    Every capital starts a new word (``savingsPlan/SavingsPlanARN`` → ``savings_plan_savings_plan_a_r_n``,
    as in AWS's own Parquet CUR), and anything not a letter or digit separates words.
    """
    words = re.sub(r"[^0-9A-Za-z]+", "_", name)
    words = re.sub(r"([A-Z])", r"_\1", words).lower()
    return re.sub(r"_+", "_", words).strip("_")


def canonical_column_names(columns: list[str]) -> list[str]:
    """CUR header names in Athena snake_case; FOCUS and Athena-style names are returned unchanged."""
    return [athena_column_name(name) if "/" in name else name for name in columns]


def detect_format(columns: list[str]) -> tuple[BillingFormat, str | None] | None:
    """(format, version) of a header, or None when it is not a billing export we know."""
    present = set(columns)
    if "BilledCost" in present:
        if "ChargeCategory" not in present and ({"ChargeType", "AmortizedCost"} & present):
            return BillingFormat.FOCUS, "1.0-preview"
        if FOCUS_1_2_COLUMNS & present:
            return BillingFormat.FOCUS, "1.2"
        if FOCUS_1_1_COLUMNS & present:
            return BillingFormat.FOCUS, "1.1"
        return BillingFormat.FOCUS, "1.0"
    canonical = set(canonical_column_names(columns))
    if "line_item_unblended_cost" not in canonical:
        return None
    if _CUR2_ONLY_COLUMNS & canonical:
        return BillingFormat.CUR2, None
    style = "slash" if any("/" in name for name in columns) else "athena"
    return BillingFormat.CUR_LEGACY, style
