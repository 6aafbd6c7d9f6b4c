"""A re-delivered month is replaced by anti-joins that PostgreSQL runs once over each table: the plan property of
issue 16 (item 1). Over 100,000 staged rows, no node of the replace's plans scans the staging table or CostRecord
once per row of the other side (a nested loop's inner side, a subplan run per row), whatever the timings."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection, transaction
from django.db.models import Sum

from finops.importers import open_billing_file
from finops.models import CostRecord, IngestionRun
from finops.services.billing_import import billing_export_import
from finops.services.billing_writer import (
    STAGING,
    ImportState,
    batch_copy,
    batch_prepare,
    staging_finish,
    staging_merge_statements,
    staging_prepare,
    staging_rows_count,
)

pytestmark = pytest.mark.django_db

ROWS = 100_000
CHANGED = 100
WATCHED = (STAGING, CostRecord._meta.db_table)  # partitions of CostRecord are named after it


def focus_parquet(path, *, changed: int = 0) -> tuple[object, Decimal]:
    """ROWS hourly lines of one March 2024 payer (the first `changed` lines cost a cent more); and their total."""
    hours = np.arange(ROWS) % (31 * 24)
    start = np.datetime64("2024-03-01T00:00:00", "us") + hours.astype("timedelta64[h]")
    cents = 100 + np.arange(ROWS) % 997 + (np.arange(ROWS) < changed)
    costs = [f"{cent // 100}.{cent % 100:02d}" for cent in cents.tolist()]
    utc = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "BillingAccountId": ["000123456789"] * ROWS,
            "SubAccountId": [f"00098765432{number % 3}" for number in range(ROWS)],
            "BillingPeriodStart": pa.array(np.full(ROWS, np.datetime64("2024-03-01", "us")), utc),
            "BillingPeriodEnd": pa.array(np.full(ROWS, np.datetime64("2024-04-01", "us")), utc),
            "ChargePeriodStart": pa.array(start, utc),
            "ChargePeriodEnd": pa.array(start + np.timedelta64(1, "h"), utc),
            "ChargeCategory": ["Usage"] * ROWS,
            "ServiceName": ["Amazon Elastic Compute Cloud"] * ROWS,
            "RegionId": ["us-east-1"] * ROWS,
            "ResourceId": [f"i-{number // 744:017x}" for number in range(ROWS)],
            "PricingQuantity": ["1"] * ROWS,
            "PricingUnit": ["Hours"] * ROWS,
            "BilledCost": costs,
            "EffectiveCost": costs,
            "ListCost": costs,
            "BillingCurrency": ["USD"] * ROWS,
            "Tags": ['{"team": "vision"}'] * ROWS,
        }
    )
    pq.write_table(table, path)
    return path, sum(int(cent) for cent in cents.tolist()) * Decimal("0.01")


def plan_nodes(node: dict, *, inner: bool = False):
    """Every node of a JSON plan with whether it runs on a nested loop's inner side (once per outer row)."""
    yield node, inner
    children = node.get("Plans", [])
    for position, child in enumerate(children):
        repeated = (
            inner
            or (node["Node Type"] == "Nested Loop" and position == 1)
            or (child.get("Parent Relationship") == "SubPlan" and "hashed" not in child.get("Subplan Name", ""))
        )
        yield from plan_nodes(child, inner=repeated)


def per_row_scans(plan: dict) -> list[str]:
    """The scans of the staging table or CostRecord that the plan runs once per row of something else."""
    found = []
    for node, inner in plan_nodes(plan["Plan"]):
        relation = node.get("Relation Name", "")
        if not relation.startswith(WATCHED) or node["Node Type"] == "ModifyTable":
            continue
        if inner or node.get("Actual Loops", 1) > 1:
            found.append(f"{node['Node Type']} on {relation} (loops {node.get('Actual Loops', '?')})")
    return found


def explain(cursor, statement: str, parameters: list, *, analyze: bool) -> dict:
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    cursor.execute(f"EXPLAIN ({options}) {statement}", parameters)
    (document,) = cursor.fetchone()
    return (json.loads(document) if isinstance(document, str) else document)[0]


def test_the_replace_of_a_stored_month_scans_each_table_once(tmp_path):
    first, _ = focus_parquet(tmp_path / "march.parquet")
    billing_export_import(location=str(first))
    restated, total = focus_parquet(tmp_path / "march-restated.parquet", changed=CHANGED)
    run = IngestionRun.objects.create(source=IngestionRun.Source.FILE)
    state = ImportState(run=run)

    with transaction.atomic(), connection.cursor() as cursor:
        billing_file = open_billing_file(restated)
        for batch in billing_file.batches(batch_rows=25_000):
            batch_copy(cursor, batch_prepare(batch, billing_file.format.value, state), billing_file.format.value, state)
        assert staging_rows_count(cursor, state) == ROWS  # every row staged: the scope is stored
        (scope,) = state.existing_scopes
        delete, insert = staging_merge_statements()

        # The check can fail: with only nested loops allowed, the same statements probe per row.
        with transaction.atomic():
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute("SET LOCAL enable_mergejoin = off")
            assert per_row_scans(explain(cursor, delete, [*scope, *scope], analyze=False))
            transaction.set_rollback(True)

        before = staging_prepare(cursor)
        plans = [explain(cursor, statement, [*scope, *scope], analyze=True) for statement in (delete, insert)]
        staging_finish(cursor, before)

        for plan in plans:
            assert per_row_scans(plan) == [], json.dumps(plan, indent=1)
        deleted, inserted = (plan["Plan"]["Plans"][0]["Actual Rows"] for plan in plans)
        assert (deleted, inserted) == (CHANGED, CHANGED)
        stored = CostRecord.objects.aggregate(total=Sum("billed_cost"))["total"]
        assert (CostRecord.objects.count(), stored) == (ROWS, total)


def test_a_re_import_replaces_only_the_changed_lines(tmp_path):
    first, _ = focus_parquet(tmp_path / "march.parquet")
    billing_export_import(location=str(first))
    restated, total = focus_parquet(tmp_path / "march-restated.parquet", changed=CHANGED)

    again = billing_export_import(location=str(first))
    restating = billing_export_import(location=str(restated))

    assert (again.rows, again.rows_inserted, again.rows_deleted) == (ROWS, 0, 0)
    assert (restating.rows, restating.rows_inserted, restating.rows_deleted) == (ROWS, CHANGED, CHANGED)
    assert CostRecord.objects.count() == ROWS
    assert CostRecord.objects.aggregate(total=Sum("billed_cost"))["total"] == total
    assert not CostRecord.objects.filter(run=again).exists()  # an unchanged line keeps its first run
    assert CostRecord.objects.filter(run=restating).count() == CHANGED
