"""Rows for allocation: the export lines a report may count, grouped to the grain the rules need."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
from django.db import connection

from finops.allocation.engine import ROW_COLUMNS
from finops.reports import ReportQuery
from finops.selectors.costs import ReportDataError, currency_of, export_grouped_sql

# The columns a rule can look at, in ROW_COLUMNS order (period and cost come from the query).
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


def allocation_rows_frame(
    *, query: ReportQuery, resource_pattern: str | None = None, scopes: tuple[str, list] | None = None
) -> tuple[pd.DataFrame, str]:
    """One row per distinct (period, account, service, region, usage type, resource, charge category, tags).

    With `resource_pattern` (a case-insensitive POSIX regular expression) only the lines of resources it matches
    become rows, so a report that needs a few resources' lines (unit costs: endpoints and training jobs) does not
    group and read a year of every line; the currency and missing-cost checks still see every line of the window.
    `scopes`, an SQL condition (finops.selectors.billing_periods.scopes_where), keeps the rows of some billing periods.
    Returns the frame (ROW_COLUMNS; cost Decimal; tags dict) and the currency.
    """
    where, where_params = ("", []) if resource_pattern is None else (" AND r.resource_id ~* %s", [resource_pattern])
    if scopes is not None:
        where, where_params = where + scopes[0], [*where_params, *scopes[1]]
    sql, params = export_grouped_sql(query, list(_GRAIN), [], where=where, where_params=where_params)
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
    frame = pd.DataFrame(
        [(record[len(_GRAIN)], *record[: len(_GRAIN)], record[-2]) for record in priced],
        columns=["period", *ROW_COLUMNS[1:]],
    )
    frame = frame[list(ROW_COLUMNS)]
    frame["tags"] = _tags_read(frame["tags"])
    return frame, currency


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
    frame["tags"] = _tags_read(frame["tags"])
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
    frame["tags"] = _tags_read(frame["tags"])
    return frame


def _tags_read(tags: pd.Series) -> pd.Series:
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
