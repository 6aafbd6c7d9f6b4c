"""Checks across a whole header or a whole normalised batch, which no single format reader makes.

- A header holding both FOCUS columns and CUR columns is an error: which format's costs would be the file's?
- A column that the file's format does not define is ignored and listed once per file
  (``ignored_columns``): FOCUS columns of any version (1.0-preview to 1.3) and FOCUS's ``x_`` provider
  extensions are known; in a CUR file, every column of a CUR column family (``lineItem/…`` or
  ``line_item_…``, ``product_…``, ``resourceTags/…``, ``cost_category``…) and Athena's ``year`` / ``month``
  partition columns are.
- A charge or billing period that ends before it starts is an error naming the row and the end column.
- A cost or quantity with more digits before the point than the caller can store is an error naming the
  row (the caller says how many: the importers know nothing of the database).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finops.importers.errors import BillingFileError
from finops.importers.schema import FOCUS_1_1_COLUMNS, FOCUS_1_2_COLUMNS, BillingFormat, canonical_column_names
from finops.importers.values import BatchContext

FOCUS_COLUMNS = (
    FOCUS_1_1_COLUMNS
    | FOCUS_1_2_COLUMNS
    | frozenset(
        {
            # 1.0
            "AvailabilityZone",
            "BilledCost",
            "BillingAccountId",
            "BillingAccountName",
            "BillingCurrency",
            "BillingPeriodEnd",
            "BillingPeriodStart",
            "ChargeCategory",
            "ChargeClass",
            "ChargeDescription",
            "ChargeFrequency",
            "ChargePeriodEnd",
            "ChargePeriodStart",
            "CommitmentDiscountCategory",
            "CommitmentDiscountId",
            "CommitmentDiscountName",
            "CommitmentDiscountStatus",
            "CommitmentDiscountType",
            "ConsumedQuantity",
            "ConsumedUnit",
            "ContractedCost",
            "ContractedUnitPrice",
            "EffectiveCost",
            "InvoiceIssuerName",
            "ListCost",
            "ListUnitPrice",
            "PricingCategory",
            "PricingQuantity",
            "PricingUnit",
            "ProviderName",
            "PublisherName",
            "RegionId",
            "RegionName",
            "ResourceId",
            "ResourceName",
            "ResourceType",
            "ServiceCategory",
            "ServiceName",
            "SkuId",
            "SkuPriceId",
            "SubAccountId",
            "SubAccountName",
            "Tags",
            # 1.3
            "AllocatedMethodDetails",
            "AllocatedMethodId",
            "AllocatedResourceId",
            "AllocatedResourceName",
            "AllocatedTags",
            "ContractApplied",
            "HostProviderName",
            "ServiceProviderName",
            # 1.0-preview and earlier names
            "AmortizedCost",
            "ChargeSubcategory",
            "ChargeType",
            "InvoiceIssuer",
            "Provider",
            "Publisher",
            "Region",
            "UsageQuantity",
            "UsageUnit",
        }
    )
)
_FOCUS_EXTENSION_PREFIX = "x_"
_FOCUS_COST = "BilledCost"

# Slash-style CUR column families (``lineItem/UnblendedCost``) and their Athena snake_case prefixes.
_CUR_FAMILIES = frozenset(
    {
        "bill",
        "costCategory",
        "discount",
        "identity",
        "lineItem",
        "noTags",
        "pricing",
        "product",
        "reservation",
        "resourceTags",
        "savingsPlan",
        "splitLineItem",
    }
)
_CUR_PREFIXES = (
    "bill_",
    "cost_category_",
    "discount_",
    "identity_",
    "line_item_",
    "no_tags_",
    "pricing_",
    "product_",
    "reservation_",
    "resource_tags_",
    "savings_plan_",
    "split_line_item_",
)
_CUR_NAMES = frozenset({"cost_category", "discount", "product", "resource_tags", "year", "month"})
# Families that only CUR has: a FOCUS file with one of these is a mix of formats. (A FOCUS file with, say,
# product_name has an unknown column, not a CUR one.)
_CUR_ONLY_PREFIXES = ("bill_", "identity_", "line_item_", "reservation_", "savings_plan_", "split_line_item_")
_CUR_COST = "line_item_unblended_cost"

_STORED_NUMBERS = ("billed_cost", "effective_cost", "list_cost", "pricing_quantity")
_PRICING_CURRENCY_NUMBERS = {
    "pricing_currency_effective_cost": ("PricingCurrencyEffectiveCost",),
    "pricing_currency_contracted_unit_price": ("PricingCurrencyContractedUnitPrice",),
    "pricing_currency_list_unit_price": ("PricingCurrencyListUnitPrice",),
}


def _is_cur_column(name: str) -> bool:
    if "/" in name:
        return name.split("/", 1)[0] in _CUR_FAMILIES
    return name in _CUR_NAMES or name.startswith(_CUR_PREFIXES)


def _is_cur_only_column(name: str) -> bool:
    if "/" in name:
        return name.split("/", 1)[0] in _CUR_FAMILIES
    return name.startswith(_CUR_ONLY_PREFIXES)


def _shown(names: list[str], first: str) -> str:
    """Up to four names, the format's cost column first when present."""
    ordered = sorted(names, key=lambda name: name != first and canonical_column_names([name])[0] != first)
    return ", ".join(ordered[:4]) + (", …" if len(ordered) > 4 else "")


def single_format(header: list[str], path: str) -> None:
    """Raise when the header holds both FOCUS and CUR columns, naming some of each."""
    focus_seen = [name for name in header if name in FOCUS_COLUMNS]
    cur_seen = [name for name in header if _is_cur_only_column(name)]
    if focus_seen and cur_seen:
        raise BillingFileError(
            path,
            f"the header mixes FOCUS columns ({_shown(focus_seen, _FOCUS_COST)}) and CUR columns "
            f"({_shown(cur_seen, _CUR_COST)}); a billing export holds one format, so its costs cannot be told apart",
        )


# Columns that only a FOCUS file has, by which a header without BilledCost is still told to be FOCUS.
_FOCUS_SIGNS = frozenset({"ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeType", "EffectiveCost"})


def cost_column_present(header: list[str], path: str) -> None:
    """For a header that is no known export: raise naming the cost column when the rest is FOCUS's or CUR's."""
    if _FOCUS_SIGNS & set(header):
        raise BillingFileError(path, "this FOCUS file has no such column, which FOCUS requires", column=_FOCUS_COST)
    cur_seen = [name for name in header if _is_cur_only_column(name)]
    if cur_seen:
        slash_style = any("/" in name for name in cur_seen)
        raise BillingFileError(
            path,
            "this CUR file has no such column, which every CUR has",
            column="lineItem/UnblendedCost" if slash_style else _CUR_COST,
        )


def ignored_columns(header: list[str], billing_format: BillingFormat) -> tuple[str, ...]:
    """The header's columns that its format does not define, as written, each once, in file order."""
    if billing_format is BillingFormat.FOCUS:
        unknown = [
            name for name in header if name not in FOCUS_COLUMNS and not name.startswith(_FOCUS_EXTENSION_PREFIX)
        ]
    else:
        unknown = [name for name in header if not _is_cur_column(name)]
    return tuple(dict.fromkeys(unknown))


# Per format: (normalised start, normalised end, source start, source end) of each period.
_PERIODS = {
    BillingFormat.FOCUS: (
        ("charge_period_start", "charge_period_end", "ChargePeriodStart", "ChargePeriodEnd"),
        ("billing_period_start", "billing_period_end", "BillingPeriodStart", "BillingPeriodEnd"),
    ),
    BillingFormat.CUR2: (
        ("charge_period_start", "charge_period_end", "line_item_usage_start_date", "line_item_usage_end_date"),
        (
            "billing_period_start",
            "billing_period_end",
            "bill_billing_period_start_date",
            "bill_billing_period_end_date",
        ),
    ),
}
_PERIODS[BillingFormat.CUR_LEGACY] = _PERIODS[BillingFormat.CUR2]
# Per format: normalised number → the source columns it comes from, the likeliest first.
_NUMBER_SOURCES = {
    BillingFormat.FOCUS: {
        "billed_cost": ("BilledCost",),
        "effective_cost": ("EffectiveCost", "AmortizedCost", "BilledCost"),
        "list_cost": ("ListCost",),
        "pricing_quantity": ("PricingQuantity",),
        **_PRICING_CURRENCY_NUMBERS,
    },
    BillingFormat.CUR2: {
        "billed_cost": ("line_item_unblended_cost",),
        "effective_cost": (
            "savings_plan_savings_plan_effective_cost",
            "reservation_effective_cost",
            "line_item_unblended_cost",
        ),
        "list_cost": ("pricing_public_on_demand_cost",),
        "pricing_quantity": ("line_item_usage_amount",),
    },
}
_NUMBER_SOURCES[BillingFormat.CUR_LEGACY] = _NUMBER_SOURCES[BillingFormat.CUR2]


def periods_in_order(frame: pd.DataFrame, context: BatchContext, billing_format: BillingFormat) -> None:
    """Raise on the first row whose charge or billing period ends before it starts."""
    for start_column, end_column, start_source, end_source in _PERIODS[billing_format]:
        starts, ends = frame[start_column], frame[end_column]
        known = (starts.notna() & ends.notna()).to_numpy(dtype=bool)
        backwards = np.zeros(len(frame), dtype=bool)
        if known.any():
            backwards[known] = (ends[known] < starts[known]).to_numpy(dtype=bool)
        if backwards.any():
            index = int(np.flatnonzero(backwards)[0])
            start_name = context.column_names.get(start_source, start_source)
            end_name = context.column_names.get(end_source, end_source)
            raise context.error(
                index,
                end_source,
                f"{end_name} {_moment(ends.iloc[index])} is before {start_name} {_moment(starts.iloc[index])}: "
                "a period cannot end before it starts",
            )


def _moment(value) -> str:
    return value.isoformat()


def numbers_storable(
    frame: pd.DataFrame, context: BatchContext, billing_format: BillingFormat, max_integer_digits: int
) -> None:
    """Raise on the first cost or quantity with more than ``max_integer_digits`` digits before the point."""
    # Plain decimal text (see finops.importers.values) with too many digits before the point.
    pattern = rf"^-?0*[1-9][0-9]{{{max_integer_digits},}}(\.|$)"
    columns = (*_STORED_NUMBERS, *(_PRICING_CURRENCY_NUMBERS if billing_format is BillingFormat.FOCUS else ()))
    for column in columns:
        values = pa.array(frame[column].to_numpy(dtype=object), pa.string(), from_pandas=True)
        too_large = pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
        if too_large.any():
            index = int(np.flatnonzero(too_large)[0])
            sources = _NUMBER_SOURCES[billing_format][column]
            source = next((name for name in sources if name in context.column_names), sources[0])
            raise context.error(
                index,
                source,
                f"{values[index].as_py()} is too large to store "
                f"(at most {max_integer_digits} digits before the decimal point)",
            )
