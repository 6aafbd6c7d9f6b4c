"""Cost reads for the Reports API: one SQL aggregate over the rows a report may count.

Where an account-day has billing-export data, reports read the export, and of the export formats
only one per account-day (FOCUS before CUR 2.0 before legacy CUR) so that two exports of the same
spend are never added together. Account-days without export data are read from Cost Explorer's
`account_service` view when the report asks only for what that view holds (account, service), as
seen from accounts without a payer in Costplane: a member account's own view repeats what its
payer's view already holds.
Sums are NUMERIC in Postgres and Decimal here: exact to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection

from finops.charges import charge_kind_sql
from finops.models import (
    CloudAccount,
    CostDailyRollup,
    CostExplorerRecord,
    CostRecord,
    CostRollupState,
    CostTagRollup,
    ExportDailyTotal,
)
from finops.reports import MONEY_CONTEXT, UNALLOCATED, ReportDataError, ReportQuery, currencies_error

SOURCE_PREFERENCE = ("focus", "cur2", "cur_legacy")
CHARGE_KIND = "charge_kind"

_RECORD_COLUMNS = {
    "account": "r.sub_account_id",
    "service": "r.service_name",
    "region": "r.region_id",
    "usage_type": "r.usage_type",
    "resource": "r.resource_id",
    "charge_category": "r.charge_category",
    "provider": "r.provider_name",
    "invoice_issuer": "r.invoice_issuer_name",
    # Not a key of the API's grammar: the Overview asks for it to show fees apart from usage (finops/charges.py).
    CHARGE_KIND: charge_kind_sql(service_column="r.service_name", category_column="r.charge_category"),
    "currency": "r.billing_currency",
}
_RECORD_BASIS = {"billed": "r.billed_cost", "effective": "r.effective_cost", "list": "r.list_cost"}
_CE_COLUMNS = {
    "account": "c.linked_account_id",
    "service": "c.service_name",
    "provider": "'AWS'",
    CHARGE_KIND: charge_kind_sql(service_column="c.service_name"),
    "currency": "c.currency",
}
_CE_BASIS = {"billed": "c.unblended_cost", "effective": "c.net_amortized_cost"}
_STEP_SQL = {"day": "day", "week": "week", "month": "month"}


@dataclass(frozen=True)
class CostRow:
    key: dict[str, str]
    period: date | None
    cost: Decimal
    currency: str


def _bounds(query: ReportQuery) -> tuple[datetime, datetime]:
    return (datetime.combine(query.start, time.min, tzinfo=UTC), datetime.combine(query.end, time.min, tzinfo=UTC))


def _key_sql(query: ReportQuery, columns: dict[str, str], tags_column: str | None) -> tuple[list[str], list]:
    expressions: list[str] = []
    params: list = []
    for key in query.aggregate:
        if key.startswith("tag:"):
            if tags_column is None:
                raise AssertionError("tag keys need the tags column")
            expressions.append(f"COALESCE(NULLIF({tags_column} ->> %s, ''), '{UNALLOCATED}')")
            params.append(key[4:])
        else:
            expressions.append(f"COALESCE({columns[key]}, '')")
    return expressions, params


def _filter_sql(query: ReportQuery, columns: dict[str, str]) -> tuple[str, list]:
    clauses: list[str] = []
    params: list = []
    for name, values in query.filters.items():
        clauses.append(f"{columns[name]} = ANY(%s)")
        params.append(list(values))
    if query.currency:
        clauses.append(f"{columns['currency']} = %s")
        params.append(query.currency)
    return "".join(f" AND {clause}" for clause in clauses), params


def _export_rows_sql(query: ReportQuery) -> tuple[str, list]:
    tag_key = _tag_rollup_key(query)
    if tag_key is not None:
        keys = [tag_rollup_column(key) for key in query.aggregate]
        return tag_rollup_grouped_sql(query, keys, tag_key)
    keys, key_params = _key_sql(query, _RECORD_COLUMNS, "r.tags")
    if _rollup_serves(query):
        return export_grouped_sql(query, keys, key_params, rollup=True)
    return export_grouped_sql(query, keys, key_params)


# What the tag rollup holds besides one tag key's value (finops.models.rollups.CostTagRollup).
TAG_ROLLUP_COLUMNS = {
    "account": "r.sub_account_id",
    "provider": "r.provider_name",
    "charge_category": "r.charge_category",
    "currency": "r.billing_currency",
}
_TAG_VALUE = f"COALESCE(NULLIF(r.tag_value, ''), '{UNALLOCATED}')"


def tag_rollup_column(key: str) -> str:
    """The tag rollup's expression for a report key it holds (a tag key: the value of the rows' tag key)."""
    return _TAG_VALUE if key.startswith("tag:") else f"COALESCE({TAG_ROLLUP_COLUMNS[key]}, '')"


def tag_rollup_filters_serve(query: ReportQuery) -> bool:
    return all(name in TAG_ROLLUP_COLUMNS for name in query.filters)


def tag_rollup_key_for(tag_keys: set[str]) -> str | None:
    """The tag key whose tag-rollup rows answer a read needing at most these tag keys (any key the rollup holds when
    none is needed: each key's rows add up to every line), or None when the tag rollup cannot."""
    if len(tag_keys) > 1:
        return None
    held = CostRollupState.current_tag_keys()
    if tag_keys:
        (key,) = tag_keys
        return key if key in held else None
    return held[0] if held else None


def _tag_rollup_key(query: ReportQuery) -> str | None:
    """The tag key of the tag-rollup rows that answer the report exactly, or None."""
    if any(not key.startswith("tag:") and key not in TAG_ROLLUP_COLUMNS for key in query.aggregate):
        return None
    if not tag_rollup_filters_serve(query):
        return None
    return tag_rollup_key_for({key[4:] for key in query.aggregate if key.startswith("tag:")})


def _whole_months(start: date, end: date) -> tuple[date, date]:
    """The first and the end (exclusive) of the calendar months wholly inside [start, end); equal when none."""
    first = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = end.replace(day=1)
    return (first, last) if first < last else (first, first)


def _one_source_per_account_day(start: date, end: date) -> bool:
    """Whether no account-day in [start, end) has lines of two export formats (then month sums need no choosing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT EXISTS (SELECT 1 FROM {ExportDailyTotal._meta.db_table} WHERE day >= %s AND day < %s
                               GROUP BY sub_account_id, day HAVING COUNT(DISTINCT source) > 1)""",
            [start, end],
        )
        return not cursor.fetchone()[0]


def tag_rollup_grouped_sql(
    query: ReportQuery, keys: list[str], tag_key: str, *, where: str = "", where_params: list | None = None
) -> tuple[str, list]:
    """export_grouped_sql's select (k0..kN, period, currency, cost, missing) from the tag rollup's rows of
    `tag_key` (`keys` are expressions over them, alias r): the calendar months wholly inside the window from its
    month rows when the report's step allows and each account-day has one export format, the rest from its day
    rows with the export format chosen per account-day, as every read does."""
    filters, filter_params = _filter_sql(query, TAG_ROLLUP_COLUMNS)
    # With one export format per account-day over the window (the usual case) no day needs choosing: the rows need
    # no join, and whole months can come from month rows.
    single = _one_source_per_account_day(query.start, query.end)
    first, last = _whole_months(query.start, query.end)
    if query.step not in (None, "month") or first == last or not single:
        first = last = query.end
    basis = _RECORD_BASIS[query.cost_basis]
    missing = "r.list_cost_missing" if query.cost_basis == "list" else "0"
    select_keys = "".join(f"{expression} AS k{index}, " for index, expression in enumerate(keys))
    day_period = f"date_trunc('{_STEP_SQL[query.step]}', r.period::timestamp)::date" if query.step else "NULL::date"
    month_period = "r.period" if query.step else "NULL::date"
    measures = f"r.billing_currency AS currency, {basis} AS cost, {missing} AS missing"
    table = CostTagRollup._meta.db_table
    join = (
        ""
        if single
        else f"""
            JOIN ({_chosen_sources_sql()}) chosen
              ON chosen.sub_account_id = r.sub_account_id AND chosen.source = r.source AND chosen.day = r.period"""
    )
    scope_params = [*filter_params, *(where_params or [])]
    sql = f"""
        SELECT {"".join(f"k{index}, " for index in range(len(keys)))}period, currency, SUM(cost) AS cost,
               SUM(missing) AS missing
        FROM (
            SELECT {select_keys}{day_period} AS period, {measures}
            FROM {table} r{join}
            WHERE r.grain = 'day' AND r.tag_key = %s AND r.period >= %s AND r.period < %s
              AND NOT (r.period >= %s AND r.period < %s){filters}{where}
            UNION ALL
            SELECT {select_keys}{month_period} AS period, {measures}
            FROM {table} r
            WHERE r.grain = 'month' AND r.tag_key = %s AND r.period >= %s AND r.period < %s{filters}{where}
        ) x
        GROUP BY {", ".join([*(f"k{i}" for i in range(len(keys))), "period", "currency"])}
    """
    chosen = [] if single else [query.start, query.end]
    params = [*chosen, tag_key, query.start, query.end, first, last, *scope_params]
    return sql, [*params, tag_key, first, last, *scope_params]


# What the daily rollup holds (finops.models.rollups): every key and filter of the lines but the resource.
_ROLLUP_COLUMNS = frozenset(_RECORD_COLUMNS) - {"resource"}


def _rollup_serves(query: ReportQuery) -> bool:
    """Whether the daily rollup answers the report exactly: its keys, filters and tag keys are all in it."""
    tag_keys = None
    for key in query.aggregate:
        if key.startswith("tag:"):
            tag_keys = CostRollupState.current_tag_keys() if tag_keys is None else tag_keys
            if key[4:] not in tag_keys:
                return False
        elif key not in _ROLLUP_COLUMNS:
            return False
    return all(name in _ROLLUP_COLUMNS for name in query.filters)


def _chosen_sources_sql() -> str:
    """The one export source counted for each account-day of a window (two %s: its start and end dates)."""
    preference = " ".join(f"WHEN '{source}' THEN {rank}" for rank, source in enumerate(SOURCE_PREFERENCE))
    return f"""
        SELECT DISTINCT ON (sub_account_id, day) sub_account_id, day, source
        FROM {ExportDailyTotal._meta.db_table}
        WHERE day >= %s AND day < %s
        ORDER BY sub_account_id, day, CASE source {preference} ELSE 99 END
    """


def export_grouped_sql(
    query: ReportQuery,
    keys: list[str],
    key_params: list,
    *,
    where: str = "",
    where_params: list | None = None,
    measure: str | None = None,
    rollup: bool = False,
    table: str | None = None,
) -> tuple[str, list]:
    """SQL summing the report's cost basis over the export rows it may count, grouped by `keys` + period.

    Selects k0..kN, period, currency, cost, missing (rows without the cost basis, e.g. no list cost). With
    `rollup`, from the daily rollup instead of the lines (the same sums: `_rollup_serves` says when it can), or from
    `table`, a table with the rollup's columns (capacity's idle GPU cost per day).
    """
    start, end = _bounds(query)
    filters, filter_params = _filter_sql(query, _RECORD_COLUMNS)
    if rollup:
        return _rollup_grouped_sql(
            query, keys, key_params, filters + where, [*filter_params, *(where_params or [])], table=table
        )
    day = "(r.charge_period_start AT TIME ZONE 'UTC')::date"
    period = f"date_trunc('{_STEP_SQL[query.step]}', {day})::date" if query.step else "NULL::date"
    basis = measure or _RECORD_BASIS[query.cost_basis]
    chosen = _chosen_sources_sql()
    select_keys = "".join(f"{expression} AS k{index}, " for index, expression in enumerate(keys))
    sql = f"""
        SELECT {select_keys}{period} AS period, r.billing_currency AS currency, SUM({basis}) AS cost,
               COUNT(*) FILTER (WHERE {basis} IS NULL) AS missing
        FROM {CostRecord._meta.db_table} r
        JOIN ({chosen}) chosen
          ON chosen.sub_account_id = r.sub_account_id AND chosen.source = r.source AND chosen.day = {day}
        WHERE r.charge_period_start >= %s AND r.charge_period_start < %s{filters}{where}
        GROUP BY {", ".join([*(f"k{i}" for i in range(len(keys))), "period", "currency"])}
    """
    return sql, [*key_params, query.start, query.end, start, end, *filter_params, *(where_params or [])]


def _rollup_grouped_sql(
    query: ReportQuery, keys: list[str], key_params: list, filters: str, filter_params: list, table: str | None
) -> tuple[str, list]:
    period = f"date_trunc('{_STEP_SQL[query.step]}', r.day)::date" if query.step else "NULL::date"
    basis = _RECORD_BASIS[query.cost_basis]
    missing = "SUM(r.list_cost_missing)" if query.cost_basis == "list" else "0"
    chosen = _chosen_sources_sql()
    select_keys = "".join(f"{expression} AS k{index}, " for index, expression in enumerate(keys))
    sql = f"""
        SELECT {select_keys}{period} AS period, r.billing_currency AS currency, SUM({basis}) AS cost,
               {missing} AS missing
        FROM {table or CostDailyRollup._meta.db_table} r
        JOIN ({chosen}) chosen
          ON chosen.sub_account_id = r.sub_account_id AND chosen.source = r.source AND chosen.day = r.day
        WHERE r.day >= %s AND r.day < %s{filters}
        GROUP BY {", ".join([*(f"k{i}" for i in range(len(keys))), "period", "currency"])}
    """
    return sql, [*key_params, query.start, query.end, query.start, query.end, *filter_params]


def _cost_explorer_rows_sql(query: ReportQuery) -> tuple[str, list] | None:
    """Account-days without export data, from the `account_service` view, when it can answer."""
    if any(key not in _CE_COLUMNS for key in query.aggregate) or any(name not in _CE_COLUMNS for name in query.filters):
        return None
    if query.cost_basis not in _CE_BASIS:
        return None
    keys, _ = _key_sql(query, _CE_COLUMNS, None)
    filters, filter_params = _filter_sql(query, _CE_COLUMNS)
    period = f"date_trunc('{_STEP_SQL[query.step]}', c.day)::date" if query.step else "NULL::date"
    select_keys = "".join(f"{expression} AS k{index}, " for index, expression in enumerate(keys))
    sql = f"""
        SELECT {select_keys}{period} AS period, c.currency AS currency, SUM({_CE_BASIS[query.cost_basis]}) AS cost,
               0 AS missing
        FROM {CostExplorerRecord._meta.db_table} c
        JOIN {CloudAccount._meta.db_table} a ON a.id = c.account_id AND a.payer_id IS NULL
        WHERE c.view = %s AND c.day >= %s AND c.day < %s{filters}
          AND NOT EXISTS (SELECT 1 FROM {ExportDailyTotal._meta.db_table} e
                          WHERE e.sub_account_id = c.linked_account_id AND e.day = c.day)
        GROUP BY {", ".join([*(f"k{i}" for i in range(len(keys))), "period", "currency"])}
    """
    return sql, [CostExplorerRecord.ACCOUNT_SERVICE_VIEW, query.start, query.end, *filter_params]


def cost_rows(*, query: ReportQuery) -> list[CostRow]:
    """Cost per requested key and period over the window, each account-day counted from one source."""
    parts = [_export_rows_sql(query)]
    cost_explorer = _cost_explorer_rows_sql(query)
    if cost_explorer is not None:
        parts.append(cost_explorer)
    merged: dict[tuple, Decimal] = {}
    missing = rows_with_cost = 0
    with connection.cursor() as cursor:
        for sql, params in parts:
            cursor.execute(sql, params)
            for record in cursor.fetchall():
                *keys, period, currency, cost, missing_here = record
                missing += missing_here
                if cost is None:
                    continue
                rows_with_cost += 1
                slot = (tuple(keys), period, currency)
                merged[slot] = MONEY_CONTEXT.add(merged.get(slot, Decimal(0)), cost)
    if query.cost_basis == "list" and missing and not rows_with_cost:
        raise ReportDataError(
            "cost_basis", "The data in this window has no list cost (ListCost / public on-demand cost)."
        )
    return [
        CostRow(key=dict(zip(query.aggregate, keys, strict=True)), period=period, cost=cost, currency=currency)
        for (keys, period, currency), cost in sorted(merged.items(), key=lambda item: _sort_key(item[0]))
    ]


def currency_of(rows, *, query: ReportQuery | None = None, currency: str | None = None) -> str:
    """The one billing currency of the rows a report read (`rows`: anything with a `.currency`, or the
    currencies themselves); with `query.currency` the rows were narrowed to it already.

    Rows in several currencies without `currency=` are a 400 naming them: no exchange rate is ever guessed
    (ARCHITECTURE.md, "Currencies and billing periods").
    """
    if query is not None and query.currency:
        return query.currency
    currencies = {getattr(row, "currency", row) for row in rows}
    currencies.discard(None)
    if len(currencies) > 1:
        raise currencies_error(currencies)
    return currencies.pop() if currencies else (currency or "USD")


def _sort_key(slot: tuple) -> tuple:
    keys, period, currency = slot
    return (period or date.min, keys, currency)
