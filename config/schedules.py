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
    # Cost Explorer and the data exports refresh a few times a day and AWS revises recent days; every
    # 8 hours keeps reports a working day fresh at a few Cost Explorer requests ($0.01 each) per run.
    "ingest-all-accounts": {
        "task": "finops.tasks.ingestion_schedule_all",
        "schedule": crontab(minute=15, hour="*/8"),
    },
    # Capacity (inventory, hourly utilisation, GPU quotas): CloudWatch's hourly datapoints are complete a
    # few minutes after the hour, so collecting at :20 every hour stores each hour once it is final.
    "capacity-ingest-all-accounts": {
        "task": "capacity.tasks.capacity_ingest_all",
        "schedule": crontab(minute=20),
    },
    # On-demand prices change a few times a year; once a day (cached by date) keeps them current for free.
    "capacity-prices": {
        "task": "capacity.tasks.prices_ingest",
        "schedule": crontab(minute=40, hour=4),
    },
    # GPU demand and its 6-month forecasts (fleet, teams, GPU families, regions; each quota's demand for the capacity
    # plan) follow billing, which lands a few times a day; once a night, after the early ingestion run, is as fresh
    # as the daily series it forecasts. Operators recompute on demand (POST /api/v1/forecasts/gpu-demand/refresh).
    "capacity-gpu-demand": {
        "task": "capacity.tasks.gpu_demand_refresh",
        "schedule": crontab(minute=50, hour=1),
    },
    # The spend forecast reads a year of daily cost, which billing revises for a few days; once a night after the
    # 00:15 ingestion run (and before the working day) is as fresh as its history, at two GetCostForecast requests.
    "capacity-spend-forecast": {
        "task": "capacity.tasks.spend_forecasts_refresh_task",
        "schedule": crontab(minute=10, hour=2),
    },
    # Compute Optimizer refreshes its recommendations about once a day from 14 days of metrics; reading
    # them daily (after the night's inventory) keeps ours current, expiring the ones AWS dropped.
    "capacity-compute-optimizer": {
        "task": "capacity.tasks.compute_optimizer_ingest_all",
        "schedule": crontab(minute=10, hour=5),
    },
    # Our GPU right-sizing reads 14 days of hourly utilisation and the day's prices (04:40); once a day
    # after both is as fresh as its inputs.
    "capacity-gpu-rightsizing": {
        "task": "capacity.tasks.gpu_rightsizing_compute",
        "schedule": crontab(minute=30, hour=5),
    },
    # Snoozes end on a date: reopening them just after midnight UTC puts them back in the morning's queue.
    "capacity-recommendation-snoozes": {
        "task": "capacity.tasks.recommendations_snoozes_end",
        "schedule": crontab(minute=5, hour=0),
    },
    # Actions run only inside a team's maintenance window (often two hours a week); looking every 5 minutes
    # starts each change within 5 minutes of its window opening and announces planned ones before it does.
    "capacity-actions-due": {
        "task": "capacity.tasks.actions_due",
        "schedule": crontab(minute="*/5"),
    },
    # Policies: off-hours boundaries fall on whole hours (or any minute) in the policy's zone and a grace period
    # follows each announcement; evaluating every 5 minutes acts within 5 minutes of a boundary or of the end of a
    # grace period, and each policy's row lock keeps two beats from acting twice.
    "capacity-policies": {
        "task": "capacity.tasks.policies_run",
        "schedule": crontab(minute="*/5"),
    },
    # A worker killed mid-action leaves it running; its lease (COSTPLANE_ACTION_LEASE_MINUTES, 15 by default)
    # is refreshed while it works. Sweeping every 5 minutes resolves a lost one within a lease and 5 minutes.
    "capacity-action-leases": {
        "task": "capacity.tasks.leases_sweep",
        "schedule": crontab(minute="*/5"),
    },
    # Realised savings need a week of billing after a change, and billing lands a few times a day; once a
    # day, after the 00:15 ingestion run, measures each done action on the first day its week is complete.
    "capacity-realised-savings": {
        "task": "capacity.tasks.realised_savings_measure",
        "schedule": crontab(minute=0, hour=6),
    },
    # Alerts: stale ingestion, unallocated share, failed actions, quota headroom, the capacity plan, budgets and
    # anomalies. Their inputs change hourly at most; every 15 minutes tells people within a quarter hour and costs a
    # few reads.
    "alerts-evaluate": {
        "task": "capacity.tasks.alerts_evaluate",
        "schedule": crontab(minute="*/15"),
    },
    # A webhook or mail server that was down gets each failed notification again every 10 minutes (up to
    # COSTPLANE_NOTIFY_MAX_ATTEMPTS tries): long enough for a blip to pass, short enough to matter.
    "notifications-retry": {
        "task": "finops.tasks.notifications_retry",
        "schedule": crontab(minute="*/10"),
    },
    # Cost anomalies are judged per complete UTC day; once a day, after the 00:15 ingestion run has brought
    # in yesterday, finds them within hours (re-checking the last few days, which AWS revises) on the compute queue.
    "cost-anomalies-detect": {
        "task": "finops.tasks.cost_anomalies_detect",
        "schedule": crontab(minute=45, hour=2),
    },
    # AWS Cost Anomaly Detection evaluates about once a day too; reading it daily (each page a billable Cost
    # Explorer request) shows AWS's anomalies beside ours on the same morning.
    "cost-anomalies-aws-ingest": {
        "task": "finops.tasks.cost_anomalies_aws_ingest_all",
        "schedule": crontab(minute=55, hour=2),
    },
    # A billing period without invoice ids (FOCUS before 1.2) becomes final a whole number of days after it ends
    # (COSTPLANE_BILLING_FINAL_AFTER_DAYS); imports check too, but a period nobody re-delivers needs this daily look,
    # just after midnight UTC when a new day of age begins.
    "billing-periods-final-by-age": {
        "task": "finops.tasks.billing_periods_finalise_by_age",
        "schedule": crontab(minute=20, hour=0),
    },
    # Months older than COSTPLANE_BILLING_RETENTION_MONTHS go (a no-op with the default, keep everything); at an
    # hour imports rarely run, since detaching a month locks the table for a moment.
    "billing-retention": {
        "task": "finops.tasks.billing_retention_apply",
        "schedule": crontab(minute=30, hour=4),
    },
    # An export import whose worker died with its whole host is redelivered only after the broker's visibility
    # timeout (an hour); looking every minute fails and re-queues it once its lock has been free for
    # COSTPLANE_INGEST_STALE_MINUTES, within a minute of that.
    "ingest-stale-runs": {
        "task": "finops.tasks.export_runs_stale_fail",
        "schedule": crontab(minute="*"),
    },
}
