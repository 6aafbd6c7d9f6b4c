"""What kind of charge a billing row is: usage, a fee, or a credit. Pure.

Usage moves with what runs from day to day; fees are one-time or monthly charges that land on one day and
would make any day-for-day comparison say nothing about usage (tax and support are dated the month's first
day; a commitment is bought on one day). Costplane recognises them from what it stores:

- export rows (FOCUS, CUR 2.0, legacy CUR): charge_category `tax` or `purchase` is a fee. The importers map
  FOCUS ChargeCategory Tax / Purchase, and the CUR line item types Tax, Fee, RIFee, SavingsPlanUpfrontFee and
  SavingsPlanRecurringFee (finops/importers/cur.py) onto these two, so every one-time and recurring purchase
  (FOCUS ChargeFrequency One-Time / Recurring), commitment fee and support fee billed as a Fee is one.
  `credit` and `adjustment` (credits, refunds, corrections) are credits;
- any row, whatever its category, whose service is a fee service: Tax, AWS Support (AWS bills support
  monthly as a share of the month's spend; some exports carry it as usage) and Savings Plans (whose
  recurring fee Cost Explorer shows as the service "Savings Plans for AWS Compute usage");
- Cost Explorer cells (accounts without an export) carry only the service, so the service name alone decides.
  Reserved Instance fees there are billed under the instance's own service and count as usage: telling them
  apart needs Cost Explorer's RECORD_TYPE dimension, which the `account_service` view does not group by.
"""

from __future__ import annotations

USAGE = "usage"
FEE = "fee"
CREDIT = "credit"
KINDS = (USAGE, FEE, CREDIT)
KIND_LABELS = {
    USAGE: "Usage",
    FEE: "One-time and monthly fees (tax, support, purchases, commitment fees)",
    CREDIT: "Credits and refunds",
}

FEE_CATEGORIES = ("tax", "purchase")
CREDIT_CATEGORIES = ("credit", "adjustment")
FEE_SERVICES = ("Tax",)
FEE_SERVICE_PREFIXES = ("AWS Support", "AWS Premium Support", "Savings Plans for ")


def is_fee_service(service_name: str | None) -> bool:
    name = service_name or ""
    return name in FEE_SERVICES or name.startswith(FEE_SERVICE_PREFIXES)


def charge_kind(*, charge_category: str | None, service_name: str | None) -> str:
    """The kind of one row; `charge_category` None for a Cost Explorer cell (which has none)."""
    if charge_category in FEE_CATEGORIES or is_fee_service(service_name):
        return FEE
    if charge_category in CREDIT_CATEGORIES:
        return CREDIT
    return USAGE


def _literal(text: str) -> str:
    if "'" in text or "\\" in text:
        raise ValueError(f"{text!r} cannot be written as a plain SQL literal here.")
    return f"'{text}'"


def charge_kind_sql(*, service_column: str, category_column: str | None = None) -> str:
    """A SQL expression giving charge_kind() of a row from its columns (constants only: no parameters)."""
    services = " OR ".join(
        [
            *(f"{service_column} = {_literal(name)}" for name in FEE_SERVICES),
            *(f"starts_with({service_column}, {_literal(prefix)})" for prefix in FEE_SERVICE_PREFIXES),
        ]
    )
    if category_column is None:
        return f"CASE WHEN {services} THEN '{FEE}' ELSE '{USAGE}' END"
    fees = ", ".join(_literal(category) for category in FEE_CATEGORIES)
    credits = ", ".join(_literal(category) for category in CREDIT_CATEGORIES)
    return (
        f"CASE WHEN {category_column} IN ({fees}) OR {services} THEN '{FEE}'"
        f" WHEN {category_column} IN ({credits}) THEN '{CREDIT}' ELSE '{USAGE}' END"
    )
