"""Planner statistics after bulk writes.

PostgreSQL plans from table statistics that only ANALYZE (or autovacuum, when it runs and gets to the table) refreshes.
Right after an import the statistics still describe the table before it: on the full-size sandbox the report query
over a year of billing rows then took a nested loop estimated at one row and ran for 33 s instead of about 1 s.
PostgreSQL's documentation advises ANALYZE after a bulk load; it samples a bounded number of rows (300 x the statistics
target), so it costs well under a second whatever the table's size.
"""

from __future__ import annotations

from django.db import connection, models, transaction


def table_statistics_refresh(*, tables: list[type[models.Model] | str]) -> None:
    """ANALYZE the models' tables (or the tables named, such as the partitions of CostRecord an import wrote to:
    ANALYZE of a partitioned table samples every partition), once the current transaction (if any) commits, so
    that the rows it wrote count."""

    def analyze() -> None:
        with connection.cursor() as cursor:
            for table in tables:
                name = table if isinstance(table, str) else table._meta.db_table
                cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")

    transaction.on_commit(analyze)
