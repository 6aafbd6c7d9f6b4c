"""Idle GPU cost per day (capacity.models.IdleGpuCostDaily), kept equal to what the billing lines and the GPU hours
say: rebuilt per billing scope when the scope's lines change (finops.signals.billing_scopes_rebuilt, in the
import's transaction) and per resource and month when GPU hours are stored (UtilisationHour's queryset).

Each line of a GPU machine, at its own start and end, gets finops.allocation.engine.idle_costs of its billed,
effective and list cost; the parts are summed per UTC day of the line's start and the line's other columns.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
from django.db import connection

from capacity.models import IdleGpuCostDaily
from capacity.selectors.metering import gpu_hours_frame, gpu_resource_ids
from finops.allocation.engine import idle_costs
from finops.reports import money_sum
from finops.rollup_sql import GROUPED

TABLE = IdleGpuCostDaily._meta.db_table
KEYS = (*GROUPED, "resource_id")  # the daily rollup's columns and the resource
_BASES = ("billed_cost", "effective_cost", "list_cost")


def _scopes_where(scopes) -> tuple[str, list]:
    values = ", ".join(["(%s, %s, %s::date)"] * len(scopes))
    return (
        f"(r.source, r.billing_account_id, r.billing_period_start) IN (VALUES {values})",
        [value for scope in sorted(scopes) for value in scope],
    )


def idle_costs_rebuild_scopes(cursor, scopes) -> int:
    """Rebuild the idle rows of these billing scopes (None: all); returns the rows written."""
    if scopes is None:
        return _rebuild(cursor, "TRUE", [], "TRUE", [])
    if not scopes:
        return 0
    where, params = _scopes_where(scopes)
    return _rebuild(cursor, where, params, where, params)


def idle_costs_rebuild_resources(cursor, *, resource_ids: list[str], start: datetime, end: datetime) -> int:
    """Rebuild the idle rows of these machines (billing resource ids) for the lines starting from the month before
    `start`'s to the end of `end`'s month: GPU hours in [start, end) change the idle part of the lines over them."""
    if not resource_ids:
        return 0
    first = (start.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    last = (end.date().replace(day=28) + timedelta(days=4)).replace(day=1)
    lines_where = "r.resource_id = ANY(%s) AND r.charge_period_start >= %s AND r.charge_period_start < %s"
    idle_where = "r.resource_id = ANY(%s) AND r.day >= %s AND r.day < %s"
    params = [list(resource_ids), first, last]
    return _rebuild(cursor, lines_where, params, idle_where, params)


def idle_costs_drop_before(cursor, before: date) -> None:
    cursor.execute(f"DELETE FROM {TABLE} WHERE billing_period_start < %s", [before])


def idle_costs_rebuild_all() -> int:
    with connection.cursor() as cursor:
        return idle_costs_rebuild_scopes(cursor, None)


def _rebuild(cursor, lines_where: str, lines_params: list, idle_where: str, idle_params: list) -> int:
    cursor.execute(f"DELETE FROM {TABLE} r WHERE {idle_where}", idle_params)
    resource_ids = gpu_resource_ids()
    if not resource_ids:
        return 0
    lines = _lines(cursor, lines_where, lines_params, resource_ids)
    if lines.empty:
        return 0
    start = lines["start"].min().date()
    end = lines["end"].max().date() + timedelta(days=1)
    hours = gpu_hours_frame(resource_ids=sorted(set(lines["resource"])), start=start, end=end)
    if hours.empty:
        return 0
    for basis in _BASES:
        priced = lines[basis].notna()
        idle = pd.Series([None] * len(lines), index=lines.index, dtype=object)
        if priced.any():
            idle[priced] = idle_costs(lines[priced].assign(cost=lines.loc[priced, basis]), hours)
        lines[f"idle_{basis}"] = idle
    lines["day"] = lines["start"].dt.date
    grouped = lines.groupby(["day", *KEYS, "tags"], sort=True, dropna=False)
    rows = []
    for key, group in grouped:
        idle = [_sum_or_none(group[f"idle_{basis}"]) for basis in _BASES]
        if all(value is None or value == 0 for value in idle):
            continue
        day, *columns, tags = key
        rows.append(
            (day, *(None if pd.isna(value) else value for value in columns), tags,
             idle[0] or 0, idle[1] or 0, idle[2], int(group["list_missing"].sum()))
        )  # fmt: skip
    if rows:
        placeholders = ", ".join(["%s"] * (len(KEYS) + 1) + ["%s::jsonb"] + ["%s"] * 4)
        cursor.executemany(
            f"INSERT INTO {TABLE} (day, {', '.join(KEYS)}, tags, billed_cost, effective_cost, list_cost,"
            f" list_cost_missing) VALUES ({placeholders})",
            rows,
        )
    return len(rows)


def _sum_or_none(values: pd.Series):
    known = [value for value in values if value is not None]
    return money_sum(known) if known else None


def _lines(cursor, where: str, params: list, resource_ids: list[str]) -> pd.DataFrame:
    keys = ", ".join(f"r.{name}" for name in KEYS)
    cursor.execute(
        f"""
        SELECT {keys}, r.tags::text,
               (EXTRACT(EPOCH FROM r.charge_period_start) * 1000000)::bigint,
               (EXTRACT(EPOCH FROM r.charge_period_end) * 1000000)::bigint,
               SUM(r.billed_cost), SUM(r.effective_cost), SUM(r.list_cost),
               COUNT(*) FILTER (WHERE r.list_cost IS NULL)
        FROM finops_costrecord r
        WHERE r.resource_id = ANY(%s) AND {where}
        GROUP BY {keys}, r.tags, r.charge_period_start, r.charge_period_end
        """,
        [list(resource_ids), *params],
    )
    frame = pd.DataFrame(
        cursor.fetchall(), columns=[*KEYS, "tags", "start", "end", *_BASES, "list_missing"], dtype=object
    )
    if frame.empty:
        return frame
    frame["resource"] = frame["resource_id"]
    frame["tags"] = frame["tags"].map(lambda text: json.dumps(json.loads(text), sort_keys=True) if text else "{}")
    for name in ("start", "end"):
        frame[name] = pd.to_datetime(frame[name].astype("int64"), unit="us", utc=True).dt.as_unit("ns")
    return frame
