"""The exact daily rollup of billing lines (finops.models.rollups): rebuilt per scope inside each import's transaction.

A scope is (source, billing account, billing period), the unit an import replaces. Rebuilding a scope's rollup rows
from its stored lines, in the transaction that changed them, keeps the rollup equal to a GROUP BY of the lines at
every commit (NUMERIC sums, no floating point), whatever was inserted, replaced or deleted. The tag keys it holds
are CostRollupState.tag_keys; `rollups_rebuild_all` (`manage.py rollups_rebuild`) rebuilds everything with
COSTPLANE_ALLOCATION_TAG_KEYS after that setting changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from finops.models import CostDailyRollup, CostRecord, CostRollupState

ROLLUP = CostDailyRollup._meta.db_table
RECORDS = CostRecord._meta.db_table
_GROUPED = (
    "source",
    "billing_account_id",
    "billing_period_start",
    "sub_account_id",
    "provider_name",
    "invoice_issuer_name",
    "service_name",
    "region_id",
    "usage_type",
    "charge_category",
    "billing_currency",
)


def _insert_sql(tag_keys: list[str], where: str) -> tuple[str, list]:
    tags = ", ".join("%s, r.tags -> %s" for _ in tag_keys)
    grouped = ", ".join(f"r.{name}" for name in _GROUPED)
    sql = f"""
        INSERT INTO {ROLLUP} (day, {", ".join(_GROUPED)}, tags, billed_cost, effective_cost, list_cost,
                              list_cost_missing, lines)
        SELECT (r.charge_period_start AT TIME ZONE 'UTC')::date, {grouped}, jsonb_build_object({tags}),
               SUM(r.billed_cost), SUM(r.effective_cost), SUM(r.list_cost),
               COUNT(*) FILTER (WHERE r.list_cost IS NULL), COUNT(*)
        FROM {RECORDS} r
        WHERE {where}
        GROUP BY 1, {", ".join(str(position) for position in range(2, len(_GROUPED) + 3))}
    """
    return sql, [value for key in tag_keys for value in (key, key)]


def rollups_rebuild_scopes(cursor, scopes: Iterable[tuple[str, str, date]]) -> None:
    """Replace the rollup rows of each scope by a GROUP BY of its stored lines (in the caller's transaction)."""
    tag_keys = CostRollupState.current_tag_keys()
    insert, params = _insert_sql(
        tag_keys, "r.source = %s AND r.billing_account_id = %s AND r.billing_period_start = %s"
    )
    for scope in sorted(scopes):
        cursor.execute(
            f"DELETE FROM {ROLLUP} WHERE source = %s AND billing_account_id = %s AND billing_period_start = %s",
            list(scope),
        )
        cursor.execute(insert, [*params, *scope])


def rollups_rebuild_all() -> int:
    """Rebuild the whole rollup with COSTPLANE_ALLOCATION_TAG_KEYS; returns its rows."""
    tag_keys = list(settings.COSTPLANE_ALLOCATION_TAG_KEYS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ROLLUP} IN EXCLUSIVE MODE")  # imports wait; reports keep reading the old rows
        cursor.execute(f"DELETE FROM {ROLLUP}")
        insert, params = _insert_sql(tag_keys, "TRUE")
        cursor.execute(insert, params)
        rows = cursor.rowcount
        state = CostRollupState.objects.select_for_update().order_by("pk").first() or CostRollupState()
        state.tag_keys, state.rebuilt_at = tag_keys, timezone.now()
        state.save()
    return rows
