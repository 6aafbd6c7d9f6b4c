"""CostRecord's monthly range partitions (by billing_period_start): their names, bounds, creation and retention.

finops_costrecord is partitioned by range of billing_period_start, one partition per calendar month
(`finops_costrecord_p2024_03` holds the billing periods that start in March 2024). Its primary key is
(billing_account_id, billing_period_start, id) and its natural key (source, billing_account_id,
billing_period_start, line_key): every unique key holds the partition key and the billing account, so a
table distributed by billing account keeps them.

`CREATE TABLE ... PARTITION OF` locks the parent against every reader until its transaction ends, so an
import never runs it inside its own (long) transaction. When it meets a month without a partition it creates the
month's table as a plain table of the parent's shape and attaches it at once, empty, in a short transaction on a
second connection (`partition_create`), before it loads a row of that month: ATTACH takes only a SHARE UPDATE
EXCLUSIVE lock on the parent, which readers and writers (the import's own open transaction included) do not wait
for, and skips the validation scan because the table carries a CHECK constraint matching the bounds. Imports that
meet the same new month at once (two billing accounts, two formats) take turns on a per-month advisory lock there,
and the second finds the partition attached; none holds a lock on the parent that another import's creation would
wait for. Writes through the ORM (tests, small tools) create missing partitions in their own transaction
(`partitions_ensure`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg
from django.db import connection

PARENT = "finops_costrecord"


def month_first(day: date) -> date:
    return day.replace(day=1)


def month_next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_p{month.year:04d}_{month.month:02d}"


def partition_months(cursor) -> dict[date, str]:
    """{month: partition table} of the partitions attached to the parent now."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass",
        [PARENT],
    )
    months = {}
    for name, bound in cursor.fetchall():
        lower = bound.split("'")[1]  # FOR VALUES FROM ('2024-03-01') TO ('2024-04-01')
        months[date.fromisoformat(lower)] = name
    return months


def _create_statements(month: date) -> list[str]:
    """The month's table, unattached: the parent's columns, collations, defaults (ids from its sequence), NOT NULLs
    and indexes (so that attaching links the indexes instead of building them), and a CHECK constraint matching the
    partition's bounds (so that attaching need not scan it). Both statements are no-ops for a table already there."""
    name, lower, upper = partition_name(month), month.isoformat(), month_next(month).isoformat()
    return [
        f"CREATE TABLE IF NOT EXISTS {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
        f"DO $$ BEGIN ALTER TABLE {name} ADD CONSTRAINT {name}_bounds"
        f" CHECK (billing_period_start >= '{lower}' AND billing_period_start < '{upper}');"
        " EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    ]


def partition_create(month: date) -> str:
    """The month's partition, created and attached (empty) in committed transactions on a connection of its own, so
    that the caller's transaction never waits for it and never holds a lock it would wait for; returns its name. A
    partition already attached (by another import, or one that rolled back) is left as it is."""
    parameters = connection.get_connection_params()  # Django's own: the same server, database, role and options
    parameters.pop("cursor_factory", None)
    parameters.pop("context", None)
    parameters.pop("prepare_threshold", None)
    name = partition_name(month)
    with psycopg.connect(**parameters, autocommit=True) as own:
        own.execute("SET lock_timeout = '30s'")
        own.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"costplane partition {name}"])
        try:
            with own.cursor() as cursor:
                if month not in partition_months(cursor):
                    for statement in _create_statements(month):
                        own.execute(statement)
                    partition_attach(own, month)
        finally:
            own.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"costplane partition {name}"])
    return name


def partition_attach(cursor, month: date) -> None:
    """Attach a table made by `_create_statements` as the month's partition."""
    name, lower, upper = partition_name(month), month.isoformat(), month_next(month).isoformat()
    cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")


def partitions_ensure(months: Iterable[date]) -> None:
    """Create, in the current transaction, the partitions these months need (for ORM writes; imports use
    `partition_create`)."""
    wanted = {month_first(date.fromisoformat(month) if isinstance(month, str) else month) for month in months}
    if not wanted:
        return
    with connection.cursor() as cursor:
        missing = wanted - set(partition_months(cursor))
        for month in sorted(missing):
            for statement in _create_statements(month):
                cursor.execute(statement)
            partition_attach(cursor, month)


def partitions_older_than(cursor, cutoff: date) -> list[tuple[date, str]]:
    """Attached partitions whose every billing period starts before `cutoff` (a month's first day)."""
    return sorted((month, name) for month, name in partition_months(cursor).items() if month_next(month) <= cutoff)


def partition_drop(cursor, month: date) -> None:
    """Detach the month's partition and drop it (its rows go with it)."""
    name = partition_name(month)
    cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
    cursor.execute(f"DROP TABLE {name}")
