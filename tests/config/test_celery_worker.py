from __future__ import annotations

import pytest

from finops.models import WorkerHeartbeat
from finops.tasks import worker_heartbeat_record
from tests.integration_support import celery_worker, wait_for


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_in_a_real_worker_that_writes_to_postgres():
    assert not WorkerHeartbeat.objects.exists()
    with celery_worker(queues="compute"):
        worker_heartbeat_record.delay()
        heartbeat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=60)
    assert heartbeat is not None, "the worker never wrote its heartbeat row"
    assert heartbeat.hostname


def test_it_routes_tasks_to_their_queues():
    from config.celery import app

    router = app.amqp.router
    assert router.route({}, "finops.tasks.cost_window_ingest")["queue"].name == "ingest"
    assert router.route({}, "capacity.tasks.action_execute")["queue"].name == "actions"
    assert router.route({}, "finops.tasks.worker_heartbeat_record")["queue"].name == "compute"
