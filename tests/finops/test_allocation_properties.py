"""Properties of the Reports API over any rows and rules, checked against plain SQL on the same rows."""

from __future__ import annotations

import csv
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.models import AllocationRulesVersion, CostRecord, ExportDailyTotal
from finops.services.billing_import import billing_export_import

HEADER = ["BillingAccountId", "SubAccountId", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ServiceName",
          "BilledCost", "EffectiveCost", "Tags"]  # fmt: skip
WINDOW = "2026-01-01,2026-02-01"

amounts = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("100000"), places=19, allow_nan=False)
tag_values = st.sampled_from(["vision", "speech", "recsys", ""])
tags = st.fixed_dictionaries(
    {},
    optional={
        "team": tag_values,
        "env": st.sampled_from(["prod", "dev", ""]),
        "environment": st.sampled_from(["prod", "staging"]),
    },
)
line = st.tuples(
    st.integers(min_value=1, max_value=28),
    st.sampled_from(["111111111111", "222222222222"]),
    st.sampled_from(["Amazon EC2", "Amazon SageMaker", "Support", "Networking"]),
    st.sampled_from(["Usage", "Credit", "Tax"]),
    amounts,
    tags,
)
shared_rules = st.lists(
    st.fixed_dictionaries(
        {
            "match": st.sampled_from(
                [{"service": ["Support"]}, {"service": ["Networking"]}, {"account": ["222222222222"]}]
            ),
            "key": st.just("tag:team"),
            "method": st.sampled_from(["even", "proportional"]),
            "include_unallocated": st.booleans(),
        }
    ),
    max_size=2,
)


def load(lines) -> None:
    CostRecord.objects.all().delete()
    ExportDailyTotal.objects.all().delete()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "focus.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for day, account, service, category, amount, row_tags in lines:
                start = f"2026-01-{day:02d}T00:00:00Z"
                end = f"2026-01-{day + 1:02d}T00:00:00Z"
                text = format(amount, "f")
                writer.writerow(
                    ["999999999999", account, start, end, category, service, text, text, json.dumps(row_tags)]
                )
        billing_export_import(location=str(path))


def sql_by(expression: str) -> dict[str, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression} AS k, SUM(billed_cost) FROM finops_costrecord GROUP BY 1")
        return dict(cursor.fetchall())


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.django_db
@PROPERTY
@given(lines=st.lists(line, min_size=1, max_size=25))
def test_it_matches_plain_sql_per_tag_value_and_for_untagged_rows(viewer_api, lines):
    load(lines)
    body = viewer_api.get("/api/v1/costs/", {"window": WINDOW, "aggregate": "tag:team"}).json()
    items = {item["key"]["tag:team"]: Decimal(item["cost"]) for item in body["items"]}
    reference = sql_by("COALESCE(NULLIF(tags->>'team', ''), '__unallocated__')")
    assert items == reference
    lacking = sql_by("NOT (tags ? 'team') OR tags->>'team' = ''").get(True)
    assert items.get("__unallocated__") == lacking
    assert sum(items.values(), Decimal(0)) == Decimal(body["total"]) == sum(sql_by("1").values(), Decimal(0))


@pytest.mark.django_db
@PROPERTY
@given(lines=st.lists(line, min_size=1, max_size=25), rules=shared_rules, step=st.sampled_from([None, "day", "week"]))
def test_it_sums_allocated_items_to_the_total_exactly_for_any_rules(viewer_api, admin_user, lines, rules, step):
    load(lines)
    AllocationRulesVersion.objects.all().delete()
    AllocationRulesVersion.objects.create(number=1, document={"shared_costs": rules})
    params = {"window": WINDOW, "aggregate": "tag:team,account", **({"step": step} if step else {})}
    body = viewer_api.get("/api/v1/allocations/", params).json()
    assert body["rules_version"] == 1
    costs = [Decimal(item["cost"]) for item in body["items"]]
    assert sum(costs, Decimal(0)) == Decimal(body["total"]) == sum(sql_by("1").values(), Decimal(0))
    shared_total = sum((Decimal(item["shared_cost"]) for item in body["items"]), Decimal(0))
    conditions = [
        "service_name = ANY(%s)" if "service" in rule["match"] else "sub_account_id = ANY(%s)" for rule in rules
    ]
    params = [next(iter(rule["match"].values())) for rule in rules]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(billed_cost), 0) FROM finops_costrecord WHERE {' OR '.join(conditions) or 'false'}",
            params,
        )
        matched = cursor.fetchone()[0]
    # Shared rows move between items but never appear or vanish: their cost is the shared total.
    assert shared_total == matched


@pytest.mark.django_db
@PROPERTY
@given(lines=st.lists(line, min_size=1, max_size=25))
def test_it_applies_an_alias_exactly_like_sql_coalescing_the_two_keys(viewer_api, lines):
    load(lines)
    AllocationRulesVersion.objects.all().delete()
    AllocationRulesVersion.objects.create(number=3, document={"aliases": {"env": "environment"}})
    body = viewer_api.get("/api/v1/allocations/", {"window": WINDOW, "aggregate": "tag:environment"}).json()
    items = {item["key"]["tag:environment"]: Decimal(item["cost"]) for item in body["items"]}
    reference = sql_by("COALESCE(NULLIF(tags->>'environment', ''), NULLIF(tags->>'env', ''), '__unallocated__')")
    assert items == reference
    assert body["rules_version"] == 3
