from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.importers import BillingFileError, BillingFormat, open_billing_file
from tests.finops.importers.support import DATA, read_all, total, write_csv

LEGACY_SAMPLE = DATA / "cur-legacy" / "aws_cur_sample_anonymous.csv"
DECEMBER_2018 = DATA / "cur-parquet" / "Dec2018-WorkshopCUR-00001.snappy.parquet"
VARIANTS = DATA / "cur-variants"


def test_it_reads_the_legacy_sample_to_the_exact_total():
    billing_file = open_billing_file(LEGACY_SAMPLE)
    frame = read_all(LEGACY_SAMPLE)

    assert (billing_file.format, billing_file.version) == (BillingFormat.CUR_LEGACY, "slash")
    assert len(frame) == 1281
    assert total(frame.billed_cost) == Decimal("1.68230869740")
    assert set(frame.billing_account_id) == {"123412340534"}


def test_it_maps_tax_lines_to_tax():
    frame = read_all(LEGACY_SAMPLE)
    raw = pd.read_csv(LEGACY_SAMPLE, dtype=str, keep_default_na=False)

    assert list(frame.charge_category == "tax") == list(raw["lineItem/LineItemType"] == "Tax")
    assert set(frame.charge_category) == {"usage", "tax"}
    assert frame.loc[0, "charge_period_start"] == pd.Timestamp("2023-11-01", tz="UTC")
    assert frame.loc[0, "billing_period_end"] == dt.date(2023, 12, 1)


def test_it_reads_the_december_2018_parquet_with_its_tags():
    billing_file = open_billing_file(DECEMBER_2018)
    frame = read_all(DECEMBER_2018)
    environment = frame.tags.map(lambda tags: tags.get("environment"))

    assert (billing_file.format, billing_file.version, billing_file.total_rows) == (
        BillingFormat.CUR_LEGACY,
        "athena",
        91_264,
    )
    assert len(frame) == 91_264
    assert total(frame.billed_cost) == Decimal("408.3759924354")
    assert total(frame.billed_cost[environment == "Production"]) == Decimal("54.7481423333")
    assert total(frame.billed_cost[environment.isna()]) == Decimal("353.6278501021")
    assert not any("" in tags.values() for tags in frame.tags)
    assert frame.sub_account_id.nunique() == 2
    assert all(isinstance(account, str) and len(account) == 12 for account in frame.sub_account_id)
    assert frame.charge_period_start.dt.tz is not None


def test_it_amortises_reserved_instance_fees_as_the_converter_does():
    frame = read_all(DECEMBER_2018)
    raw = pd.read_parquet(DECEMBER_2018)
    fees = raw.line_item_line_item_type == "RIFee"
    discounted = raw.line_item_line_item_type == "DiscountedUsage"

    expected_fees = sum(
        Decimal(repr(upfront)) + Decimal(repr(recurring))
        for upfront, recurring in zip(
            raw.reservation_unused_amortized_upfront_fee_for_billing_period[fees],
            raw.reservation_unused_recurring_fee[fees],
            strict=True,
        )
    )
    assert set(frame.charge_category[fees]) == {"purchase"}
    assert total(frame.effective_cost[fees]) == expected_fees
    assert total(frame.effective_cost[discounted]) == total(map(repr, raw.reservation_effective_cost[discounted]))


def test_it_reads_athena_style_columns_and_their_tags():
    frame = read_all(VARIANTS / "2022-07-01-alt-columns.csv")

    assert len(frame) == 2
    assert frame.loc[0, "billing_account_id"] == "999999"
    assert frame.loc[0, "tags"] == {"aws_created_by": "IAMUser:fake:and"}
    assert frame.loc[0, "charge_period_end"] == pd.Timestamp("2022-07-01 01:00", tz="UTC")
    assert frame.loc[0, "region_id"] == "us-east-1"


def test_it_keeps_leading_zeros_and_ignores_no_tags_columns():
    frame = read_all(VARIANTS / "2023-06-01.csv")

    assert len(frame) == 3
    assert set(frame.billing_account_id) == {"0099999999999"}
    assert set(frame.billing_currency) == {"NOK"}
    assert all(tags == {} for tags in frame.tags)
    # SavingsPlanCoveredUsage: billed at the on-demand rate, effective at the Savings Plan rate.
    assert (total(frame.billed_cost), total(frame.effective_cost)) == (Decimal(30), Decimal("0.3"))


def test_it_refuses_a_ragged_file_naming_the_first_bad_row():
    billing_file = open_billing_file(VARIANTS / "test_cur.csv")

    with pytest.raises(BillingFileError) as raised:
        list(billing_file.batches())

    assert raised.value.row == 1
    assert "131" in raised.value.message and "130" in raised.value.message
    assert "test_cur.csv, row 1" in str(raised.value)


def test_it_keeps_nineteen_fractional_digits_exactly(tmp_path):
    # test_cur.csv's only flaw is a header field its rows lack; drop it to read the values.
    lines = (VARIANTS / "test_cur.csv").read_text().splitlines()
    lines[0] = lines[0].removesuffix(",costCategory/CostCenter")
    repaired = tmp_path / "test_cur.csv"
    repaired.write_text("\n".join(lines) + "\n")

    frame = read_all(repaired)

    assert "0.0061215770588837586" in set(frame.billed_cost)
    assert "0.0061215770588837586" in set(frame.list_cost)


SLASH_HEADER = [
    "bill/PayerAccountId",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/UnblendedCost",
    "reservation/ReservationARN",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/user:CostCenter",
    "resourceTags/aws:createdBy",
    "costCategory/Team",
]


def cur_row(line_item_type: str, cost: str, **columns: str) -> dict[str, str]:
    return {
        "bill/PayerAccountId": "012345678901",
        "lineItem/UsageAccountId": "012345678902",
        "lineItem/LineItemType": line_item_type,
        "lineItem/UsageStartDate": "2024-05-01T00:00:00Z",
        "lineItem/UsageEndDate": "2024-06-01T00:00:00Z",
        "lineItem/UnblendedCost": cost,
        **columns,
    }


def test_it_amortises_savings_plan_fees_and_upfront_reservations(tmp_path):
    path = write_csv(
        tmp_path / "cur.csv",
        [
            cur_row(
                "SavingsPlanRecurringFee",
                "100",
                **{"savingsPlan/TotalCommitmentToDate": "100", "savingsPlan/UsedCommitment": "87.5"},
            ),
            cur_row("SavingsPlanNegation", "-12.5"),
            cur_row("Fee", "1000", **{"reservation/ReservationARN": "arn:aws:ec2:us-east-1:1:reserved-instances/x"}),
            cur_row("Fee", "20"),
            cur_row("Credit", "-3"),
            cur_row("Refund", "-1"),
        ],
        SLASH_HEADER,
    )

    frame = read_all(path)

    assert list(frame.effective_cost) == ["12.5", "0", "0", "20", "-3", "-1"]
    assert list(frame.charge_category) == ["purchase", "usage", "purchase", "purchase", "credit", "credit"]
    # No billing period column: the calendar month of the charge.
    assert (frame.loc[0, "billing_period_start"], frame.loc[0, "billing_period_end"]) == (
        dt.date(2024, 5, 1),
        dt.date(2024, 6, 1),
    )
    assert frame.loc[0, "list_cost"] is None


def test_it_names_slash_style_tag_keys_as_written(tmp_path):
    path = write_csv(
        tmp_path / "cur.csv",
        [
            cur_row(
                "Usage",
                "1",
                **{"resourceTags/user:CostCenter": "cc-1", "resourceTags/aws:createdBy": "", "costCategory/Team": "a"},
            )
        ],
        SLASH_HEADER,
    )

    assert read_all(path).loc[0, "tags"] == {"CostCenter": "cc-1"}


def test_it_rejects_an_unknown_line_item_type_naming_row_and_column(tmp_path):
    path = write_csv(tmp_path / "cur.csv", [cur_row("Usage", "1"), cur_row("MysteryCharge", "1")], SLASH_HEADER)

    with pytest.raises(BillingFileError) as raised:
        read_all(path)

    assert (raised.value.row, raised.value.column) == (2, "lineItem/LineItemType")
    assert "MysteryCharge" in raised.value.message


def test_it_rejects_a_cost_that_is_not_a_number(tmp_path):
    path = write_csv(tmp_path / "cur.csv", [cur_row("Usage", "1"), cur_row("Usage", "1,5")], SLASH_HEADER)

    with pytest.raises(BillingFileError) as raised:
        read_all(path)

    assert (raised.value.row, raised.value.column) == (2, "lineItem/UnblendedCost")


def test_it_reads_cur_2_with_its_resource_tags_map(tmp_path):
    path = write_csv(
        tmp_path / "cur2.csv",
        [
            {
                "bill_payer_account_id": "012345678901",
                "bill_payer_account_name": "Payer",
                "line_item_usage_account_id": "012345678902",
                "line_item_line_item_type": "SavingsPlanCoveredUsage",
                "line_item_usage_start_date": "2024-05-01T00:00:00.000Z",
                "line_item_usage_end_date": "2024-05-01T01:00:00.000Z",
                "line_item_unblended_cost": "3.06",
                "savings_plan_savings_plan_effective_cost": "1.9584",
                "product": '{"product_name": "Amazon SageMaker", "region": "us-east-1"}',
                "product_region_code": "us-east-1",
                "resource_tags": '{"user_team": "ml", "user_env": "", "aws_created_by": "me"}',
            }
        ],
    )
    billing_file = open_billing_file(path)

    frame = read_all(path)

    assert billing_file.format is BillingFormat.CUR2
    assert frame.loc[0, "tags"] == {"team": "ml", "aws_created_by": "me"}
    assert frame.loc[0, "service_name"] == "Amazon SageMaker"
    assert frame.loc[0, "effective_cost"] == "1.9584"
    assert frame.loc[0, "region_id"] == "us-east-1"


def test_it_reads_cur_2_parquet_maps(tmp_path):
    text_map = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "bill_payer_account_id": ["012345678901", "012345678901"],
            "line_item_usage_account_id": ["012345678902", "012345678903"],
            "line_item_usage_account_name": ["ml", "data"],
            "line_item_line_item_type": ["Usage", "DiscountedUsage"],
            "line_item_usage_start_date": pa.array([0, 3_600_000], pa.timestamp("ms", tz="UTC")),
            "line_item_usage_end_date": pa.array([3_600_000, 7_200_000], pa.timestamp("ms", tz="UTC")),
            "line_item_unblended_cost": pa.array([Decimal("1.2300000000"), Decimal("0")], pa.decimal128(20, 10)),
            "reservation_effective_cost": pa.array([None, 0.7], pa.float64()),
            "product": pa.array([[("product_name", "Amazon EC2")], []], text_map),
            "line_item_product_code": ["AmazonEC2", "AmazonRDS"],
            "resource_tags": pa.array([[("user_team", "ml"), ("user_env", "")], None], text_map),
        }
    )
    pq.write_table(table, tmp_path / "cur2.parquet")

    frame = read_all(tmp_path / "cur2.parquet")

    assert open_billing_file(tmp_path / "cur2.parquet").format is BillingFormat.CUR2
    assert list(frame.tags) == [{"team": "ml"}, {}]
    assert list(frame.service_name) == ["Amazon EC2", "AmazonRDS"]
    # Parquet decimals are exact; Arrow writes a zero at scale 10 as 0E-10, which comes out plain.
    assert list(frame.billed_cost) == ["1.2300000000", "0.0000000000"]
    assert list(frame.effective_cost) == ["1.2300000000", "0.7"]
    assert list(frame.sub_account_id) == ["012345678902", "012345678903"]
