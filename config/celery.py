"""The Celery application: configuration from Django settings, schedules from config/schedules.py."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import task_failure, task_retry, task_success
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("costplane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _configure(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    from config.schedules import BEAT_SCHEDULE

    # Each queue has its own direct exchange and key, so a message lands in exactly one queue.
    sender.conf.task_queues = [
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in settings.CELERY_TASK_QUEUES_NAMES
    ]
    sender.conf.beat_schedule = BEAT_SCHEDULE
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # The filesystem transport expects its folders to exist before the first message.
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)


def _task_outcome_count(task, outcome: str) -> None:
    from finops.services.task_counts import celery_task_outcome_record

    name = getattr(task, "name", None) or str(task)
    try:
        celery_task_outcome_record(task=name, outcome=outcome)
    except Exception:
        # Counting is bookkeeping for /metrics: a database hiccup here must not fail or retry the task itself.
        logging.getLogger(__name__).exception("Could not count %s of %s", outcome, name)


@task_success.connect
def _count_success(sender=None, **kwargs) -> None:
    _task_outcome_count(sender, "success")


@task_failure.connect
def _count_failure(sender=None, **kwargs) -> None:
    _task_outcome_count(sender, "failure")


@task_retry.connect
def _count_retry(sender=None, **kwargs) -> None:
    _task_outcome_count(sender, "retry")
