"""`collect_capacity --then-derive` waits for billing and capacity collection to land before deriving from them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.models import CollectionRun
from capacity.selectors.runs import inputs_settled
from capacity.tasks import derived_refresh_when_settled
from config.celery import app
from finops.models import IngestionRun
from tests.factories import CloudAccountFactory
from tests.integration_support import celery_worker, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def collected(account, *, finished: bool = True) -> CollectionRun:
    return CollectionRun.objects.create(
        kind=CollectionRun.Kind.RESERVATIONS, account=account, region="us-east-1",
        status=CollectionRun.Status.SUCCEEDED if finished else CollectionRun.Status.RUNNING,
        finished_at=timezone.now() if finished else None,
    )  # fmt: skip


def test_it_waits_for_each_accounts_collection_and_every_billing_import():
    since = timezone.now() - timedelta(seconds=1)
    first, second = CloudAccountFactory(), CloudAccountFactory()
    CloudAccountFactory(inventory_enabled=False)
    run = IngestionRun.objects.create(source=IngestionRun.Source.EXPORT, status=IngestionRun.Status.QUEUED)
    collected(first)
    running = collected(second, finished=False)
    assert inputs_settled(since=since) == (False, "1 billing ingestion run(s), capacity collection of 1 account(s)")
    run.status = IngestionRun.Status.SUCCEEDED
    run.save()
    running.finished_at = timezone.now()
    running.save()
    assert inputs_settled(since=since) == (True, "")
    assert inputs_settled(since=timezone.now() + timedelta(seconds=5))[0] is False, "runs before `since` do not count"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_until_settled_then_derives():
    account = CloudAccountFactory()
    since = timezone.now() - timedelta(seconds=1)
    with celery_worker(queues="compute", extra_env={"COSTPLANE_DERIVE_POLL_SECONDS": "1"}, name="derive"):
        derived_refresh_when_settled.apply_async(kwargs={"since": since.isoformat()})
        time.sleep(4)
        assert not CollectionRun.objects.filter(kind=CollectionRun.Kind.FORECASTS).exists(), "nothing landed yet"
        collected(account)
        forecasts = wait_for(
            lambda: CollectionRun.objects.filter(kind=CollectionRun.Kind.FORECASTS, status="succeeded").first(),
            timeout=60,
            interval=0.5,
        )
    assert forecasts is not None, "the worker did not derive once collection landed"
    assert forecasts.started_at > CollectionRun.objects.get(kind=CollectionRun.Kind.RESERVATIONS).finished_at


def test_it_derives_anyway_after_the_longest_wait(eager):
    CloudAccountFactory()
    long_ago = timezone.now() - timedelta(hours=2)
    result = derived_refresh_when_settled.apply(kwargs={"since": long_ago.isoformat()})
    assert result.get() == "gave up waiting for capacity collection of 1 account(s)"
