"""Compute Savings Plans over the sandbox's EC2 compute usage, the way the CUR shows them.

Each day, each plan's commitment (hourly x 24) pays for eligible on-demand usage at
SAVINGS_PLAN_RATE_PERCENT of its price, lines in a fixed order, the last one split where the
commitment runs out. A covered line becomes SavingsPlanCoveredUsage (billed at on-demand, effective
at the plan's rate) with a SavingsPlanNegation line taking the on-demand amount back; the plan's
SavingsPlanRecurringFee line bills the commitment, and its effective cost is the unused part. An All
Upfront plan bills its whole term on its first day (SavingsPlanUpfrontFee, effective cost 0) and its
recurring fee lines bill 0 while still carrying the amortised commitment: amortised cost then differs
from billed cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox import rates
from sandbox.catalogue import Catalogue, SavingsPlan


def _fee_rows(plan: SavingsPlan, days: np.ndarray, commitment: int, used: np.ndarray) -> pd.DataFrame:
    count = len(days)
    return pd.DataFrame(
        {
            "day": days,
            "period_end": days + np.timedelta64(1, "D"),
            "account_id": plan.account_id,
            "region": None,
            "service": rates.SAVINGS_PLANS,
            "usage_type": "ComputeSP:1yrNoUpfront",
            "operation": "",
            "resource_id": plan.arn,
            "owner_id": "",
            "instance_type": "",
            "unit": "Hrs",
            "unit_price": rates.price_units(plan.hourly_commitment),
            "quantity": np.full(count, 24 * 10**rates.QUANTITY_SCALE, dtype=np.int64),
            "line_type": "SavingsPlanRecurringFee",
            "unblended": np.full(count, commitment, dtype=np.int64),
            "effective": commitment - used,
            "list_cost": np.full(count, commitment, dtype=np.int64),
            "sp_arn": plan.arn,
            "sp_effective": 0,
            "sp_commitment": np.full(count, commitment, dtype=np.int64),
            "sp_used": used,
            "sp_upfront": np.full(count, commitment if plan.payment_option == "All Upfront" else 0, dtype=np.int64),
        }
    )


def _upfront_row(plan: SavingsPlan, commitment: int) -> pd.DataFrame:
    row = _fee_rows(plan, np.array([np.datetime64(plan.start, "D")]), commitment, np.zeros(1, dtype=np.int64))
    amount = commitment * plan.term_days
    return row.assign(
        line_type="SavingsPlanUpfrontFee", usage_type="ComputeSP:1yrAllUpfront", unblended=amount, effective=0,
        list_cost=amount, quantity=0, sp_commitment=0, sp_used=0, sp_upfront=0,
    )  # fmt: skip


def _apply_plan(frame: pd.DataFrame, plan: SavingsPlan, catalogue: Catalogue) -> pd.DataFrame:
    # the commitment per day in 1e-10 USD: hourly price (1e-4) x 24 hours (1e-6)
    commitment = rates.price_units(plan.hourly_commitment) * 24 * 10**rates.QUANTITY_SCALE
    first, last = np.datetime64(plan.start, "D"), np.datetime64(min(plan.end, catalogue.end), "D")
    day = frame["day"].to_numpy().astype("datetime64[D]")
    mask = (frame["service"] == rates.EC2_COMPUTE) & (frame["line_type"] == "Usage") & (day >= first) & (day < last)
    eligible = frame[mask].sort_values(["day", "resource_id"], kind="stable")
    on_demand = eligible["unblended"].to_numpy()
    need = (on_demand * rates.SAVINGS_PLAN_RATE_PERCENT + 50) // 100
    after = pd.Series(need, index=eligible.index).groupby(eligible["day"].to_numpy()).cumsum().to_numpy()
    before = after - need
    full = after <= commitment
    partial = ~full & (before < commitment)
    remaining = commitment - before
    covered = np.where(full, on_demand, np.where(partial, remaining * 100 // rates.SAVINGS_PLAN_RATE_PERCENT, 0))
    effective = np.where(full, need, np.where(partial, remaining, 0))
    quantity = eligible["quantity"].to_numpy()
    covered_quantity = np.where(full, quantity, quantity * covered // np.maximum(on_demand, 1))
    touched = full | partial

    covered_rows = eligible[touched].assign(
        line_type="SavingsPlanCoveredUsage",
        quantity=covered_quantity[touched],
        unblended=covered[touched],
        effective=effective[touched],
        list_cost=covered[touched],
        sp_arn=plan.arn,
        sp_effective=effective[touched],
    )
    negation_rows = covered_rows.assign(
        line_type="SavingsPlanNegation",
        quantity=0,
        unblended=-covered[touched],
        effective=0,
        list_cost=0,
        sp_effective=0,
    )
    rest = on_demand - covered
    rest_rows = eligible[partial].assign(
        quantity=(quantity - covered_quantity)[partial],
        unblended=rest[partial],
        effective=rest[partial],
        list_cost=rest[partial],
    )
    used = pd.Series(effective, index=eligible["day"].to_numpy()).groupby(level=0).sum()
    plan_days = np.arange(first, last)
    used_by_day = used.reindex(pd.DatetimeIndex(plan_days.astype("datetime64[s]")), fill_value=0).to_numpy()
    fees = _fee_rows(plan, plan_days, commitment, used_by_day.astype(np.int64))
    upfront = []
    if plan.payment_option == "All Upfront":
        fees["unblended"] = 0
        if catalogue.start <= plan.start < catalogue.end:
            upfront.append(_upfront_row(plan, commitment))
    kept = frame.drop(index=eligible.index[touched])
    return pd.concat([kept, covered_rows, negation_rows, rest_rows, fees, *upfront], ignore_index=True)


def apply_savings_plans(frame: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    frame = frame.assign(sp_arn="", sp_effective=0, sp_commitment=0, sp_used=0, sp_upfront=0)
    for plan in catalogue.savings_plans:
        frame = _apply_plan(frame, plan, catalogue)
    return frame
