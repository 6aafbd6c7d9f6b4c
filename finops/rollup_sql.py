"""The SQL that builds the daily cost rollup from billing lines (finops.models.rollups says what it holds).

No ORM: the models (ORM writes), the import service and the migration that built the first rollup all run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

ROLLUP = "finops_costdailyrollup"
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


def rollup_scopes_rebuild(cursor, scopes: Iterable[tuple[str, str, date]], tag_keys: list[str]) -> None:
    """Replace the rollup rows of each (source, billing account, billing period) by a GROUP BY of its lines."""
    insert, params = rollup_insert_sql(
        tag_keys, "r.source = %s AND r.billing_account_id = %s AND r.billing_period_start = %s"
    )
    for scope in sorted(scopes):
        cursor.execute(
            f"DELETE FROM {ROLLUP} WHERE source = %s AND billing_account_id = %s AND billing_period_start = %s",
            list(scope),
        )
        cursor.execute(insert, [*params, *scope])
