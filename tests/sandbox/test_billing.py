from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from sandbox.billing import billing_lines
from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID, catalogue_build
from sandbox.cur import cur_frame, cur_table
from sandbox.focus import focus_frame, focus_table

from .conftest import TODAY


def _per_account_day(frame: pd.DataFrame, account: str, start: str, cost: str) -> dict:
    sums = frame.groupby([frame[account], frame[start].dt.date])[cost].sum()
    return {key: Decimal(value) for key, value in sums.items()}


def test_it_renders_the_same_frames_for_the_same_seed_size_and_today():
    catalogue = catalogue_build(size="small", today=TODAY)
    again = catalogue_build(size="small", today=TODAY)
    assert focus_table(billing_lines(catalogue), catalogue).equals(focus_table(billing_lines(again), again))
    assert cur_table(billing_lines(catalogue), catalogue).equals(cur_table(billing_lines(again), again))


def test_it_covers_thirteen_months_ending_yesterday(small_focus):
    days = small_focus["ChargePeriodStart"].dt.date
    assert days.max() == pd.Timestamp("2025-06-14").date()
    assert days.min() == pd.Timestamp("2024-05-01").date()
    assert small_focus["BillingPeriodStart"].nunique() >= 14  # 13 full months and this one


def test_it_keeps_money_exact_as_decimals_with_ten_digits(small, small_focus):
    table = focus_table(small.lines, small.catalogue)
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity"):
        assert table.schema.field(column).type == pa.decimal128(38, 10)
    assert all(isinstance(value, Decimal) for value in small_focus["BilledCost"].head(100))
    assert cur_table(small.lines, small.catalogue).schema.field("line_item_unblended_cost").type == pa.decimal128(
        38, 10
    )


def test_it_leaves_at_least_five_percent_of_usage_untagged(small_focus):
    usage = small_focus[small_focus["ChargeCategory"] == "Usage"]
    team = usage["Tags"].map(lambda text: json.loads(text).get("team"))
    share = usage.loc[team.isna(), "EffectiveCost"].sum() / usage["EffectiveCost"].sum()
    assert share >= Decimal("0.05")
    partly_tagged = usage["Tags"].map(lambda text: set(json.loads(text)) == {"team"})
    assert partly_tagged.any()


def test_it_has_shared_spend(small_focus):
    support = small_focus[small_focus["ServiceName"] == "AWS Support (Business)"]
    assert support["BilledCost"].sum() > 0
    assert (support["SubAccountId"] == MANAGEMENT_ACCOUNT_ID).all()
    nat = small_focus[small_focus["x_UsageType"].str.contains("NatGateway", na=False)]
    assert set(nat["Tags"].map(lambda text: json.loads(text)["project"])) == {"shared-infra"}


def test_it_makes_effective_cost_differ_from_billed_cost_through_savings_plans(small_focus):
    assert small_focus["BilledCost"].sum() != small_focus["EffectiveCost"].sum()
    covered = small_focus[small_focus["CommitmentDiscountStatus"] == "Used"]
    assert len(covered) and (covered["BilledCost"] == 0).all() and (covered["EffectiveCost"] > 0).all()
    purchases = small_focus[small_focus["ChargeCategory"] == "Purchase"]
    assert purchases["CommitmentDiscountId"].notna().any()


def test_it_writes_savings_plan_fee_covered_and_negation_lines_in_the_cur(small):
    cur = cur_frame(small.lines, small.catalogue)
    types = set(cur["line_item_line_item_type"])
    assert {"SavingsPlanRecurringFee", "SavingsPlanCoveredUsage", "SavingsPlanNegation"} <= types
    covered = cur[cur["line_item_line_item_type"] == "SavingsPlanCoveredUsage"]["line_item_unblended_cost"].sum()
    negated = cur[cur["line_item_line_item_type"] == "SavingsPlanNegation"]["line_item_unblended_cost"].sum()
    assert covered == -negated > 0
    assert cur["identity_line_item_id"].is_unique


def test_it_has_tax_credit_and_adjustment_lines(small_focus):
    categories = small_focus.groupby("ChargeCategory")["BilledCost"].sum()
    assert categories["Tax"] > 0
    assert categories["Credit"] < 0
    assert categories["Adjustment"] < 0
    assert set(small_focus.loc[small_focus["ChargeCategory"] == "Tax", "ServiceName"]) == {"Tax"}


def test_it_grows_spend_over_time(small_focus, full):
    monthly = small_focus.groupby(small_focus["BillingPeriodStart"].dt.strftime("%Y-%m"))["BilledCost"].sum()
    assert monthly["2025-05"] > monthly["2024-05"]
    full_focus = focus_frame(full.lines, full.catalogue)
    full_monthly = full_focus.groupby(full_focus["BillingPeriodStart"].dt.strftime("%Y-%m"))["BilledCost"].sum()
    assert full_monthly["2025-05"] > 2 * full_monthly["2024-05"]


def test_it_bills_gpu_instances_on_ec2_and_sagemaker(small_focus):
    usage_types = set(small_focus["x_UsageType"].dropna())
    for family in ("p4d.24xlarge", "p5.48xlarge", "g5.xlarge", "g5.12xlarge", "inf2.xlarge"):
        assert f"BoxUsage:{family}" in usage_types
    for host in ("USE1-Host:ml.g5.xlarge", "USE1-Host:ml.inf2.xlarge", "USE1-Notebk:ml.t3.medium"):
        assert host in usage_types
    assert any(value.startswith("USE1-Train:ml.p4d") for value in usage_types)
    sagemaker = small_focus[small_focus["ServiceName"] == "Amazon SageMaker"]
    assert sagemaker["ResourceId"].str.startswith("arn:aws:sagemaker:").all()


def test_it_sums_focus_and_cur_to_the_same_billed_cost_per_account_and_day(small):
    focus = focus_frame(small.lines, small.catalogue)
    cur = cur_frame(small.lines, small.catalogue)
    focus_sums = _per_account_day(focus, "SubAccountId", "ChargePeriodStart", "BilledCost")
    cur_sums = _per_account_day(
        cur, "line_item_usage_account_id", "line_item_usage_start_date", "line_item_unblended_cost"
    )
    assert focus_sums == cur_sums
    assert len(focus_sums) > 13 * 30 * 4


def test_it_keeps_row_counts_in_the_agreed_ranges(small, full):
    assert 3_000 <= len(small.lines) <= 20_000
    assert 100_000 <= len(full.lines) <= 300_000


def test_it_writes_cur_tags_as_a_map_of_user_keys(small):
    cur = cur_frame(small.lines, small.catalogue)
    keys = {key for pairs in cur["resource_tags"] for key, _ in pairs}
    assert {"user_team", "user_project", "user_environment", "user_model", "user_model_version"} <= keys
    assert set(cur["product_product_name"]) == set(focus_frame(small.lines, small.catalogue)["ServiceName"])
