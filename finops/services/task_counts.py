"""Celery task outcomes, counted in the database so every worker process adds to one total (/metrics)."""

from __future__ import annotations

from django.db import connection

from finops.models import CeleryTaskCount

OUTCOMES = ("success", "failure", "retry")


def celery_task_outcome_record(*, task: str, outcome: str) -> None:
    """Add one to the (task, outcome) counter; one statement, so concurrent workers never lose a count."""
    if outcome not in OUTCOMES:
        raise ValueError(f"Unknown task outcome {outcome!r}.")
    table = CeleryTaskCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (task, outcome, count, updated_at) VALUES (%s, %s, 1, now()) "  # noqa: S608 (our table)
            f"ON CONFLICT (task, outcome) DO UPDATE SET count = {table}.count + 1, updated_at = now()",
            [task[:255], outcome],
        )
