"""Allocations from the rollups (issue 16, items 3 and 4): the rows come from the tag rollup or the daily rollup
whenever the report's keys and the rules allow, from the lines otherwise, and the allocation is the same to the
last digit whichever they come from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.allocation.engine import allocate
from finops.allocation.rules import rules_parse
from finops.models import CostRecord, ExportDailyTotal
from finops.reports import report_query_parse
from finops.selectors.allocations import allocation_rows_frame, rows_source
from finops.services.allocation_rules import allocation_rules_publish
from finops.services.billing_import import billing_export_import
from tests.finops.test_cost_rollup import focus_file

MONTHS = {"2026-01": "2026-02", "2026-02": "2026-03", "2026-03": "2026-04"}
TABLES = ("finops_costdailyrollup", "finops_costtagrollup", "finops_costrecord")
SERVICES = ("Amazon SageMaker", "Amazon EC2", "AWS Support")

RULES = {
    "none": {},
    "mapped values": {"value_mappings": [{"key": "team", "from": "Vision", "to": "vision", "ignore_case": True}]},
    "support shared by team": {
        "shared_costs": [{"name": "support", "match": {"service": "AWS Support"}, "key": "tag:team"}]
    },
    "account shared evenly": {
        "shared_costs": [
            {"name": "shared account", "match": {"account": ["333333333333"]}, "key": "tag:team", "method": "even"}
        ]
    },  # fmt: skip
    "tax shared fixed": {
        "shared_costs": [
            {
                "name": "tax",
                "match": {"charge_category": "tax"},
                "key": "tag:team",
                "method": "fixed",
                "percentages": {"vision": 60, "search": 40},
            }
        ]
    },  # fmt: skip
    "virtual team by service": {
        "virtual_tags": [{"key": "team", "value": "platform", "match": {"service": "Amazon EC2"}}]
    },
    "virtual team by account": {
        "virtual_tags": [{"key": "team", "value": "platform", "match": {"account": "333333333333"}}]
    },
    "virtual team by resource": {
        "virtual_tags": [{"key": "team", "value": "platform", "match": {"resource_pattern": "r-1"}}]
    },
    "alias": {"aliases": {"squad": "team"}},
    "folded keys": {"fold_key_case": True},
}

line = st.fixed_dictionaries(
    {
        "month": st.sampled_from(sorted(MONTHS)),
        "day": st.integers(1, 28),
        "account": st.sampled_from(["111111111111", "222222222222", "333333333333"]),
        "service": st.sampled_from(SERVICES),
        "category": st.sampled_from(["Usage", "Usage", "Credit", "Tax"]),
        "tags": st.sampled_from(
            [
                {},
                {"team": "vision"},
                {"team": "Vision"},
                {"team": ""},
                {"team": "search", "project": "atlas"},
                {"squad": "search"},
                {"Team": "ads"},
                {"project": "atlas"},
            ]
        ),  # fmt: skip
        "cost": st.decimals(min_value=Decimal("-100"), max_value=Decimal("1e5"), places=10, allow_nan=False),
    }
)


def allocated(query, rules, *, from_rollups: bool) -> pd.DataFrame:
    frame, _ = allocation_rows_frame(
        query=query,
        rules=rules if from_rollups else None,
        aggregate=query.aggregate if from_rollups else (),
        only_needed=from_rollups,
    )
    items = allocate(frame, aggregate=query.aggregate, rules=rules)
    return items.sort_values([*query.aggregate, "period"], kind="stable").reset_index(drop=True)


def query_of(window: str, step: str | None, aggregate: str):
    params = {"window": [window], "aggregate": [aggregate]}
    if step:
        params["step"] = [step]
    return report_query_parse(params, today=date(2026, 6, 1))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(line, min_size=1, max_size=30),
    rules_name=st.sampled_from(sorted(RULES)),
    window=st.sampled_from(
        ["2026-01-01,2026-04-01", "2026-01-10,2026-03-20", "2026-02-01,2026-03-01", "2026-01-05,2026-01-25"]
    ),  # fmt: skip
    step=st.sampled_from([None, "month", "week", "day"]),
    aggregate=st.sampled_from(["tag:team", "account", "tag:team,service", "tag:project", "charge_category"]),
)
def test_allocations_from_the_rollups_equal_allocations_from_the_lines(
    tmp_path, lines, rules_name, window, step, aggregate
):
    CostRecord.objects.all().delete()
    ExportDailyTotal.objects.all().delete()
    billing_export_import(location=str(focus_file(tmp_path / "lines.csv", lines)))
    rules = rules_parse(RULES[rules_name])
    query = query_of(window, step, aggregate)

    from_rollups = allocated(query, rules, from_rollups=True)
    from_lines = allocated(query, rules, from_rollups=False)

    assert from_rollups.to_dict("records") == from_lines.to_dict("records")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rules_name", "aggregate", "expected"),
    [
        ("none", "tag:team", "tags"),
        ("none", "account", "tags"),
        ("mapped values", "tag:team", "tags"),
        ("account shared evenly", "tag:team", "tags"),
        ("tax shared fixed", "tag:team", "tags"),
        ("virtual team by account", "tag:team", "tags"),
        ("support shared by team", "tag:team", "daily"),
        ("virtual team by service", "tag:team", "daily"),
        ("none", "tag:team,service", "daily"),
        ("none", "tag:team,tag:project", "daily"),
        ("alias", "tag:team", "lines"),  # squad is not a key the rollups hold
        ("folded keys", "tag:team", "lines"),  # Team, TEAM, ... are
        ("virtual team by resource", "tag:team", "lines"),
        ("none", "tag:owner", "lines"),
        ("none", "resource", "lines"),
    ],
)
def test_the_rows_come_from_the_smallest_table_that_holds_what_the_rules_look_at(rules_name, aggregate, expected):
    query = query_of("2026-01-01,2026-04-01", None, aggregate)

    assert rows_source(query, rules_parse(RULES[rules_name]), query.aggregate)[0] == expected


@pytest.fixture
def quarter(tmp_path, db):
    lines = [
        {"month": month, "day": day, "account": account, "service": service, "category": "Usage",
         "tags": tags, "cost": Decimal(day) / 7}
        for month in MONTHS for day in (1, 9, 28) for account in ("111111111111", "222222222222")
        for service, tags in (("Amazon SageMaker", {"team": "vision"}), ("Amazon EC2", {}),
                              ("AWS Support", {"team": "search"}))
    ]  # fmt: skip
    billing_export_import(location=str(focus_file(tmp_path / "quarter.csv", lines)))


def tables_read(client, path: str, **params) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    return response.json(), [name for name in TABLES if f"{name} " in sql or f'"{name}"' in sql]


@pytest.mark.parametrize("window", ["2026-01-01,2026-04-01", "2026-01-05,2026-03-10"])
def test_allocations_by_team_read_the_tag_rollup_and_no_lines(quarter, viewer_api, window):
    body, tables = tables_read(viewer_api, "/api/v1/allocations", window=window, aggregate="tag:team")

    assert tables == ["finops_costtagrollup"]
    with connection.cursor() as cursor:
        start, end = window.split(",")
        cursor.execute(
            "SELECT COALESCE(NULLIF(tags ->> 'team', ''), '__unallocated__'), SUM(billed_cost) FROM finops_costrecord"
            " WHERE charge_period_start >= %s AND charge_period_start < %s GROUP BY 1",
            [start, end],
        )
        expected = {team: f"{cost:f}" for team, cost in cursor.fetchall()}
    got = {item["key"]["tag:team"]: item["cost"] for item in body["items"]}
    assert {team: Decimal(cost) for team, cost in got.items()} == {
        team: Decimal(cost) for team, cost in expected.items()
    }


def test_rules_that_match_services_read_the_daily_rollup_and_still_no_lines(quarter, viewer_api, operator):
    allocation_rules_publish(document=RULES["support shared by team"], user=operator)

    body, tables = tables_read(viewer_api, "/api/v1/allocations", window="2026-01-01,2026-04-01", aggregate="tag:team")

    assert tables == ["finops_costdailyrollup"]
    shared = {item["key"]["tag:team"]: Decimal(item["shared_cost"]) for item in body["items"]}
    # Support (tagged search) is shared across the teams with direct cost: vision alone (untagged EC2 gets none).
    support = sum(record.billed_cost for record in CostRecord.objects.filter(service_name="AWS Support"))
    assert support > 0 and shared == {"vision": support, "__unallocated__": Decimal(0)}


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(line, min_size=1, max_size=30),
    rules_name=st.sampled_from(sorted(RULES)),
    window=st.sampled_from(["2026-01-01,2026-04-01", "2026-01-10,2026-03-20"]),
    key=st.sampled_from(["team", "project", "owner"]),
)
def test_tag_coverage_from_the_rollups_equals_tag_coverage_from_the_lines(tmp_path, lines, rules_name, window, key):
    from finops.allocation.coverage import tag_coverage, untagged_resources
    from finops.selectors.reports import tag_coverage_report

    CostRecord.objects.all().delete()
    ExportDailyTotal.objects.all().delete()
    billing_export_import(location=str(focus_file(tmp_path / "lines.csv", lines)))
    allocation_rules_publish(document=RULES[rules_name], user=None)
    rules = rules_parse(RULES[rules_name])

    report = tag_coverage_report(params={"window": [window]}, key=key, today=date(2026, 6, 1))
    frame, _ = allocation_rows_frame(query=report.query)

    assert report.coverage.to_dict("records") == tag_coverage(frame, key=key, rules=rules).to_dict("records")
    assert report.untagged.to_dict("records") == untagged_resources(frame, key=key, rules=rules).to_dict("records")
