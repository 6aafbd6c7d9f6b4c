"""End to end: the API queues ingestion, a real Celery worker pulls the sandbox account through moto's server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from finops.models import CloudAccount, CostExplorerRecord, CostRecord, IngestionRun
from finops.selectors.reconciliation import reconciliation_rows
from tests.integration_support import celery_worker, sandbox_served, wait_for


@pytest.fixture
def sandbox_server():
    with sandbox_served() as endpoint:
        yield endpoint


# At a fixed instant, passed on to the sandbox server and the worker: a run across midnight had the sandbox's data
# end on one day and the reconciliation below on the next, and found a mismatch on every day.
@pytest.mark.integration
@pytest.mark.clock("2026-11-18T10:00:00Z")
@pytest.mark.django_db(transaction=True)
def test_it_ingests_a_sandbox_window_through_a_real_worker(sandbox_server, api_client, operator):
    payer = CloudAccount.objects.create(
        account_id="481516234200", exports_enabled=True, export_s3_uri="s3://costplane-sandbox-exports/exports/"
    )
    api_client.force_authenticate(operator)
    worker_env = {"COSTPLANE_SANDBOX_ENDPOINT": sandbox_server, "COSTPLANE_SANDBOX_SIZE": "small"}
    with celery_worker(queues="ingest", extra_env=worker_env):
        queued = [
            api_client.post(f"/api/v1/accounts/{payer.pk}/ingest/", {"source": source}, format="json")
            for source in ("cost_explorer", "export")
        ]
        assert [response.status_code for response in queued] == [202, 202]
        run_ids = [response.json()["id"] for response in queued]
        assert all(response.json()["status"] == "queued" for response in queued)

        def finished():
            runs = list(IngestionRun.objects.filter(pk__in=run_ids))
            return runs if all(run.status in ("succeeded", "failed") for run in runs) else None

        runs = wait_for(finished, timeout=180, interval=0.5)
    assert runs, "the worker did not finish the runs in time"
    assert {run.source: (run.status, run.error) for run in runs} == {
        "cost_explorer": ("succeeded", ""),
        "export": ("succeeded", ""),
    }
    assert CostExplorerRecord.objects.filter(account=payer).exists()
    assert CostRecord.objects.values("source").distinct().count() == 2
    today = date.today()
    assert reconciliation_rows(start=today - timedelta(days=450), end=today, mismatches_only=True) == []
    listed = api_client.get("/api/v1/ingestion-runs/", {"account_id": "481516234200", "limit": 100}).json()
    export_run = next(run for run in runs if run.source == "export")
    # The export run's months ran as runs of their own (finops.services.export_ingestion).
    assert {run["id"] for run in listed["results"]} == {*run_ids, *export_run.detail["children"]}
    assert export_run.detail["progress"]["months_done"] == export_run.detail["progress"]["months"] == 14
    assert all(run["requests"] > 0 for run in listed["results"] if run["source"] == "cost_explorer")


@pytest.mark.django_db
def test_it_refuses_to_queue_an_export_run_without_an_export(api_client, operator, viewer):
    account = CloudAccount.objects.create(account_id="123412341234")
    api_client.force_authenticate(viewer)
    assert api_client.post(f"/api/v1/accounts/{account.pk}/ingest/", {"source": "export"}).status_code == 403
    api_client.force_authenticate(operator)
    response = api_client.post(f"/api/v1/accounts/{account.pk}/ingest/", {"source": "export"}, format="json")
    assert response.status_code == 400
    assert "no data export configured" in response.json()["errors"]["source"][0]
    assert not IngestionRun.objects.exists()
