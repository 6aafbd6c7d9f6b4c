"""The Celery application: configuration from Django settings, schedules from config/schedules.py."""

from __future__ import annotations

import os

from celery import Celery
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
