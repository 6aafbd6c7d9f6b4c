"""Tag coverage on DataFrames: how much usage cost carries a tag after the rules, and the largest resources
that do not. Pure: no ORM, no I/O; input rows have finops.allocation.engine.ROW_COLUMNS."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pandas as pd

from finops.allocation.rules import Rules, tag_columns
from finops.reports import MONEY_CONTEXT, UNALLOCATED, money_sum


def tag_coverage(frame: pd.DataFrame, *, key: str, rules: Rules) -> pd.DataFrame:
    """Per period and account: usage cost, the part carrying `key` (after the rules), and the share.

    Only usage rows count: taxes, credits and purchases carry no resource tags by nature.
    Returns columns period, account, cost, tagged_cost, coverage (Decimal share 0..1, None when no cost).
    """
    columns = ["period", "account", "cost", "tagged_cost", "coverage"]
    usage = frame[frame["charge_category"] == "usage"]
    if usage.empty:
        return pd.DataFrame(columns=columns)
    usage = usage.assign(tagged=tag_columns(usage, [key], rules)[f"tag:{key}"] != UNALLOCATED)
    usage = usage.assign(period=usage["period"].map(lambda value: "" if value is None else value))
    with localcontext(MONEY_CONTEXT):
        usage = usage.assign(
            tagged_cost=[
                cost if tagged else Decimal(0) for cost, tagged in zip(usage["cost"], usage["tagged"], strict=True)
            ]
        )
        grouped = usage.groupby(["period", "account"], sort=True).agg(
            cost=("cost", money_sum), tagged_cost=("tagged_cost", money_sum)
        )
        grouped["coverage"] = [
            (tagged / cost).quantize(Decimal("0.0001")) if cost > 0 else None
            for tagged, cost in zip(grouped["tagged_cost"], grouped["cost"], strict=True)
        ]
    result = grouped.reset_index()
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]


def untagged_resources(frame: pd.DataFrame, *, key: str, rules: Rules, top: int = 20) -> pd.DataFrame:
    """The resources with the most cost lacking `key` (after the rules): resource, account, service, cost."""
    columns = ["resource", "account", "service", "cost"]
    with_resource = frame[frame["resource"].fillna("") != ""]
    if with_resource.empty:
        return pd.DataFrame(columns=columns)
    lacking = with_resource[tag_columns(with_resource, [key], rules)[f"tag:{key}"] == UNALLOCATED]
    if lacking.empty:
        return pd.DataFrame(columns=columns)
    with localcontext(MONEY_CONTEXT):
        grouped = lacking.groupby(["resource", "account", "service"], sort=True).agg(cost=("cost", money_sum))
    return grouped.reset_index().sort_values("cost", ascending=False, kind="stable").head(top)[columns]
