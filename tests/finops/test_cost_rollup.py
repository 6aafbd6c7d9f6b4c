"""The exact daily rollup (issue 16, item 3): equal to a GROUP BY of the stored lines after any sequence of imports
and re-imports, read by reports whose keys it holds, and never by those it does not (resources, other tag keys)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.models import CostDailyRollup, CostRecord, CostRollupState, CostTagRollup, ExportDailyTotal
from finops.rollup_sql import GROUPED as ROLLUP_COLUMNS
from finops.services.billing_import import billing_export_import
from tests.finops.importers.support import FOCUS_HEADER, focus_row, write_csv

MONTHS = {"2026-01": "2026-02", "2026-02": "2026-03"}
GROUPED = ", ".join(ROLLUP_COLUMNS)


def rollup_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, {GROUPED}, tags, billed_cost, effective_cost, list_cost, list_cost_missing, lines"
            " FROM finops_costdailyrollup"
        )
        return sorted(cursor.fetchall(), key=repr)


def raw_grouped(tag_keys: list[str]) -> list[tuple]:
    """The same sums straight from the lines, written independently of the service's SQL."""
    tags = ", ".join(f"'{key}', tags -> '{key}'" for key in tag_keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (charge_period_start AT TIME ZONE 'UTC')::date AS day, {GROUPED}, jsonb_build_object({tags}) AS t,"
            " sum(billed_cost), sum(effective_cost), sum(list_cost), count(*) FILTER (WHERE list_cost IS NULL),"
            f" count(*) FROM finops_costrecord GROUP BY day, {GROUPED}, t"
        )
        return sorted(cursor.fetchall(), key=repr)


TAG_GROUPED = (
    "source, billing_account_id, billing_period_start, sub_account_id, provider_name, charge_category, billing_currency"
)


def tag_rollup_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT grain, period, {TAG_GROUPED}, tag_key, tag_value, billed_cost, effective_cost, list_cost,"
            " list_cost_missing, lines FROM finops_costtagrollup"
        )
        return sorted(cursor.fetchall(), key=repr)


def raw_tag_grouped(tag_keys: list[str]) -> list[tuple]:
    """The tag rollup's sums straight from the lines, per day and per month, for each tag key."""
    rows = []
    with connection.cursor() as cursor:
        day = "(charge_period_start AT TIME ZONE 'UTC')::date"
        month = "date_trunc('month', charge_period_start AT TIME ZONE 'UTC')::date"
        for grain, period in (("day", day), ("month", month)):
            for key in tag_keys:
                cursor.execute(
                    f"SELECT %s, {period} AS p, {TAG_GROUPED}, %s, tags ->> %s AS v, sum(billed_cost),"
                    " sum(effective_cost), sum(list_cost), count(*) FILTER (WHERE list_cost IS NULL), count(*)"
                    f" FROM finops_costrecord GROUP BY p, {TAG_GROUPED}, v",
                    [grain, key, key],
                )
                rows += cursor.fetchall()
    return sorted(rows, key=repr)


line = st.fixed_dictionaries(
    {
        "month": st.sampled_from(sorted(MONTHS)),
        "day": st.integers(1, 28),
        "account": st.sampled_from(["111111111111", "222222222222"]),
        "service": st.sampled_from(["Amazon SageMaker", "Amazon EC2", ""]),
        "category": st.sampled_from(["Usage", "Credit", "Tax"]),
        "tags": st.sampled_from([{}, {"team": "vision"}, {"team": ""}, {"team": "search", "project": "atlas"}]),
        "cost": st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1e6"), places=10, allow_nan=False),
        "list": st.one_of(st.just(""), st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False)),
    }
)


def focus_file(path, lines: list[dict]):
    """A FOCUS file of the lines (month, day, account, service, category, tags, cost, optional list cost)."""
    rows = [
        focus_row(
            SubAccountId=item["account"],
            BillingPeriodStart=f"{item['month']}-01T00:00:00Z",
            BillingPeriodEnd=f"{month_after(item['month'])}-01T00:00:00Z",
            ChargePeriodStart=f"{item['month']}-{item['day']:02d}T05:00:00Z",
            ChargePeriodEnd=f"{item['month']}-{item['day']:02d}T06:00:00Z",
            ChargeCategory=item["category"],
            ServiceName=item["service"],
            ResourceId=f"r-{index}",
            BilledCost=str(item["cost"]),
            EffectiveCost=str(item["cost"]),
            ListCost=str(item.get("list", "")),
            Tags=json.dumps(item["tags"]),
        )
        for index, item in enumerate(lines)
    ]
    return write_csv(path, rows, FOCUS_HEADER)


def month_after(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


@pytest.mark.django_db
@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(deliveries=st.lists(st.lists(line, min_size=1, max_size=12), min_size=1, max_size=4), data=st.data())
def test_the_rollup_equals_a_group_by_of_the_lines_after_any_imports_and_re_imports(tmp_path, deliveries, data):
    CostRecord.objects.all().delete()
    ExportDailyTotal.objects.all().delete()
    tag_keys = CostRollupState.current_tag_keys()
    for number, lines in enumerate(deliveries):
        # Sometimes a re-delivery of an earlier file with some lines restated or dropped.
        if number and data.draw(st.booleans(), label="restate an earlier delivery"):
            lines = [{**item, "cost": item["cost"] + 1} for item in deliveries[number - 1][::2]] or lines
        billing_export_import(location=str(focus_file(tmp_path / f"delivery-{number}.csv", lines)))
        assert rollup_rows() == raw_grouped(tag_keys)
        assert tag_rollup_rows() == raw_tag_grouped(tag_keys)
    assert CostDailyRollup.objects.exists() and CostTagRollup.objects.exists()


@pytest.fixture
def two_months(tmp_path, db):
    lines = [
        {"month": month, "day": day, "account": account, "service": service, "category": "Usage",
         "tags": tags, "cost": Decimal(day) / 7, "list": ""}
        for month in MONTHS for day in (1, 2, 15) for account in ("111111111111", "222222222222")
        for service, tags in (("Amazon SageMaker", {"team": "vision", "owner": "ana"}), ("Amazon EC2", {}))
    ]  # fmt: skip
    billing_export_import(location=str(focus_file(tmp_path / "two-months.csv", lines)))


TABLES = ("finops_costdailyrollup", "finops_costtagrollup", "finops_costrecord")


def costs(client, path="/api/v1/costs", **params) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"window": "2026-01-01,2026-03-01", **params})
    assert response.status_code == 200, response.content
    tables = [
        name for query in queries.captured_queries for name in TABLES
        if f"{name} " in query["sql"] or f'"{name}"' in query["sql"]
    ]  # fmt: skip
    return response.json(), tables


def totals(body: dict) -> dict:
    return {tuple(item["key"].values()) if isinstance(item["key"], dict) else item["key"]: item["cost"]
            for item in body["items"]}  # fmt: skip


@pytest.mark.parametrize(
    ("aggregate", "rollup"),
    [("service", "finops_costdailyrollup"), ("tag:team", "finops_costtagrollup"), ("account", "finops_costtagrollup"),
     ("charge_category", "finops_costtagrollup"), ("provider", "finops_costtagrollup")],
)  # fmt: skip
def test_reports_the_rollup_holds_read_it_and_not_the_lines(two_months, viewer_api, aggregate, rollup):
    body, tables = costs(viewer_api, aggregate=aggregate)

    assert rollup in tables and "finops_costrecord" not in tables
    # The same report from the lines: a key the rollup lacks (the resource) forces them.
    raw, raw_tables = costs(viewer_api, aggregate=[aggregate, "resource"])
    assert "finops_costrecord" in raw_tables
    assert body["total"] == raw["total"]


def test_resource_keys_and_other_tag_keys_read_the_lines(two_months, viewer_api):
    for aggregate in ("resource", "tag:owner"):
        body, tables = costs(viewer_api, aggregate=aggregate)
        assert "finops_costrecord" in tables and "finops_costdailyrollup" not in tables
        assert "finops_costtagrollup" not in tables
    owners = totals(costs(viewer_api, aggregate="tag:owner")[0])
    assert set(owners) == {("ana",), ("__unallocated__",)}


def test_rebuilding_with_new_tag_keys_serves_them_from_the_rollup_with_the_same_figures(two_months, viewer_api):
    before, _ = costs(viewer_api, aggregate="tag:owner")

    with override_settings(COSTPLANE_ALLOCATION_TAG_KEYS=["owner"]):
        call_command("rollups_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
        after, tables = costs(viewer_api, aggregate="tag:owner")

    assert CostRollupState.current_tag_keys() == ["owner"]
    assert "finops_costtagrollup" in tables and "finops_costrecord" not in tables
    assert after["items"] == before["items"] and after["total"] == before["total"]
    assert rollup_rows() == raw_grouped(["owner"])
    assert tag_rollup_rows() == raw_tag_grouped(["owner"])
