"""Every periodic task, in one place. django-celery-beat's DatabaseScheduler copies these rows into
the database at start, where the admin can pause them."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # A heartbeat proves a worker consumes the compute queue; /healthz shows its age.
    "worker-heartbeat": {
        "task": "finops.tasks.worker_heartbeat_record",
        "schedule": crontab(minute="*"),
    },
}
