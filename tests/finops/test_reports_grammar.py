from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops.reports import (
    MONEY_PLACES,
    WINDOWS_RELATIVE,
    ReportQueryError,
    money_round_to_total,
    money_sum,
    money_text,
    report_query_parse,
    window_parse,
)

TODAY = date(2026, 3, 15)


def parse(**params):
    return report_query_parse({name: value if isinstance(value, list) else [value] for name, value in params.items()},
                              today=TODAY)  # fmt: skip


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ("7d", date(2026, 3, 8), date(2026, 3, 15)),
        ("30d", date(2026, 2, 13), date(2026, 3, 15)),
        ("90d", date(2025, 12, 15), date(2026, 3, 15)),
        ("mtd", date(2026, 3, 1), date(2026, 3, 15)),
        ("ytd", date(2026, 1, 1), date(2026, 3, 15)),
        ("lastmonth", date(2026, 2, 1), date(2026, 3, 1)),
        ("2025-12-01,2026-01-01", date(2025, 12, 1), date(2026, 1, 1)),
    ],
)
def test_it_reads_every_window_form_as_utc_days_with_an_exclusive_end(window, start, end):
    assert window_parse(window, today=TODAY) == (start, end)


def test_it_ends_last_month_at_the_first_of_this_month_in_january():
    assert window_parse("lastmonth", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2026, 1, 1))


def test_it_reads_year_to_date_on_new_years_day_as_an_empty_window_of_complete_days():
    assert window_parse("ytd", today=date(2027, 1, 1)) == (date(2027, 1, 1), date(2027, 1, 1))
    assert window_parse("ytd", today=date(2027, 1, 2)) == (date(2027, 1, 1), date(2027, 1, 2))


def test_it_names_every_relative_window_in_the_message_for_a_window_it_cannot_read():
    with pytest.raises(ReportQueryError) as caught:
        parse(window="1y")
    assert all(name in caught.value.errors["window"][0] for name in ("7d", "30d", "90d", "mtd", "ytd", "lastmonth"))
    assert set(WINDOWS_RELATIVE) == {"7d", "30d", "90d", "mtd", "ytd", "lastmonth"}


def test_it_rejects_a_backwards_window_and_nonsense_with_messages_per_parameter():
    with pytest.raises(ReportQueryError) as caught:
        parse(window="2019-01-01,2018-12-01", cost_basis="nonsense", aggregate="tag:,planet", step="hour")
    errors = caught.value.errors
    assert "ends (2018-12-01) before it starts" in errors["window"][0]
    assert errors["cost_basis"] == ["'nonsense' is not a cost basis; use billed, effective, list."]
    assert any("names no tag key" in message for message in errors["aggregate"])
    assert any("'planet' is not an aggregate key" in message for message in errors["aggregate"])
    assert "step" in errors


def test_it_keeps_aggregate_order_and_repeatable_filters():
    query = parse(aggregate="tag:team,service", account=["123456789012", "210987654321"], charge_category="usage")
    assert query.aggregate == ("tag:team", "service")
    assert query.tag_keys == ("team",)
    assert query.filters == {"account": ("123456789012", "210987654321"), "charge_category": ("usage",)}


def test_it_rejects_malformed_filter_values():
    with pytest.raises(ReportQueryError) as caught:
        parse(charge_category="refund", currency="EURO")
    assert set(caught.value.errors) == {"charge_category", "currency"}
    assert "EURO" in caught.value.errors["currency"][0]


OCID = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq"


def test_it_takes_any_sub_account_id_and_the_provider_filter():
    """FOCUS sub-accounts are whatever the provider names them: an Oracle OCID, an Azure subscription GUID."""
    query = parse(account=[OCID, "5f9c3f7e-1d2a-4c7b-9e0f-0123456789ab"], provider="Oracle")
    assert query.filters == {"account": (OCID, "5f9c3f7e-1d2a-4c7b-9e0f-0123456789ab"), "provider": ("Oracle",)}


def test_it_offers_provider_and_invoice_issuer_keys():
    assert parse(aggregate="provider,invoice_issuer").aggregate == ("provider", "invoice_issuer")


def test_a_currency_is_narrowed_to_and_upper_cased():
    assert parse(currency="eur").currency == "EUR"
    assert parse().currency is None
    with pytest.raises(ReportQueryError) as caught:
        parse(currency=["EUR", "USD"])
    assert caught.value.errors == {"currency": ["Give currency once."]}


def test_tag_keys_run_to_1024_characters_with_colons():
    key = "k:" + "é" * 1022
    assert parse(aggregate=f"tag:{key}").tag_keys == (key,)
    with pytest.raises(ReportQueryError) as caught:
        parse(aggregate=f"tag:{key}x")
    assert "1024" in caught.value.errors["aggregate"][0]


def test_a_repeated_aggregate_is_one_key_per_value_so_a_tag_key_may_hold_a_comma():
    assert parse(aggregate=["tag:cost,centre", "service"]).aggregate == ("tag:cost,centre", "service")
    assert parse(aggregate=["tag:cost,centre", ""]).aggregate == ("tag:cost,centre",)
    assert parse(aggregate="tag:cost,service").aggregate == ("tag:cost", "service")


def test_it_defaults_to_thirty_days_billed_and_no_step():
    query = parse()
    assert (query.start, query.end, query.cost_basis, query.step, query.aggregate) == (
        date(2026, 2, 13),
        TODAY,
        "billed",
        None,
        (),
    )


def test_it_sums_money_exactly_beyond_28_digits():
    values = [Decimal("123456789012345678.00000000000000000001"), Decimal("0.00000000000000000002")]
    assert money_sum(values) == Decimal("123456789012345678.00000000000000000003")


def fractional_digits(text: str) -> int:
    return len(text.partition(".")[2])


def test_it_writes_stored_money_as_stored_and_rounds_computed_money_half_even_to_twenty_places():
    assert money_text(Decimal("0")) == "0"
    assert money_text(Decimal("3.75000000000000000000")) == "3.75000000000000000000"
    idle = Decimal("145714.862876193608980098818750000000000000000")
    assert money_text(idle) == "145714.86287619360898009882"
    assert money_text(Decimal("0.000000000000000000025")) == "0.00000000000000000002"
    assert money_text(Decimal("0.000000000000000000035")) == "0.00000000000000000004"
    assert money_text(Decimal("-0.000000000000000000035")) == "-0.00000000000000000004"


def test_it_rounds_thirds_so_that_they_still_make_the_whole():
    items, total = money_round_to_total([Decimal(1) / 3] * 3)
    assert total == Decimal(1)
    assert [money_text(item) for item in items] == [
        "0.33333333333333333334",
        "0.33333333333333333333",
        "0.33333333333333333333",
    ]


def test_it_leaves_stored_figures_alone_when_computed_ones_beside_them_are_corrected():
    stored = Decimal("12.34000000000000000001")
    items, total = money_round_to_total(
        [stored, Decimal("0.000000000000000000005"), Decimal("0.000000000000000000005")]
    )
    assert items[0] == stored
    assert money_sum(items) == total == Decimal("12.34000000000000000002")


unit = Decimal(1).scaleb(-MONEY_PLACES)
computed = st.builds(
    lambda numerator, denominator, places: (Decimal(numerator) / Decimal(denominator)).scaleb(-places),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=12),
)
stored = st.decimals(min_value=Decimal("-1e17"), max_value=Decimal("1e17"), places=MONEY_PLACES, allow_nan=False)


@given(values=st.lists(st.one_of(computed, stored), max_size=40))
def test_rounded_items_sum_to_the_rounded_total_exactly_and_stay_within_one_unit_of_exact(values):
    items, total = money_round_to_total(values)
    assert money_sum(items) == total
    assert abs(total - money_sum(values)) <= unit / 2
    for item, value in zip(items, values, strict=True):
        assert fractional_digits(money_text(item)) <= MONEY_PLACES
        assert abs(item - value) < unit
        if value.as_tuple().exponent >= -MONEY_PLACES:
            assert item == value, "a figure at the stored precision is never changed"
    assert fractional_digits(money_text(total)) <= MONEY_PLACES
