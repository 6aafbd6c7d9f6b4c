"""Rows for allocation: the export lines a report may count, grouped to the grain the rules need."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
from django.db import connection

from finops.allocation.engine import ROW_COLUMNS
from finops.allocation.rules import RowFilter, Rules
from finops.models import CostRollupState
from finops.reports import ReportQuery
from finops.selectors.costs import (
    _ROLLUP_COLUMNS,
    ReportDataError,
    currency_of,
    export_grouped_sql,
    tag_rollup_column,
    tag_rollup_filters_serve,
    tag_rollup_grouped_sql,
    tag_rollup_key_for,
)

# The columns a rule can look at, in ROW_COLUMNS order (period and cost come from the query). Also the columns of
# capacity's idle GPU cost per day, which has the lines' names.
# Null text (FOCUS: no value) reads as "" here: the rules match on strings and pandas drops null group keys.
_GRAIN = (
    "r.sub_account_id",
    "COALESCE(r.service_name, '')",
    "COALESCE(r.region_id, '')",
    "COALESCE(r.usage_type, '')",
    "COALESCE(r.resource_id, '')",
    "r.charge_category",
    "r.tags",
)
_LINE_PERIOD = ("charge_period_start", "charge_period_end")
# The rows' columns from the daily rollup (no resource) and from the tag rollup (one tag key; no service, region,
# usage type or resource): what the rules see there.
_ROLLUP_GRAIN = (*_GRAIN[:4], "''", *_GRAIN[5:])
_ROLLUP_FILTER_FIELDS = frozenset({"account", "service", "region", "usage_type", "charge_category"})
_TAG_ROLLUP_FILTER_FIELDS = frozenset({"account", "charge_category"})


def _tag_keys_read(rules: Rules, keys: set[str]) -> set[str] | None:
    """The stored tag keys whose values decide `keys` under the rules, or None when that cannot be told from a
    fixed set (keys folded to lower case compare with every spelling)."""
    if rules.fold_key_case:
        return None
    return {key for key in keys if key not in rules.aliases} | {
        source for source, target in rules.aliases.items() if target in keys
    }


def _filters_within(filters: list[RowFilter], fields: frozenset[str]) -> bool:
    return all(match.resource_pattern is None and set(match.values) <= fields for match in filters)


_COLUMN_NAMES = ("account", "service", "region", "usage_type", "resource", "charge_category")  # _GRAIN's, before tags


def _columns_needed(rules: Rules, aggregate: tuple[str, ...]) -> set[str]:
    """The row columns that the keys and the rules' filters look at."""
    needed = {key for key in aggregate if not key.startswith("tag:")}
    for match in [rule.match for rule in rules.shared_costs] + [virtual.match for virtual in rules.virtual_tags]:
        needed |= set(match.values)
        if match.resource_pattern is not None:
            needed.add("resource")
    return needed


def rows_source(query: ReportQuery, rules: Rules, aggregate: tuple[str, ...]) -> tuple[str, str | None]:
    """Where allocation rows by `aggregate` under `rules` are read exactly: ("tags", key) from the tag rollup,
    ("daily", None) from the daily rollup, or ("lines", None) from the billing lines.

    A rollup serves when the keys, the query's filters and the filters of the rules that decide its tag keys
    (virtual tags, shared costs) look only at columns it keeps, and every stored tag key they read is one it holds.
    """
    columns = {key for key in aggregate if not key.startswith("tag:")}
    needed = {key[4:] for key in aggregate if key.startswith("tag:")} | {rule.key[4:] for rule in rules.shared_costs}
    read = _tag_keys_read(rules, needed)
    if read is None:
        return "lines", None
    matches = [rule.match for rule in rules.shared_costs]
    matches += [virtual.match for virtual in rules.virtual_tags if virtual.key in needed]
    single = read == needed and len(needed) <= 1 and columns <= _TAG_ROLLUP_FILTER_FIELDS
    if single and tag_rollup_filters_serve(query) and _filters_within(matches, _TAG_ROLLUP_FILTER_FIELDS):
        key = tag_rollup_key_for(needed)
        if key is not None:
            return "tags", key
    held = set(CostRollupState.current_tag_keys())
    kept = columns | set(query.filters) <= _ROLLUP_COLUMNS
    if read <= held and kept and _filters_within(matches, _ROLLUP_FILTER_FIELDS):
        return "daily", None
    return "lines", None


def allocation_rows_frame(
    *,
    query: ReportQuery,
    resource_pattern: str | None = None,
    scopes: tuple[str, list] | None = None,
    rules: Rules | None = None,
    aggregate: tuple[str, ...] = (),
    only_needed: bool = False,
) -> tuple[pd.DataFrame, str]:
    """One row per distinct (period, account, service, region, usage type, resource, charge category, tags).

    With `resource_pattern` (a case-insensitive POSIX regular expression) only the lines of resources it matches
    become rows, so a report that needs a few resources' lines (unit costs: endpoints and training jobs) does not
    group and read a year of every line; the currency and missing-cost checks still see every line of the window.
    `scopes`, an SQL condition (finops.selectors.billing_periods.scopes_where), keeps the rows of some billing periods.
    With `rules` (and the report's `aggregate`), the rows come from a rollup when it holds all the rules and keys
    look at (`rows_source`): fewer rows, the same sums. With `only_needed` as well, the columns neither the keys nor the
    rules look at are "" (allocation needs no more), so the rows are grouped without them: fewer still.
    Returns the frame (ROW_COLUMNS; cost Decimal; tags dict) and the currency.
    """
    where, where_params = ("", []) if resource_pattern is None else (" AND r.resource_id ~* %s", [resource_pattern])
    if scopes is not None:
        where, where_params = where + scopes[0], [*where_params, *scopes[1]]
    source, tag_key = ("lines", None) if rules is None or resource_pattern else rows_source(query, rules, aggregate)
    if source == "tags":
        grain = [tag_rollup_column("account"), "''", "''", "''", "''", "r.charge_category"]
        tagged = any(key.startswith("tag:") for key in aggregate) or rules.shared_costs
        grain.append("jsonb_build_object(r.tag_key, r.tag_value)" if tagged else "'{}'::jsonb")
    else:
        grain = list(_ROLLUP_GRAIN if source == "daily" else _GRAIN)
    if only_needed and rules is not None:
        needed = _columns_needed(rules, aggregate)
        kept = zip(_COLUMN_NAMES, grain[:6], strict=True)
        grain = [expression if name in needed else "''" for name, expression in kept] + grain[6:]
    if source == "tags":
        sql, params = tag_rollup_grouped_sql(query, grain, tag_key, where=where, where_params=where_params)
    else:
        sql, params = export_grouped_sql(
            query, grain, [], where=where, where_params=where_params, rollup=source == "daily"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = cursor.fetchall()
        if resource_pattern is None:
            checked = [record[len(_GRAIN) + 1 :] for record in records]
        else:  # one row per currency: (currency, cost, missing) over every line of the window
            cursor.execute(*export_grouped_sql(dataclasses.replace(query, step=None), [], []))
            checked = [record[1:] for record in cursor.fetchall()]
    currency = currency_of({currency for currency, _cost, _missing in checked}, query=query)
    missing = sum(missing for _currency, _cost, missing in checked)
    priced = [record for record in records if record[-2] is not None]
    any_priced = any(cost is not None for _currency, cost, _missing in checked)
    if query.cost_basis == "list" and missing and not any_priced:
        raise ReportDataError(
            "cost_basis", "The data in this window has no list cost (ListCost / public on-demand cost)."
        )
    return _rows_frame(priced, len(_GRAIN)), currency


def untagged_lines_frame(*, query: ReportQuery, rules: Rules, key: str) -> pd.DataFrame | None:
    """The lines (ROW_COLUMNS) that may lack tag `key` after the rules: those whose stored tags hold none of the keys
    the rules read it from (a rule can add the key, never take it away), or None when the rules read it from keys
    no fixed set names (folded case). Tag coverage's top untagged resources need these lines only."""
    read = _tag_keys_read(rules, {key})
    if read is None:
        return None
    where = "".join(" AND COALESCE(r.tags ->> %s, '') = ''" for _ in sorted(read))
    sql, params = export_grouped_sql(query, list(_GRAIN), [], where=where, where_params=sorted(read))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = [record for record in cursor.fetchall() if record[-2] is not None]
    return _rows_frame(records, len(_GRAIN))


def _rows_frame(records: list[tuple], width: int) -> pd.DataFrame:
    """ROW_COLUMNS from export_grouped_sql's records over the grain (priced records only)."""
    frame = pd.DataFrame(
        [(record[width], *record[:width], record[-2]) for record in records], columns=["period", *ROW_COLUMNS[1:]]
    )
    frame = frame[list(ROW_COLUMNS)]
    frame["tags"] = tags_read(frame["tags"])
    return frame


def daily_table_rows_frame(*, query: ReportQuery, table: str, scopes: tuple[str, list] | None = None) -> pd.DataFrame:
    """Rows (ROW_COLUMNS, cost Decimal, tags dict) from `table`, a table with the daily rollup's columns plus the
    resource and every tag of the lines (capacity's idle GPU cost per day), grouped as allocation_rows_frame
    groups the lines; `scopes` as there."""
    where, where_params = scopes or ("", [])
    sql, params = export_grouped_sql(
        query, list(_GRAIN), [], where=where, where_params=where_params, rollup=True, table=table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = [record for record in cursor.fetchall() if record[-2] is not None]
    return _rows_frame(records, len(_GRAIN)) if records else pd.DataFrame(columns=list(ROW_COLUMNS))


def resource_lines_frame(
    *, query: ReportQuery, resource_ids: list[str], scopes: tuple[str, list] | None = None
) -> pd.DataFrame:
    """The lines of the given resources at their own grain: ROW_COLUMNS plus start and end (UTC); `scopes` as in
    allocation_rows_frame."""
    if not resource_ids:
        return pd.DataFrame(columns=[*ROW_COLUMNS, "start", "end"])
    # Start and end leave Postgres as microseconds since the epoch, which pandas reads at once (datetimes one by one
    # were most of this read's time).
    grain = [*_GRAIN, *(f"(EXTRACT(EPOCH FROM r.{column}) * 1000000)::bigint" for column in _LINE_PERIOD)]
    scope_sql, scope_params = scopes or ("", [])
    sql, params = export_grouped_sql(
        query,
        grain,
        [],
        where=" AND COALESCE(r.resource_id, '') = ANY(%s)" + scope_sql,
        where_params=[list(resource_ids), *scope_params],
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = [record for record in cursor.fetchall() if record[-2] is not None]
    width = len(grain)
    frame = pd.DataFrame(
        [
            (record[width], *record[: len(_GRAIN)], record[-2], record[width - 2], record[width - 1])
            for record in records
        ],
        columns=["period", *ROW_COLUMNS[1:], "start", "end"],
    )
    frame["tags"] = tags_read(frame["tags"])
    for name in ("start", "end"):
        frame[name] = pd.to_datetime(frame[name].astype("int64"), unit="us", utc=True).dt.as_unit("ns")
    return frame[[*ROW_COLUMNS, "start", "end"]]


def usage_quantity_frame(*, query: ReportQuery) -> pd.DataFrame:
    """Usage lines' quantities per day: period, account, service, region, usage_type, tags, pricing_unit, quantity.

    The same export rows as the reports (one format per account-day); `query.step` should be "day".
    """
    grain = [*_GRAIN[:4], "r.tags", "COALESCE(r.pricing_unit, '')"]
    sql, params = export_grouped_sql(
        query, grain, [], where=" AND r.charge_category = 'usage' AND r.pricing_quantity IS NOT NULL",
        measure="r.pricing_quantity",
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        records = [record for record in cursor.fetchall() if record[-2] is not None]
    width = len(grain)
    frame = pd.DataFrame(
        [(record[width], *record[:width], record[-2]) for record in records],
        columns=["period", "account", "service", "region", "usage_type", "tags", "pricing_unit", "quantity"],
    )
    frame["tags"] = tags_read(frame["tags"])
    return frame


def tags_read(tags: pd.Series) -> pd.Series:
    """Tags as dicts (Django reads jsonb as text; the rules want dicts), each distinct text parsed once: rows with
    the same tags share one dict, which nothing may change."""
    parsed: dict[str, dict] = {}

    def read(text) -> dict:
        if not isinstance(text, str):
            return text or {}
        if text not in parsed:
            parsed[text] = json.loads(text)
        return parsed[text]

    return tags.map(read)
