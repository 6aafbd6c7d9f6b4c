"""The allocation engine, pure: tag rules and shared-cost splits on DataFrames."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from finops.allocation.engine import ROW_COLUMNS, allocate, split_amount
from finops.allocation.rules import RulesError, rules_parse, tag_columns

D = Decimal


def rows(*entries: dict) -> pd.DataFrame:
    defaults = {"period": None, "account": "111111111111", "service": "Amazon EC2", "region": "us-east-1",
                "usage_type": "BoxUsage", "resource": "", "charge_category": "usage", "tags": {},
                "cost": D(0)}  # fmt: skip
    return pd.DataFrame([{**defaults, **entry} for entry in entries], columns=list(ROW_COLUMNS))


def by_key(items: pd.DataFrame, key: str) -> dict[str, tuple[Decimal, Decimal]]:
    return {record[key]: (record["cost"], record["shared_cost"]) for record in items.to_dict("records")}


def test_it_matches_tag_keys_exactly_as_stored_without_rules():
    frame = rows({"tags": {"Team": "vision"}, "cost": D(1)}, {"tags": {"team": "speech"}, "cost": D(2)})
    items = allocate(frame, aggregate=("tag:team",), rules=rules_parse({}))
    assert by_key(items, "tag:team") == {"speech": (D(2), D(0)), "__unallocated__": (D(1), D(0))}


def test_it_folds_key_case_and_reads_aliases_with_the_target_winning():
    rules = rules_parse({"fold_key_case": True, "aliases": {"env": "environment"}})
    frame = rows(
        {"tags": {"ENV": "prod"}},
        {"tags": {"Environment": "dev"}},
        {"tags": {"env": "prod", "environment": "staging"}},
        {"tags": {"env": ""}},
    )
    assert list(tag_columns(frame, ["environment"], rules)["tag:environment"]) == [
        "prod",
        "dev",
        "staging",
        "__unallocated__",
    ]


def test_it_maps_values_and_fills_virtual_tags_only_where_the_key_is_missing():
    rules = rules_parse(
        {
            "value_mappings": [{"key": "team", "from": "Vision", "to": "vision", "ignore_case": True}],
            "virtual_tags": [
                {"key": "team", "value": "platform", "match": {"service": ["AWS Support (Business)"]}},
                {"key": "team", "value": "data", "match": {"resource_pattern": r"^arn:aws:s3:::lake-"}},
            ],
        }
    )
    frame = rows(
        {"tags": {"team": "VISION"}},
        {"service": "AWS Support (Business)"},
        {"service": "AWS Support (Business)", "tags": {"team": "speech"}},
        {"resource": "arn:aws:s3:::lake-raw"},
    )
    assert list(tag_columns(frame, ["team"], rules)["tag:team"]) == ["vision", "platform", "speech", "data"]


def test_it_reports_every_problem_in_a_rules_document():
    with pytest.raises(RulesError) as caught:
        rules_parse(
            {
                "aliases": {"env": "environment", "environment": "stage"},
                "virtual_tags": [{"key": "team", "value": "x", "match": {"planet": ["mars"]}}],
                "shared_costs": [{"key": "team", "method": "fixed", "percentages": {"a": 60}, "match": {}}],
                "colours": {},
            }
        )
    errors = caught.value.errors
    assert "aliases.env" in errors
    assert "virtual_tags[0].match.planet" in errors
    assert "shared_costs[0].key" in errors and "shared_costs[0].percentages" in errors
    assert "shared_costs[0].match" in errors and "colours" in errors


def test_it_splits_shared_cost_in_proportion_to_direct_cost():
    rules = rules_parse({"shared_costs": [{"name": "support", "match": {"service": ["Support"]}, "key": "tag:team"}]})
    frame = rows(
        {"tags": {"team": "vision"}, "cost": D("30")},
        {"tags": {"team": "speech"}, "cost": D("10")},
        {"cost": D("5")},
        {"service": "Support", "cost": D("8")},
    )
    items = allocate(frame, aggregate=("tag:team",), rules=rules)
    assert by_key(items, "tag:team") == {
        "speech": (D("12"), D("2")),
        "vision": (D("36"), D("6")),
        "__unallocated__": (D("5"), D("0")),
    }


def test_it_rounds_shares_to_the_stored_unit_and_gives_the_remainder_to_the_largest():
    shares = split_amount(D("1"), {"a": D(1), "b": D(1), "c": D(1)})
    assert shares == {
        "a": D("0.33333333333333333334"),
        "b": D("0.33333333333333333333"),
        "c": D("0.33333333333333333333"),
    }
    assert sum(shares.values()) == D("1")
    negative = split_amount(D("-1"), {"a": D(1), "b": D(2)})
    assert sum(negative.values()) == D("-1") and negative["b"] == D("-0.66666666666666666667")


def test_it_splits_evenly_when_direct_costs_are_zero_or_credits():
    rules = rules_parse(
        {"shared_costs": [{"match": {"service": ["Net"]}, "key": "tag:team", "method": "proportional"}]}
    )
    frame = rows(
        {"tags": {"team": "a"}, "cost": D("-4")},
        {"tags": {"team": "b"}, "cost": D("0")},
        {"service": "Net", "cost": D("10")},
    )
    assert by_key(allocate(frame, aggregate=("tag:team",), rules=rules), "tag:team") == {
        "a": (D("1"), D("5")),
        "b": (D("5"), D("5")),
    }


def test_it_splits_by_fixed_percentages_per_period():
    rules = rules_parse(
        {"shared_costs": [{"match": {"service": ["Net"]}, "key": "tag:team", "method": "fixed",
                           "percentages": {"a": 75, "b": 25}}]}
    )  # fmt: skip
    frame = rows(
        {"period": date(2026, 1, 1), "service": "Net", "cost": D("4")},
        {"period": date(2026, 1, 2), "service": "Net", "cost": D("8")},
    )
    items = allocate(frame, aggregate=("tag:team",), rules=rules)
    got = {(record["tag:team"], record["period"]): record["cost"] for record in items.to_dict("records")}
    assert got == {("a", date(2026, 1, 1)): D("3"), ("b", date(2026, 1, 1)): D("1"),
                   ("a", date(2026, 1, 2)): D("6"), ("b", date(2026, 1, 2)): D("2")}  # fmt: skip


def test_it_keeps_shared_rows_in_their_items_when_the_report_does_not_split_by_the_rule_key():
    rules = rules_parse({"shared_costs": [{"match": {"service": ["Support"]}, "key": "tag:team"}]})
    frame = rows({"service": "Support", "cost": D("8")}, {"service": "EC2", "cost": D("2"), "tags": {"team": "a"}})
    items = allocate(frame, aggregate=("service",), rules=rules)
    assert by_key(items, "service") == {"EC2": (D("2"), D("0")), "Support": (D("8"), D("8"))}


def test_it_keeps_other_keys_of_the_shared_rows():
    rules = rules_parse({"shared_costs": [{"match": {"service": ["Support"]}, "key": "tag:team", "method": "even"}]})
    frame = rows(
        {"service": "EC2", "cost": D("2"), "tags": {"team": "a"}},
        {"service": "EC2", "cost": D("2"), "tags": {"team": "b"}},
        {"service": "Support", "cost": D("6")},
    )
    items = allocate(frame, aggregate=("tag:team", "service"), rules=rules)
    got = {(r["tag:team"], r["service"]): (r["cost"], r["shared_cost"]) for r in items.to_dict("records")}
    assert got == {("a", "EC2"): (D(2), D(0)), ("b", "EC2"): (D(2), D(0)),
                   ("a", "Support"): (D(3), D(3)), ("b", "Support"): (D(3), D(3))}  # fmt: skip
