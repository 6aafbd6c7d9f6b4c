from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from finops.importers import BillingFileError, BillingFormat, open_billing_file
from tests.finops.importers.support import FOCUS_EXAMPLES, FOCUS_HEADER, focus_row, read_all, total, write_csv

SCENARIOS = FOCUS_EXAMPLES / "commitment_discount_scenarios"
FLEXIBILITY = FOCUS_EXAMPLES / "commitment_discount_flexibility"


@pytest.mark.parametrize(
    ("name", "billed", "effective"),
    [
        # Usage covered by a commitment bills nothing; its amortised share shows in EffectiveCost.
        ("commitment_discount_usage_scenario_1.csv", "0.00", "1.00"),
        ("commitment_discount_usage_scenario_2.csv", "0.00", "1.00"),
        ("commitment_discount_usage_scenario_3.csv", "0.00", "1.00"),
        ("commitment_discount_usage_scenario_4.csv", "0.50", "1.50"),
        # The upfront purchase is billed once and amortised away from the purchase line.
        ("commitment_discount_purchase_scenario_1.csv", "8760.00", "0.00"),
    ],
)
def test_it_keeps_billed_and_effective_cost_as_the_spec_examples_state(name, billed, effective):
    frame = read_all(SCENARIOS / name, default_account_id="123456789012")

    assert (total(frame.billed_cost), total(frame.effective_cost)) == (Decimal(billed), Decimal(effective))


@pytest.mark.parametrize("path", sorted(FLEXIBILITY.glob("*.csv")), ids=lambda path: path.stem)
def test_it_balances_recurring_commitments_between_purchase_and_usage(path):
    frame = read_all(path, default_account_id="123456789012")
    purchases = frame.charge_category == "purchase"

    # The recurring fee is billed on the purchase line and carried as effective cost by the usage it covered.
    assert total(frame.effective_cost) == total(frame.billed_cost)
    assert set(frame.effective_cost[purchases]) == {"0.00"}
    assert set(frame.list_cost) != {None}


@pytest.mark.parametrize(
    ("name", "row"),
    [("commitment_discount_purchase_scenario_2.csv", 3), ("commitment_discount_purchase_scenario_3.csv", 4)],
)
def test_it_reports_the_impossible_hour_in_the_purchase_examples(name, row):
    billing_file = open_billing_file(SCENARIOS / name)

    with pytest.raises(BillingFileError) as raised:
        list(billing_file.batches(default_account_id="123456789012"))

    assert (raised.value.row, raised.value.column) == (row, "ChargePeriodEnd")
    assert "2023-02-01T30:00:00Z" in raised.value.message
    assert str(raised.value).startswith(f"{SCENARIOS / name}, row {row}, column 'ChargePeriodEnd': ")


def test_it_reads_the_spec_examples_with_their_dates_and_categories():
    billing_file = open_billing_file(SCENARIOS / "commitment_discount_usage_scenario_4.csv")
    frame = read_all(SCENARIOS / "commitment_discount_usage_scenario_4.csv", default_account_id="123456789012")

    assert (billing_file.format, billing_file.version, billing_file.total_rows) == (BillingFormat.FOCUS, "1.1", None)
    assert frame.loc[0, "billing_period_start"] == dt.date(2023, 1, 1)
    assert frame.loc[0, "charge_period_end"] == pd.Timestamp("2023-01-01T01:00:00Z")
    assert list(frame.charge_category) == ["usage", "usage"]
    assert list(frame.billing_currency) == ["USD", "USD"]


def test_it_asks_for_an_account_when_the_file_has_none():
    billing_file = open_billing_file(SCENARIOS / "commitment_discount_usage_scenario_1.csv")

    with pytest.raises(BillingFileError, match="--account"):
        list(billing_file.batches())

    frame = read_all(SCENARIOS / "commitment_discount_usage_scenario_1.csv", default_account_id="000011112222")
    assert (frame.loc[0, "billing_account_id"], frame.loc[0, "sub_account_id"]) == ("000011112222", "000011112222")


def test_it_reads_accounts_tags_and_text_columns(tmp_path):
    path = write_csv(tmp_path / "focus.csv", [focus_row(), focus_row(SubAccountId="", Tags="", BilledCost="-0.5")])

    frame = read_all(path, default_account_id="999999999999")

    first = frame.iloc[0]
    assert (first.billing_account_id, first.sub_account_id) == ("000123456789", "000987654321")
    assert first.tags == {"team": "ml"}
    assert (first.service_name, first.region_id, first.pricing_unit) == ("Amazon SageMaker", "us-east-1", "Hours")
    assert (first.billed_cost, first.effective_cost, first.list_cost, first.pricing_quantity) == (
        "1.5",
        "1.25",
        "2",
        "1",
    )
    # A row without a sub account belongs to its billing account; a file's account beats the default.
    assert frame.loc[1, "sub_account_id"] == "000123456789"
    assert frame.loc[1, "tags"] == {}
    assert frame.loc[1, "billed_cost"] == "-0.5"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("Tags", '{"team": "ml"'),
        ("ChargeCategory", "Discount"),
        ("ChargePeriodStart", "yesterday"),
        ("ListCost", "1.2.3"),
    ],
)
def test_it_names_the_row_and_column_of_a_bad_value(tmp_path, column, value):
    path = write_csv(tmp_path / "focus.csv", [focus_row(), focus_row(), focus_row(**{column: value})])

    with pytest.raises(BillingFileError) as raised:
        read_all(path)

    assert (raised.value.row, raised.value.column) == (3, column)


def test_it_requires_a_billed_cost_on_every_row(tmp_path):
    path = write_csv(tmp_path / "focus.csv", [focus_row(BilledCost="null")])

    with pytest.raises(BillingFileError) as raised:
        read_all(path)

    assert (raised.value.row, raised.value.column) == (1, "BilledCost")


def test_it_reads_timestamps_in_the_forms_exports_use(tmp_path):
    forms = ["2023-11-01T00:00:00Z", "2023-11-01T00:00:00.000Z", "2023-11-01 00:00:00", "2023-11-01T02:00:00+02:00"]
    path = write_csv(tmp_path / "focus.csv", [focus_row(ChargePeriodStart=form) for form in forms])

    frame = read_all(path)

    assert set(frame.charge_period_start) == {pd.Timestamp("2023-11-01", tz="UTC")}


def test_it_writes_exponents_out_as_plain_decimals(tmp_path):
    path = write_csv(tmp_path / "focus.csv", [focus_row(BilledCost="1E-7", EffectiveCost="+.5", ListCost="NaN")])

    frame = read_all(path)

    assert (frame.loc[0, "billed_cost"], frame.loc[0, "effective_cost"], frame.loc[0, "list_cost"]) == (
        "0.0000001",
        "0.5",
        None,
    )


def test_it_reads_focus_1_0_preview_charge_types(tmp_path):
    header = [name for name in FOCUS_HEADER if name not in ("ChargeCategory", "EffectiveCost")]
    row = focus_row(ChargeType="Adjustment", AmortizedCost="0.75")
    path = write_csv(tmp_path / "focus.csv", [row], [*header, "ChargeType", "AmortizedCost"])
    billing_file = open_billing_file(path)

    frame = read_all(path)

    assert billing_file.version == "1.0-preview"
    assert (frame.loc[0, "charge_category"], frame.loc[0, "effective_cost"]) == ("adjustment", "0.75")
