from __future__ import annotations

import pytest

from capacity import tasks
from config.celery import app
from config.schedules import BEAT_SCHEDULE


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("capacity.tasks.capacity_ingest", "ingest"),
        ("capacity.tasks.capacity_ingest_all", "ingest"),
        ("capacity.tasks.prices_ingest", "ingest"),
    ],
)
def test_it_routes_capacity_collection_to_the_ingest_queue(task, queue):
    assert getattr(tasks, task.rsplit(".", 1)[1]).name == task
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_it_schedules_capacity_collection_hourly_and_prices_daily():
    tasks = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert tasks["capacity.tasks.capacity_ingest_all"].minute == {20}
    assert len(tasks["capacity.tasks.prices_ingest"].hour) == 1
