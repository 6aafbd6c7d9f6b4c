from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.reports import ReportQueryError, money_sum, report_query_parse, window_parse

TODAY = date(2026, 3, 15)


def parse(**params):
    return report_query_parse({name: value if isinstance(value, list) else [value] for name, value in params.items()},
                              today=TODAY)  # fmt: skip


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ("7d", date(2026, 3, 8), date(2026, 3, 15)),
        ("30d", date(2026, 2, 13), date(2026, 3, 15)),
        ("mtd", date(2026, 3, 1), date(2026, 3, 15)),
        ("lastmonth", date(2026, 2, 1), date(2026, 3, 1)),
        ("2025-12-01,2026-01-01", date(2025, 12, 1), date(2026, 1, 1)),
    ],
)
def test_it_reads_every_window_form_as_utc_days_with_an_exclusive_end(window, start, end):
    assert window_parse(window, today=TODAY) == (start, end)


def test_it_ends_last_month_at_the_first_of_this_month_in_january():
    assert window_parse("lastmonth", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2026, 1, 1))


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
        parse(account="12345", charge_category="refund")
    assert set(caught.value.errors) == {"account", "charge_category"}


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
