from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app
from config.schedules import BEAT_SCHEDULE
from finops.models import WorkerHeartbeat
from finops.tasks import worker_heartbeat_record
from tests.integration_support import celery_worker, wait_for

OUR_PACKAGES = {"config", "finops", "capacity", "dashboards"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_in_a_real_worker_that_writes_to_postgres():
    assert not WorkerHeartbeat.objects.exists()
    with celery_worker(queues="compute"):
        worker_heartbeat_record.delay()
        heartbeat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=60)
    assert heartbeat is not None, "the worker never wrote its heartbeat row"
    assert heartbeat.hostname


def our_tasks() -> dict[str, str]:
    """{registered name: queue} of every task our apps define (the worker imports them all at start; so do we)."""
    app.loader.import_default_modules()
    return {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if name.split(".", 1)[0] in OUR_PACKAGES
    }


def test_it_routes_tasks_to_their_queues():
    router = app.amqp.router
    assert router.route({}, "finops.tasks.cost_explorer_ingest")["queue"].name == "ingest"
    assert router.route({}, "capacity.tasks.action_execute_task")["queue"].name == "actions"
    assert router.route({}, "finops.tasks.worker_heartbeat_record")["queue"].name == "compute"


def test_it_names_the_queue_of_every_task_of_ours_by_its_registered_name():
    tasks = our_tasks()
    assert "finops.tasks.ingestion_run_execute" in tasks and "capacity.tasks.capacity_ingest" in tasks
    # Exact names both ways: a renamed task is not silently left to the default queue, and no entry is stale.
    assert set(tasks) == set(settings.CELERY_TASK_ROUTES)
    assert set(tasks.values()) <= set(settings.CELERY_TASK_QUEUES_NAMES)
    assert tasks["finops.tasks.ingestion_run_execute"] == "ingest"


def test_it_schedules_only_registered_tasks():
    tasks = our_tasks()
    for name, entry in BEAT_SCHEDULE.items():
        assert entry["task"] in tasks, f"beat entry {name} names {entry['task']}, which no task registers"
