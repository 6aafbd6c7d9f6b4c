"""CELERY_TASK_ALWAYS_EAGER (README): a requested ingestion runs inline, although the service names its task."""

from __future__ import annotations

import pytest
from celery import current_app

from finops.models import CloudAccount, CostExplorerRecord, IngestionRun
from finops.services.ingestion import ingestion_request


@pytest.fixture
def eager():
    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = before


@pytest.mark.django_db
def test_it_runs_a_requested_ingestion_inline_when_tasks_are_eager(eager, django_capture_on_commit_callbacks):
    account = CloudAccount.objects.create(account_id="481516234200")
    with django_capture_on_commit_callbacks(execute=True):
        run = ingestion_request(account=account, source=IngestionRun.Source.COST_EXPLORER)
    run.refresh_from_db()
    assert (run.status, run.error) == (IngestionRun.Status.SUCCEEDED, "")
    assert CostExplorerRecord.objects.filter(account=account).exists()
