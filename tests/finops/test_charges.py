"""Kinds of charge (usage, fee, credit) and the Overview's ranges of complete days."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from finops.charges import CREDIT, FEE, USAGE, charge_kind
from finops.importers.cur import LINE_ITEM_TYPES
from finops.reports import report_query_parse
from finops.selectors.costs import CHARGE_KIND, cost_rows
from finops.selectors.overview import DayRange, month_to_date_ranges
from tests.finops.cost_lines import cost_explorer_cells, export_lines

CUR_FEES = {"Tax", "Fee", "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"}
CUR_CREDITS = {"Credit", "Refund"}


def test_it_makes_every_cur_fee_line_item_type_a_fee_and_usage_and_discounts_usage():
    for line_item_type, category in LINE_ITEM_TYPES.items():
        kind = charge_kind(charge_category=category, service_name="Amazon Elastic Compute Cloud")
        expected = FEE if line_item_type in CUR_FEES else CREDIT if line_item_type in CUR_CREDITS else USAGE
        assert kind == expected, line_item_type


def test_it_recognises_fees_by_service_where_the_category_says_usage_or_is_unknown():
    for service in ("Tax", "AWS Support (Business)", "AWS Support (Enterprise)", "Savings Plans for AWS Compute usage"):
        assert charge_kind(charge_category="usage", service_name=service) == FEE
        assert charge_kind(charge_category=None, service_name=service) == FEE
    for service in ("Amazon SageMaker", "Amazon Elastic Compute Cloud - Compute", "", "Taxonomy Service"):
        assert charge_kind(charge_category=None, service_name=service) == USAGE
    assert charge_kind(charge_category="purchase", service_name="Amazon SageMaker") == FEE
    assert charge_kind(charge_category="adjustment", service_name="Amazon S3") == CREDIT


@pytest.mark.django_db
def test_the_sql_gives_each_row_the_kind_the_python_rule_gives():
    day = date(2026, 11, 2)
    lines = [
        {"category": category, "service": service, "cost": str(index + 1), "day": day}
        for index, (category, service) in enumerate(
            [
                ("usage", "Amazon SageMaker"),
                ("usage", "AWS Support (Developer)"),
                ("tax", "Tax"),
                ("purchase", "Amazon Elastic Compute Cloud - Compute"),
                ("credit", "Amazon SageMaker"),
                ("adjustment", "Amazon Simple Storage Service"),
                ("usage", "Savings Plans for AWS Compute usage"),
            ]
        )
    ]
    export_lines(lines)
    cells = [
        {"day": day, "cost": "100", "account": "333333333333", "service": "Tax"},
        {"day": day, "cost": "200", "account": "333333333333", "service": "Amazon SageMaker"},
        {"day": day, "cost": "400", "account": "333333333333", "service": "AWS Support (Business)"},
    ]
    cost_explorer_cells(cells)
    expected = {USAGE: Decimal(0), FEE: Decimal(0), CREDIT: Decimal(0)}
    for line in lines:
        expected[charge_kind(charge_category=line["category"], service_name=line["service"])] += Decimal(line["cost"])
    for cell in cells:
        expected[charge_kind(charge_category=None, service_name=cell["service"])] += Decimal(cell["cost"])
    query = report_query_parse({"window": ["2026-11-01,2026-12-01"]}, today=date(2026, 12, 3))
    rows = cost_rows(query=dataclasses.replace(query, aggregate=(CHARGE_KIND,)))
    assert (
        {row.key[CHARGE_KIND]: row.cost for row in rows}
        == expected
        == {USAGE: Decimal(201), FEE: Decimal(2 + 3 + 4 + 7 + 100 + 400), CREDIT: Decimal(5 + 6)}
    )


@pytest.mark.parametrize(
    ("today", "this_month", "last_month"),
    [
        (date(2026, 12, 3), "December 1–2", "November 1–2"),
        (date(2026, 12, 2), "December 1", "November 1"),
        (date(2026, 12, 1), "December: no complete day yet", "November: no complete day yet"),
        (date(2027, 1, 3), "January 1–2", "December 1–2"),
        (date(2027, 3, 31), "March 1–30", "February 1–28"),
        (date(2026, 11, 1), "November: no complete day yet", "October: no complete day yet"),
    ],
)
def test_it_names_the_complete_days_a_month_to_date_holds(today, this_month, last_month):
    current, previous = month_to_date_ranges(today)
    assert (current.label, previous.label) == (this_month, last_month)
    assert current.days == today.day - 1
    assert current.end == today


def test_it_names_a_range_across_a_month_end_by_both_months():
    assert DayRange(date(2026, 11, 26), date(2026, 12, 3)).label == "November 26 – December 2"
    assert DayRange(date(2026, 12, 27), date(2027, 1, 3)).label == "December 27 – January 2"
