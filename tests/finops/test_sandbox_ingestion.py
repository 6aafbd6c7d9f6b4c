"""The sandbox account ingested through both paths (Cost Explorer and the data exports), reconciled."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from finops.models import CloudAccount, CostExplorerRecord, IngestionRun
from finops.selectors.reconciliation import reconciliation_rows
from finops.services.billing_import import billing_export_import
from finops.services.cost_explorer import cost_explorer_ingest
from sandbox.server import seed_exports

PAYER = "481516234200"
BUCKET = "costplane-sandbox-exports"


@pytest.fixture
def sandbox_env(settings, monkeypatch):
    today = date.today()
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    monkeypatch.setenv("COSTPLANE_SANDBOX_SIZE", "small")
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", today.isoformat())
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        seed_exports(s3, size="small", today=today)
        yield s3, today


def bump_one_focus_line_by_a_cent(s3, today: date) -> date:
    """Rewrite the last month's first FOCUS file with one Usage line's BilledCost raised by 0.01."""
    prefix = f"exports/costplane-focus/data/BILLING_PERIOD={(today.replace(day=1) - timedelta(days=1)):%Y-%m}/"
    key = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])[0]
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    frame = table.to_pandas()
    index = frame.index[(frame["ChargeCategory"] == "Usage") & (frame["BilledCost"] > 0)][0]
    frame.loc[index, "BilledCost"] = frame.loc[index, "BilledCost"] + Decimal("0.01")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), sink)
    s3.put_object(Bucket=BUCKET, Key=key, Body=sink.getvalue())
    return frame.loc[index, "ChargePeriodStart"].date()


@pytest.mark.django_db
def test_it_reconciles_the_sandbox_to_zero_mismatches_then_flags_exactly_a_one_cent_change(sandbox_env):
    s3, today = sandbox_env
    payer = CloudAccount.objects.create(account_id=PAYER, name="payer")
    ce_run = cost_explorer_ingest(account=payer, today=today, sleep=lambda _: None)
    assert ce_run.status == IngestionRun.Status.SUCCEEDED and ce_run.requests > 1
    assert CostExplorerRecord.objects.filter(view="account_service").exists()
    focus = billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
    cur2 = billing_export_import(location=f"s3://{BUCKET}/exports/costplane-cur2/")
    assert {entry["format"] for entry in focus.detail["files"]} == {"focus"}
    assert {entry["format"] for entry in cur2.detail["files"]} == {"cur2"}

    window = {"start": today - timedelta(days=450), "end": today}
    rows = reconciliation_rows(**window)
    assert len(rows) > 1000
    assert all(row.cost_explorer is not None for row in rows)
    assert [row for row in rows if row.mismatch] == []

    changed_day = bump_one_focus_line_by_a_cent(s3, today)
    billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
    flagged = reconciliation_rows(**window, mismatches_only=True)
    assert [(row.day, row.source, row.cost_explorer_difference) for row in flagged] == [
        (changed_day, "focus", Decimal("0.01"))
    ]


@pytest.mark.django_db
def test_it_reports_the_sandbox_without_adding_the_two_exports_together(sandbox_env, viewer_api):
    s3, today = sandbox_env
    payer = CloudAccount.objects.create(account_id=PAYER, name="payer")
    cost_explorer_ingest(account=payer, today=today, sleep=lambda _: None)
    window = f"{today - timedelta(days=60)},{today}"
    from_explorer = viewer_api.get("/api/v1/costs/", {"window": window, "aggregate": "account"}).json()
    billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
    billing_export_import(location=f"s3://{BUCKET}/exports/costplane-cur2/")
    from_exports = viewer_api.get("/api/v1/costs/", {"window": window, "aggregate": "account"}).json()
    assert Decimal(from_explorer["total"]) > 0
    assert Decimal(from_exports["total"]) == Decimal(from_explorer["total"])
    effective = viewer_api.get("/api/v1/costs/", {"window": window, "cost_basis": "effective"}).json()
    assert Decimal(effective["total"]) != Decimal(from_exports["total"]), "Savings Plans make amortised cost differ"
    by_team = viewer_api.get("/api/v1/costs/", {"window": window, "aggregate": "tag:team"}).json()
    teams = {item["key"]["tag:team"]: Decimal(item["cost"]) for item in by_team["items"]}
    assert {"vision", "speech", "recsys", "__unallocated__"} <= set(teams)
    assert sum(teams.values()) == Decimal(by_team["total"]) == Decimal(from_exports["total"])
