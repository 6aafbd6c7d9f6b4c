"""The SQL that builds the daily cost rollup from billing lines, and the tag rollup from it (finops.models.rollups
says what each holds).

No ORM: the models (ORM writes), the import service and the migration that built the first rollup all run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from finops.signals import billing_scopes_rebuilt

ROLLUP = "finops_costdailyrollup"
TAG_ROLLUP = "finops_costtagrollup"
RECORDS = "finops_costrecord"
GROUPED = (
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


def rollup_insert_sql(tag_keys: list[str], where: str) -> tuple[str, list]:
    """INSERT ... SELECT of the rollup rows of the lines `where` selects (alias r), holding `tag_keys`' values."""
    tags = ", ".join("%s, r.tags -> %s" for _ in tag_keys)
    grouped = ", ".join(f"r.{name}" for name in GROUPED)
    sql = f"""
        INSERT INTO {ROLLUP} (day, {", ".join(GROUPED)}, tags, billed_cost, effective_cost, list_cost,
                              list_cost_missing, lines)
        SELECT (r.charge_period_start AT TIME ZONE 'UTC')::date, {grouped}, jsonb_build_object({tags}),
               SUM(r.billed_cost), SUM(r.effective_cost), SUM(r.list_cost),
               COUNT(*) FILTER (WHERE r.list_cost IS NULL), COUNT(*)
        FROM {RECORDS} r
        WHERE {where}
        GROUP BY 1, {", ".join(str(position) for position in range(2, len(GROUPED) + 3))}
    """
    return sql, [value for key in tag_keys for value in (key, key)]


# The tag rollup's grouping: the daily rollup's scope, account, provider, charge category and currency, one tag key.
TAG_GROUPED = (
    "source",
    "billing_account_id",
    "billing_period_start",
    "sub_account_id",
    "provider_name",
    "charge_category",
    "billing_currency",
)
_SUMS = "SUM(r.billed_cost), SUM(r.effective_cost), SUM(r.list_cost), SUM(r.list_cost_missing), SUM(r.lines)"
_TAG_COLUMNS = f"grain, period, {', '.join(TAG_GROUPED)}, tag_key, tag_value"
_TAG_MEASURES = "billed_cost, effective_cost, list_cost, list_cost_missing, lines"


def tag_rollup_insert_sql(tag_keys: list[str], where: str) -> tuple[str, list]:
    """INSERT ... SELECT of the tag rollup's day rows from the daily rollup rows `where` selects (alias r), then
    (tag_rollup_months_sql) its month rows from those day rows: the same NUMERIC sums, per tag key."""
    grouped = ", ".join(f"r.{name}" for name in TAG_GROUPED)
    sql = f"""
        INSERT INTO {TAG_ROLLUP} ({_TAG_COLUMNS}, {_TAG_MEASURES})
        SELECT 'day', r.day, {grouped}, k.key, r.tags ->> k.key, {_SUMS}
        FROM {ROLLUP} r CROSS JOIN unnest(%s::text[]) AS k(key)
        WHERE {where}
        GROUP BY r.day, {grouped}, k.key, r.tags ->> k.key
    """
    return sql, [list(tag_keys)]


def tag_rollup_months_sql(where: str) -> str:
    """INSERT ... SELECT of month rows from the tag rollup's day rows `where` selects (alias r)."""
    grouped = ", ".join(f"r.{name}" for name in TAG_GROUPED)
    return f"""
        INSERT INTO {TAG_ROLLUP} ({_TAG_COLUMNS}, {_TAG_MEASURES})
        SELECT 'month', date_trunc('month', r.period::timestamp)::date, {grouped}, r.tag_key, r.tag_value, {_SUMS}
        FROM {TAG_ROLLUP} r
        WHERE r.grain = 'day' AND {where}
        GROUP BY 2, {grouped}, r.tag_key, r.tag_value
    """


def rollup_scopes_rebuild(cursor, scopes: Iterable[tuple[str, str, date]], tag_keys: list[str]) -> None:
    """Replace the rollup rows of each (source, billing account, billing period) by a GROUP BY of its lines, and
    the tag rollup's rows of the scope by a GROUP BY of those; then tells `billing_scopes_rebuilt`'s listeners."""
    scope_where = "r.source = %s AND r.billing_account_id = %s AND r.billing_period_start = %s"
    insert, params = rollup_insert_sql(tag_keys, scope_where)
    tag_insert, tag_params = tag_rollup_insert_sql(tag_keys, scope_where)
    months = tag_rollup_months_sql(scope_where)
    scopes = sorted(scopes)
    for scope in scopes:
        for table in (ROLLUP, TAG_ROLLUP):
            cursor.execute(
                f"DELETE FROM {table} WHERE source = %s AND billing_account_id = %s AND billing_period_start = %s",
                list(scope),
            )
        cursor.execute(insert, [*params, *scope])
        cursor.execute(tag_insert, [*tag_params, *scope])
        cursor.execute(months, list(scope))
    billing_scopes_rebuilt.send(sender=None, cursor=cursor, scopes=set(scopes))


def rollups_build_all(cursor, tag_keys: list[str]) -> int:
    """Build both rollups of every stored line into empty tables; returns the daily rollup's rows."""
    insert, params = rollup_insert_sql(tag_keys, "TRUE")
    cursor.execute(insert, params)
    rows = cursor.rowcount
    tag_insert, tag_params = tag_rollup_insert_sql(tag_keys, "TRUE")
    cursor.execute(tag_insert, tag_params)
    cursor.execute(tag_rollup_months_sql("TRUE"))
    billing_scopes_rebuilt.send(sender=None, cursor=cursor, scopes=None)
    return rows
