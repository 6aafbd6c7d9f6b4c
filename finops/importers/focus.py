"""FOCUS 1.0-preview, 1.0, 1.1 and 1.2 files → normalised frames (the output already uses FOCUS names).

- charge_category: ``ChargeCategory`` (``ChargeType`` in 1.0-preview), lower-cased; anything other
  than Usage, Purchase, Tax, Credit or Adjustment is an error.
- charge_class: ``ChargeClass`` ``Correction`` → ``correction``, empty → None.
- effective_cost: ``EffectiveCost`` (``AmortizedCost`` in 1.0-preview); billed_cost when the file has neither.
- region_id: ``RegionId`` (``Region`` in 1.0-preview); usage_type: AWS's ``x_UsageType`` when present.
- accounts: ``BillingAccountId`` and ``SubAccountId``, each filling the other's gaps.
- billing_currency: ``BillingCurrency`` (ISO 4217; a row without one is an error), USD only when the file has
  no such column at all. ``PricingCurrency`` and the 1.2 ``PricingCurrency…`` figures are kept and never used
  as a cost basis.
- provider_name: ``ProviderName`` (``ServiceProviderName`` in later versions); invoice_issuer_name:
  ``InvoiceIssuerName``; invoice_id: ``InvoiceId`` (1.2); sku_id: ``SkuId``.
- Text columns keep null apart from "": null is "no value", "" a value the file gave (FOCUS's null handling).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finops.importers.batch import Batch, ColumnPlan, accounts, billing_periods, frame
from finops.importers.errors import BillingFileError
from finops.importers.tags import empty_tags, tags_from_json
from finops.importers.values import coalesce, currency_codes, decimal_strings, mapped, nones, or_nones, timestamps

SOURCE_COLUMNS = (
    "BillingAccountId",
    "SubAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeType",
    "ChargeClass",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "Region",
    "ResourceId",
    "x_UsageType",
    "SkuId",
    "PricingQuantity",
    "PricingUnit",
    "BilledCost",
    "EffectiveCost",
    "AmortizedCost",
    "ListCost",
    "BillingCurrency",
    "PricingCurrency",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "ProviderName",
    "ServiceProviderName",
    "InvoiceIssuerName",
    "InvoiceId",
    "Tags",
)
_CHARGE_CATEGORIES = {name: name.lower() for name in ("Usage", "Purchase", "Tax", "Credit", "Adjustment")}
_CHARGE_CLASSES = {"Correction": "correction"}


def column_plan(header: list[str], names: list[str], path: str) -> ColumnPlan:
    """``header``: the names as written; ``names``: the same, made unique, as the reader selects them."""
    present = {name: unique for name, unique in reversed(list(zip(header, names, strict=True)))}
    for required in ("BilledCost", "ChargePeriodStart", "ChargePeriodEnd"):
        if required not in present:
            raise BillingFileError(path, "this FOCUS file has no such column, which FOCUS requires", column=required)
    if "ChargeCategory" not in present and "ChargeType" not in present:
        raise BillingFileError(path, "this FOCUS file has no ChargeCategory (or ChargeType) column")
    return ColumnPlan(columns={name: present[name] for name in SOURCE_COLUMNS if name in present})


def normalise(batch: Batch) -> pd.DataFrame:
    context, length = batch.context, batch.length

    def money(name: str) -> np.ndarray | None:
        values = batch.get(name)
        return None if values is None else decimal_strings(values, context, name)

    def moments(name: str, *, required: bool) -> pd.Series | None:
        values = batch.get(name)
        return None if values is None else timestamps(values, context, name, required=required)

    billing_account, sub_account = accounts(batch, "BillingAccountId", "SubAccountId")
    charge_start = moments("ChargePeriodStart", required=True)
    charge_end = moments("ChargePeriodEnd", required=True)
    assert charge_start is not None and charge_end is not None
    period_start, period_end = billing_periods(
        moments("BillingPeriodStart", required=False), moments("BillingPeriodEnd", required=False), charge_start
    )
    category_column = "ChargeCategory" if batch.get("ChargeCategory") is not None else "ChargeType"
    billed = money("BilledCost")
    assert billed is not None
    missing = pd.isna(billed)
    if missing.any():
        raise context.error(int(np.flatnonzero(missing)[0]), "BilledCost", "a cost is required here")
    charge_class = batch.get("ChargeClass")
    tags = batch.get("Tags")
    return frame(
        {
            "billing_account_id": billing_account,
            "sub_account_id": sub_account,
            "billing_period_start": period_start,
            "billing_period_end": period_end,
            "charge_period_start": charge_start,
            "charge_period_end": charge_end,
            "charge_category": mapped(
                batch.columns[category_column], context, category_column, _CHARGE_CATEGORIES, required=True
            ),
            "charge_class": nones(length)
            if charge_class is None
            else mapped(charge_class, context, "ChargeClass", _CHARGE_CLASSES, required=False),
            "service_name": or_nones(batch.kept("ServiceName"), length),
            "service_category": or_nones(batch.kept("ServiceCategory"), length),
            "region_id": or_nones(batch.kept("RegionId", "Region"), length),
            "resource_id": or_nones(batch.kept("ResourceId"), length),
            "usage_type": or_nones(batch.kept("x_UsageType"), length),
            "sku_id": or_nones(batch.kept("SkuId"), length),
            "pricing_quantity": or_nones(money("PricingQuantity"), length),
            "pricing_unit": or_nones(batch.kept("PricingUnit"), length),
            "billed_cost": billed,
            "effective_cost": coalesce(money("EffectiveCost"), money("AmortizedCost"), billed),
            "list_cost": or_nones(money("ListCost"), length),
            "billing_currency": currency_codes(batch.get("BillingCurrency"), context, "BillingCurrency", length),
            "pricing_currency": or_nones(batch.kept("PricingCurrency"), length),
            "pricing_currency_effective_cost": or_nones(money("PricingCurrencyEffectiveCost"), length),
            "pricing_currency_contracted_unit_price": or_nones(money("PricingCurrencyContractedUnitPrice"), length),
            "pricing_currency_list_unit_price": or_nones(money("PricingCurrencyListUnitPrice"), length),
            "provider_name": or_nones(batch.kept("ProviderName", "ServiceProviderName"), length),
            "invoice_issuer_name": or_nones(batch.kept("InvoiceIssuerName"), length),
            "invoice_id": or_nones(batch.kept("InvoiceId"), length),
            "tags": empty_tags(length) if tags is None else tags_from_json(tags, context, "Tags"),
        }
    )
