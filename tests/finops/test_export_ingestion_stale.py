"""Stale export imports (finops.services.export_ingestion.export_runs_stale_fail) and the export's file sets."""

from __future__ import annotations

from datetime import timedelta

import boto3
import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from moto import mock_aws

from finops.aws.exports import ExportFileSet, export_file_sets
from finops.models import CloudAccount, IngestionRun
from finops.services.export_ingestion import export_runs_stale_fail, scope_lock_key

PAYER = "481516234200"


@pytest.fixture
def month_run(db):
    account = CloudAccount.objects.create(account_id=PAYER, exports_enabled=True, export_s3_uri="s3://b/exports/")
    parent = IngestionRun.objects.create(account=account, source="export", status="running", started_at=timezone.now())
    child = IngestionRun.objects.create(
        account=account,
        source="export",
        status="running",
        location="s3://b/exports/metadata/BILLING_PERIOD=2026-10/",
        started_at=timezone.now() - timedelta(hours=1),
        detail={"parent_run": parent.pk, "billing_account_id": PAYER, "billing_period": "2026-10", "deliveries": 1},
    )
    parent.detail = {"children": [child.pk]}
    parent.save()
    return parent, child


def other_session_holding(key: int) -> psycopg.Connection:
    parameters = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        parameters.pop(name, None)
    other = psycopg.connect(**parameters, autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s)", [key])
    return other


def test_it_first_notes_a_free_lock_then_fails_the_run_and_queues_it_again_once(
    month_run, django_capture_on_commit_callbacks
):
    parent, child = month_run
    now = timezone.now()
    with django_capture_on_commit_callbacks() as queued:
        assert export_runs_stale_fail(now=now) == []  # free now: noted, not yet stale
        assert export_runs_stale_fail(now=now + timedelta(minutes=9)) == []
    child.refresh_from_db()
    assert (child.status, child.detail["lock_free_since"]) == ("running", now.isoformat())
    assert queued == []

    with django_capture_on_commit_callbacks() as queued:
        assert [run.pk for run in export_runs_stale_fail(now=now + timedelta(minutes=10))] == [child.pk]
    child.refresh_from_db()
    again = IngestionRun.objects.get(pk=child.detail["requeued_as"])
    assert child.status == "failed" and "worker was lost" in child.error and f"run {again.pk}" in child.error
    assert (again.status, again.location, again.detail["requeue_of"]) == ("queued", child.location, child.pk)
    assert len(queued) == 1  # its task, once
    parent.refresh_from_db()
    assert parent.status == "running" and parent.detail["children"] == [child.pk, again.pk]
    assert parent.detail["progress"]["file_sets_done"] == 0  # the failed run is replaced by the queued one

    with django_capture_on_commit_callbacks() as queued:
        assert export_runs_stale_fail(now=now + timedelta(hours=1)) == []
    assert queued == [] and IngestionRun.objects.filter(detail__has_key="requeue_of").count() == 1


def test_a_requeued_run_that_goes_stale_again_fails_for_good_and_fails_its_parent(
    month_run, django_capture_on_commit_callbacks
):
    parent, child = month_run
    now = timezone.now()
    with django_capture_on_commit_callbacks():
        export_runs_stale_fail(now=now)
        export_runs_stale_fail(now=now + timedelta(minutes=10))
    again = IngestionRun.objects.get(detail__requeue_of=child.pk)
    IngestionRun.objects.filter(pk=again.pk).update(status="running")
    with django_capture_on_commit_callbacks() as queued:
        export_runs_stale_fail(now=now + timedelta(minutes=20))
        assert [run.pk for run in export_runs_stale_fail(now=now + timedelta(minutes=30))] == [again.pk]
    assert queued == []
    again.refresh_from_db()
    assert again.status == "failed" and "requeued_as" not in again.detail
    parent.refresh_from_db()
    assert (parent.status, parent.error) == ("failed", "1 of 1 months failed: 2026-10")


def test_it_leaves_alone_a_run_whose_lock_an_import_holds(month_run):
    parent, child = month_run
    child.detail["lock_free_since"] = (timezone.now() - timedelta(hours=1)).isoformat()
    child.save()
    other = other_session_holding(scope_lock_key(PAYER, "2026-10"))
    try:
        assert export_runs_stale_fail() == []
    finally:
        other.close()
    child.refresh_from_db()
    assert child.status == "running" and "lock_free_since" not in child.detail


def test_it_splits_an_export_by_billing_period_folder():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        s3.create_bucket(Bucket="exports-bucket")
        for key in (
            "e/focus/metadata/BILLING_PERIOD=2026-09/focus-Manifest.json",
            "e/cur2/metadata/BILLING_PERIOD=2026-10/cur2-Manifest.json",
            "e/focus/metadata/BILLING_PERIOD=2026-10/focus-Manifest.json",
            "e/legacy/20260801-20260901/legacy-Manifest.json",
            "e/legacy/20260801-20260901/abc-123/legacy-Manifest.json",
        ):
            s3.put_object(Bucket="exports-bucket", Key=key, Body=b"{}")
        assert export_file_sets(s3, "s3://exports-bucket/e/") == [
            ExportFileSet("s3://exports-bucket/e/legacy/20260801-20260901/", "2026-08"),
            ExportFileSet("s3://exports-bucket/e/focus/metadata/BILLING_PERIOD=2026-09/", "2026-09"),
            ExportFileSet("s3://exports-bucket/e/cur2/metadata/BILLING_PERIOD=2026-10/", "2026-10"),
            ExportFileSet("s3://exports-bucket/e/focus/metadata/BILLING_PERIOD=2026-10/", "2026-10"),
        ]
        s3.put_object(Bucket="exports-bucket", Key="e/odd/report-Manifest.json", Body=b"{}")
        assert export_file_sets(s3, "s3://exports-bucket/e/") == [ExportFileSet("s3://exports-bucket/e/", None)]
