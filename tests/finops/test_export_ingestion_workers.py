"""Parallel export ingestion through real Celery workers against the sandbox's S3 (finops.services.export_ingestion):
months at once, exactly once; a worker killed mid-import; two imports of one month in turn."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from contextlib import ExitStack
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from celery import current_app
from django.db import connection
from django.db.models import Count, Sum

from finops.models import CloudAccount, CostRecord, IngestionRun
from finops.services.export_ingestion import scope_lock_key
from finops.services.ingestion import ingestion_request
from tests.integration_support import celery_worker, sandbox_served, wait_for

PAYER = "481516234200"
BUCKET = "costplane-sandbox-exports"
FOCUS = "exports/costplane-focus"


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_served() as endpoint:
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        yield endpoint, s3


@pytest.fixture
def broker_empty():
    """No task left on the test broker by an earlier (killed) run reaches these workers, nor theirs a later test."""

    def purge():
        with current_app.connection_for_write() as broker:
            for queue in ("ingest", "compute", "actions"):
                broker.default_channel.queue_purge(queue)

    purge()
    yield
    purge()


def worker_env(endpoint: str, **extra: str) -> dict[str, str]:
    return {"COSTPLANE_SANDBOX_ENDPOINT": endpoint, "COSTPLANE_SANDBOX_SIZE": "small", **extra}


def focus_manifests(s3) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{FOCUS}/metadata/")["Contents"]
    return sorted(entry["Key"] for entry in listed if entry["Key"].endswith("Manifest.json"))


def month_of(manifest_key: str) -> str:
    return manifest_key.split("BILLING_PERIOD=")[1][:7]


def data_tables(s3, manifest_key: str) -> list[tuple[str, pa.Table]]:
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    keys = [uri.removeprefix(f"s3://{BUCKET}/") for uri in manifest["dataFiles"]]
    return [(key, pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))) for key in keys]


def file_totals(s3, manifest_key: str) -> tuple[int, Decimal, Decimal]:
    rows, billed, effective = 0, Decimal(0), Decimal(0)
    for _, table in data_tables(s3, manifest_key):
        rows += table.num_rows
        billed += sum(table.column("BilledCost").to_pylist(), Decimal(0))
        effective += sum(table.column("EffectiveCost").to_pylist(), Decimal(0))
    return rows, billed, effective


def stored_totals(month: str) -> tuple[int, Decimal, Decimal]:
    totals = CostRecord.objects.filter(source="focus", billing_period_start=f"{month}-01").aggregate(
        rows=Count("id"), billed=Sum("billed_cost"), effective=Sum("effective_cost")
    )
    return totals["rows"], totals["billed"] or Decimal(0), totals["effective"] or Decimal(0)


def export_account(location: str) -> CloudAccount:
    account, _ = CloudAccount.objects.update_or_create(
        account_id=PAYER, defaults={"exports_enabled": True, "export_s3_uri": location}
    )
    return account


def finished(run_id: int):
    def check():
        run = IngestionRun.objects.get(pk=run_id)
        return run if run.status in ("succeeded", "failed") else None

    return check


def children_of(parent: IngestionRun) -> list[IngestionRun]:
    return list(IngestionRun.objects.filter(pk__in=parent.detail["children"]).order_by("pk"))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_three_workers_import_twelve_months_at_once_each_exactly_once(sandbox, broker_empty):
    endpoint, s3 = sandbox
    manifests = focus_manifests(s3)
    assert len(manifests) >= 12
    for extra in manifests[:-12]:  # the small sandbox holds 14 months: twelve are imported
        s3.delete_object(Bucket=BUCKET, Key=extra)
    expected = {month_of(key): file_totals(s3, key) for key in manifests[-12:]}
    account = export_account(f"s3://{BUCKET}/{FOCUS}/")
    with ExitStack() as workers:
        for number in range(3):
            workers.enter_context(celery_worker(queues="ingest", extra_env=worker_env(endpoint), name=f"w{number}"))
        run = ingestion_request(account=account, source=IngestionRun.Source.EXPORT)
        parent = wait_for(finished(run.pk), timeout=300, interval=0.5)
    assert parent, "the workers did not finish the export in time"
    assert (parent.status, parent.error) == ("succeeded", "")
    assert parent.detail["progress"] | {"failed_months": None} == {
        "file_sets": 12, "file_sets_done": 12, "months": 12, "months_done": 12, "failed_months": None,
    }  # fmt: skip
    children = children_of(parent)
    assert sorted(child.detail["billing_period"] for child in children) == sorted(expected)
    assert {(child.status, child.detail["deliveries"]) for child in children} == {("succeeded", 1)}
    assert {month: stored_totals(month) for month in expected} == expected  # every row once, to the last digit
    for child in children:  # each month written by its own run, once
        month_rows = CostRecord.objects.filter(billing_period_start=f"{child.detail['billing_period']}-01")
        assert set(month_rows.values_list("run_id", flat=True).distinct()) == {child.pk}
        assert child.rows_inserted == expected[child.detail["billing_period"]][0]
    duplicates = (
        CostRecord.objects.values("source", "billing_account_id", "billing_period_start", "line_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert parent.rows == sum(rows for rows, _, _ in expected.values())
    overlapping = [
        (a.pk, b.pk)
        for a in children
        for b in children
        if a.pk < b.pk and a.started_at < b.finished_at and b.started_at < a.finished_at
    ]
    assert overlapping, "no two months were imported at the same time"


def backends_of(run_id: int) -> list[tuple[int, str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, query FROM pg_stat_activity WHERE application_name LIKE %s",
            [f"costplane-import run={run_id} %"],
        )
        return cursor.fetchall()


def bump_first_line_by_a_cent(s3, manifest_key: str) -> None:
    key, table = data_tables(s3, manifest_key)[0]
    billed = table.column("BilledCost").to_pylist()
    billed[0] += Decimal("0.01")
    index = table.schema.get_field_index("BilledCost")
    table = table.set_column(index, table.schema.field(index), pa.array(billed, type=table.schema.field(index).type))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=BUCKET, Key=key, Body=sink.getvalue())


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_the_month_as_it_was_and_the_redelivery_completes_it_once(
    sandbox, broker_empty
):
    endpoint, s3 = sandbox
    manifest = focus_manifests(s3)[-2]  # the last complete month
    month = month_of(manifest)
    account = export_account(f"s3://{BUCKET}/{FOCUS}/metadata/BILLING_PERIOD={month}/")
    with celery_worker(queues="ingest", extra_env=worker_env(endpoint), name="first"):
        first = ingestion_request(account=account, source=IngestionRun.Source.EXPORT)
        assert wait_for(finished(first.pk), timeout=120, interval=0.2).status == "succeeded"
    before = stored_totals(month)
    bump_first_line_by_a_cent(s3, manifest)

    pause = worker_env(endpoint, COSTPLANE_INGEST_TEST_PAUSE_SECONDS="600")
    with celery_worker(queues="ingest", extra_env=pause, pool="prefork", name="killed") as worker:
        second = ingestion_request(account=account, source=IngestionRun.Source.EXPORT)
        parent = wait_for(lambda: IngestionRun.objects.filter(pk=second.pk, detail__has_key="children").first(), 60)
        (child,) = children_of(parent)
        # The first delivery has written the month (uncommitted) and sleeps in PostgreSQL before its commit.
        sleeping = wait_for(lambda: [b for b in backends_of(child.pk) if "pg_sleep" in b[3]], timeout=120)
        assert sleeping, "the import did not reach its pause"
        backend_pid, application_name = sleeping[0][0], sleeping[0][1]
        task_pid = int(application_name.split(" pid=")[1].split()[0])
        assert task_pid != worker.pid  # the pool's child process, not the worker's main process
        os.kill(worker.pid, signal.SIGSTOP)  # the main process notices the loss (and redelivers) only once resumed
        try:
            os.kill(task_pid, signal.SIGKILL)
            # PostgreSQL cancels the dead client's statement within seconds (it would sleep for 10 minutes).
            assert wait_for(lambda: not backends_of(child.pk), timeout=10), backends_of(child.pk)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend_pid])
                assert cursor.fetchone()[0] == 0
            assert stored_totals(month) == before  # the killed transaction rolled back
            child.refresh_from_db()
            assert (child.status, child.detail["deliveries"]) == ("running", 1)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        done = wait_for(finished(second.pk), timeout=120, interval=0.2)
    assert done and (done.status, done.error) == ("succeeded", "")
    child.refresh_from_db()
    assert (child.status, child.detail["deliveries"]) == ("succeeded", 2)  # taken over by the redelivery, once
    rows, billed, effective = stored_totals(month)
    assert (rows, billed, effective) == (before[0], before[1] + Decimal("0.01"), before[2])
    assert IngestionRun.objects.filter(detail__parent_run=second.pk).count() == 1


def lock_holders(key: int) -> tuple[int, int]:
    """(granted, waiting) exclusive holders of an advisory lock key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks"
            " WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 1 AND mode = 'ExclusiveLock'",
            [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF],
        )
        return cursor.fetchone()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_month_on_two_workers_take_turns(sandbox, broker_empty):
    endpoint, s3 = sandbox
    month = month_of(focus_manifests(s3)[-1])
    account = export_account(f"s3://{BUCKET}/{FOCUS}/metadata/BILLING_PERIOD={month}/")
    key = scope_lock_key(PAYER, month)
    seen: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            seen.append(lock_holders(key))
            stop.wait(0.05)
        connection.close()

    # Each first delivery holds the month's lock 2 s longer, so that the other is seen waiting.
    env = worker_env(endpoint, COSTPLANE_INGEST_TEST_PAUSE_SECONDS="2")
    sampler = threading.Thread(target=sample)
    with (
        celery_worker(queues="ingest", extra_env=env, name="a"),
        celery_worker(queues="ingest", extra_env=env, name="b"),
    ):
        sampler.start()
        runs = [ingestion_request(account=account, source=IngestionRun.Source.EXPORT) for _ in range(2)]
        done = [wait_for(finished(run.pk), timeout=180, interval=0.2) for run in runs]
        stop.set()
        sampler.join()
    assert [(run.status, run.error) for run in done] == [("succeeded", ""), ("succeeded", "")]
    assert max(granted for granted, _ in seen) == 1  # never two holders at once
    assert any(granted == 1 and waiting == 1 for granted, waiting in seen), "the second import never waited"
    first, second = sorted((children_of(run)[0] for run in done), key=lambda child: child.started_at)
    assert first.finished_at <= second.started_at  # one import of the month after the other
    assert stored_totals(month) == file_totals(s3, focus_manifests(s3)[-1])
