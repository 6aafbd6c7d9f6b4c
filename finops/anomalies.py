"""Cost anomaly detection on daily cost per dimension value (a service, an account, a team). Pure: pandas, no ORM.

The baseline of a day is the median of the same weekday's cost over the previous `weeks` weeks (a weekday
pattern is not an anomaly), its spread 1.4826 × the median absolute deviation (MAD: a robust standard
deviation that one earlier spike does not inflate). The score is (actual − median) / spread. A perfectly
steady history has MAD 0, so the spread has a floor: `floor_share` of the median or `floor_amount`, whichever
is larger, so a 1% wobble on a flat series is not "infinitely" anomalous. A day is an anomaly when its score
is at least `threshold` AND its impact (actual − median) at least `minimum_impact`. Only rises are flagged:
a fall in spend is not a cost problem.

A value without cost on a day has cost 0 that day; baseline weeks before the data starts do not count, and a
day needs at least `min_weeks` of them. So new spend (a value with no cost in its baseline weeks) is scored
against 0 with the floor spread: a new service worth at least the minimum impact on its first day is flagged.

One spike is usually seen along several dimensions at once (a team's runaway job is also its service's and its
account's anomaly), and often on several days running (a training job that runs for three days). `incident_groups`
says which anomalies are the same spike: those of the same or adjacent days whose rises share resources carrying at
least OVERLAP_SHARE of the smaller rise.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

MAD_SCALE = 1.4826
WEEKS = 8
MIN_WEEKS = 4
FLOOR_SHARE = 0.05
FLOOR_AMOUNT = 1.0
BASELINE_COLUMNS = ["dimension", "value", "day", "actual", "expected", "spread", "score", "impact", "weeks"]
ANOMALY_COLUMNS = ["dimension", "value", "day", "expected", "actual", "impact", "score"]
OVERLAP_SHARE = Decimal("0.5")


def _series(frame: pd.DataFrame) -> dict[tuple[str, str], dict[date, Decimal]]:
    series: dict[tuple[str, str], dict[date, Decimal]] = {}
    for dimension, value, day, cost in frame[["dimension", "value", "day", "cost"]].itertuples(index=False):
        slot = series.setdefault((dimension, value), {})
        slot[day] = slot.get(day, Decimal(0)) + Decimal(cost)
    return series


def baseline(
    frame: pd.DataFrame,
    *,
    days: Iterable[date],
    history_start: date | None = None,
    weeks: int = WEEKS,
    min_weeks: int = MIN_WEEKS,
    floor_share: float = FLOOR_SHARE,
    floor_amount: float = FLOOR_AMOUNT,
) -> pd.DataFrame:
    """The baseline and score of every dimension value on each of `days` (BASELINE_COLUMNS).

    `frame` has columns dimension, value, day (date), cost (Decimal). `history_start` is the first day the
    data covers (default: the frame's first day). Days with fewer than `min_weeks` baseline weeks are left out.
    """
    if frame.empty:
        return pd.DataFrame(columns=BASELINE_COLUMNS)
    first = history_start or min(frame["day"])
    days = sorted(set(days))
    rows = []
    for (dimension, value), costs in sorted(_series(frame).items()):
        for day in days:
            history = [day - timedelta(weeks=week) for week in range(1, weeks + 1)]
            history = [past for past in history if past >= first]
            if len(history) < min_weeks:
                continue
            past_costs = [costs.get(past, Decimal(0)) for past in history]
            expected = statistics.median(past_costs)
            mad = statistics.median(abs(cost - expected) for cost in past_costs)
            spread = max(MAD_SCALE * float(mad), floor_share * abs(float(expected)), floor_amount)
            actual = costs.get(day, Decimal(0))
            impact = actual - expected
            rows.append((dimension, value, day, actual, expected, spread, float(impact) / spread, impact, len(history)))
    return pd.DataFrame(rows, columns=BASELINE_COLUMNS)


def anomalies_detect(
    frame: pd.DataFrame,
    *,
    days: Iterable[date],
    threshold: float,
    minimum_impact: Decimal,
    history_start: date | None = None,
    weeks: int = WEEKS,
    min_weeks: int = MIN_WEEKS,
) -> pd.DataFrame:
    """The anomalous (dimension, value, day)s among `days`: ANOMALY_COLUMNS, largest impact first."""
    scored = baseline(frame, days=days, history_start=history_start, weeks=weeks, min_weeks=min_weeks)
    if scored.empty:
        return pd.DataFrame(columns=ANOMALY_COLUMNS)
    flagged = scored[(scored["score"] >= threshold) & (scored["impact"] >= Decimal(minimum_impact))]
    flagged = flagged.sort_values(["impact", "dimension", "value"], ascending=[False, True, True], key=_sortable)
    return flagged[ANOMALY_COLUMNS].reset_index(drop=True)


def _sortable(column: pd.Series) -> pd.Series:
    return column.astype(float) if column.name == "impact" else column


def contributors(frame: pd.DataFrame, *, day: date, baseline_days: list[date], column: str, top: int = 5) -> list[dict]:
    """What grew most on `day` against the median of `baseline_days`, per value of `column`.

    `frame` has columns day, `column`, cost (Decimal). Returns up to `top` dicts {column, actual, expected,
    change} (money as decimal strings), largest change first, rises only.
    """
    if frame.empty:
        return []
    per_value: dict[str, dict[date, Decimal]] = {}
    for when, name, cost in frame[["day", column, "cost"]].itertuples(index=False):
        slot = per_value.setdefault(name, {})
        slot[when] = slot.get(when, Decimal(0)) + Decimal(cost)
    rows = []
    for name, costs in per_value.items():
        actual = costs.get(day, Decimal(0))
        expected = statistics.median([costs.get(past, Decimal(0)) for past in baseline_days]) if baseline_days else 0
        change = actual - Decimal(expected)
        if change > 0:
            rows.append((change, name, actual, Decimal(expected)))
    rows.sort(key=lambda row: (-row[0], row[1]))
    return [
        {column: name, "actual": f"{actual:f}", "expected": f"{expected:f}", "change": f"{change:f}"}
        for change, name, actual, expected in rows[:top]
    ]


def incident_groups(anomalies: list[dict]) -> list[list[int]]:
    """Which anomalies are one incident: groups of positions in `anomalies`, each group's largest impact first.

    Each item has day, impact (Decimal) and resources ({resource id: its rise that day, Decimal}: the top
    contributors). Two anomalies of the same or adjacent days are the same spike when the rise they share, the sum
    over their common resources of the smaller of the two rises, is at least OVERLAP_SHARE of the smaller impact; a
    group holds every anomaly linked to it that way (a team's spike shared with its service, the service's with its
    account, Monday's with Tuesday's). Anomalies without resource contributors (Cost Explorer data names none) stay
    alone.
    """
    parent = list(range(len(anomalies)))

    def root(position: int) -> int:
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    by_day: dict[date, list[int]] = {}
    for position, item in enumerate(anomalies):
        by_day.setdefault(item["day"], []).append(position)
    for day, positions in by_day.items():
        pairs = [(a, b) for index, a in enumerate(positions) for b in positions[index + 1 :]]
        pairs += [(a, b) for a in positions for b in by_day.get(day + timedelta(days=1), [])]
        for first, second in pairs:
            if _same_spike(anomalies[first], anomalies[second]):
                parent[root(second)] = root(first)
    groups: dict[int, list[int]] = {}
    for position in range(len(anomalies)):
        groups.setdefault(root(position), []).append(position)
    ordered = [
        sorted(group, key=lambda position: (-anomalies[position]["impact"], position)) for group in groups.values()
    ]
    return sorted(ordered, key=lambda group: min(group))


def incident_impact(anomalies: list[dict]) -> Decimal:
    """An incident's impact: per day, the largest impact among its anomalies (the dimensions are views of the same
    spend, so they overlap and are never added), summed over its days (each day's rise is new spend)."""
    largest: dict[date, Decimal] = {}
    for item in anomalies:
        largest[item["day"]] = max(largest.get(item["day"], item["impact"]), item["impact"])
    return sum(largest.values(), Decimal(0))


def _same_spike(first: dict, second: dict) -> bool:
    common = set(first["resources"]) & set(second["resources"])
    if not common:
        return False
    shared = sum((min(first["resources"][name], second["resources"][name]) for name in common), Decimal(0))
    smaller = min(first["impact"], second["impact"])
    return smaller > 0 and shared >= OVERLAP_SHARE * smaller
