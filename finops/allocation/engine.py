"""Allocation on DataFrames: aggregation, shared-cost splits and idle GPU cost. Pure: no ORM, no I/O.

Input rows (one per source line or pre-grouped lines) have the columns of `ROW_COLUMNS`, with
`cost` a Decimal and `tags` a dict. Everything is exact: Decimal arithmetic in a context wide enough
for NUMERIC(38, 20) sums, so the items always add up to the total to the last digit. Tags are read
through the tag rules (finops.allocation.rules).

Shared costs (`shared_costs`: [{"name", "match", "key", "method", "percentages", "include_unallocated"}]):
rows matching a rule's filter are taken out of their own value of `key` and split across the values
of `key` that carry direct (non-shared) cost in the same period:
- `even`: equal parts;
- `proportional`: in proportion to each value's direct cost. Only positive direct costs weigh;
  when no value has a positive direct cost (all zero or credits), the split falls back to even;
- `fixed`: the given percentages (they must sum to 100), whether or not the value has direct cost.
`__unallocated__` receives a share only with `include_unallocated`. When no value can receive a share,
the cost stays where it is. Rounding: every share is cut down to SHARE_UNIT (1e-20, the stored
precision) and the remainder goes to the value with the largest share (ties: the first in key order),
so the shares add up to the shared amount exactly. The rule applies only when the report aggregates by
its key; otherwise the matched rows stay in their items and count as shared cost there.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, localcontext

import numpy as np
import pandas as pd

from finops.allocation.rules import Rules, SharedCostRule, tag_columns
from finops.reports import MONEY_CONTEXT, UNALLOCATED, money_sum

SHARE_UNIT = Decimal("1e-20")
ROW_COLUMNS = ("period", "account", "service", "region", "usage_type", "resource", "charge_category", "tags", "cost")


def split_amount(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `amount` over the weights' keys in proportion, exactly (see the module docstring)."""
    if not weights:
        return {}
    total_weight = money_sum(weights.values())
    with localcontext(MONEY_CONTEXT):
        shares = {
            key: (amount * weight / total_weight).quantize(SHARE_UNIT, rounding=ROUND_DOWN)
            for key, weight in weights.items()
        }
        remainder = amount - money_sum(shares.values())
        largest = max(
            weights, key=lambda key: (shares[key] if amount >= 0 else -shares[key], -list(weights).index(key))
        )
        shares[largest] += remainder
    return shares


def _recipients(rule: SharedCostRule, direct: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The weight of each value receiving a share of the rule's cost in one period."""
    if rule.method == "fixed":
        return dict(rule.percentages)
    values = [value for value in direct if rule.include_unallocated or value != UNALLOCATED]
    if not values:
        return {}
    if rule.method == "proportional":
        positive = {value: direct[value] for value in values if direct[value] > 0}
        if positive:
            return positive
    return {value: Decimal(1) for value in sorted(values)}


def allocate(
    frame: pd.DataFrame, *, aggregate: tuple[str, ...], rules: Rules, idle: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Items per aggregate key and period: cost, the part from shared-cost rules, and the idle GPU part.

    `frame` has ROW_COLUMNS; `period` may be None for a whole-window report. `idle`, when given, has
    ROW_COLUMNS too, its `cost` being the idle part of those lines (see `idle_costs`); it lands in the
    items of the lines' own keys (the owning team's). Returns [*aggregate, period, cost, shared_cost,
    idle_cost] sorted by period and keys.
    """
    result = _allocate(frame, aggregate=aggregate, rules=rules)
    result["idle_cost"] = [Decimal(0)] * len(result)
    if idle is None or idle.empty or result.empty:
        return result
    rows = idle.join(tag_columns(idle, [key[4:] for key in aggregate if key.startswith("tag:")], rules))
    rows["period"] = rows["period"].map(lambda value: "" if value is None or value is pd.NaT else value)
    keys = [*aggregate, "period"]
    grouped = _sums_by_key(rows.rename(columns={"cost": "idle_cost"}), keys, ["idle_cost"])
    grouped["period"] = grouped["period"].map(lambda value: None if value == "" else value)
    merged = result.drop(columns="idle_cost").merge(grouped, on=keys, how="left")
    merged["idle_cost"] = merged["idle_cost"].map(lambda value: value if isinstance(value, Decimal) else Decimal(0))
    return merged


def _allocate(frame: pd.DataFrame, *, aggregate: tuple[str, ...], rules: Rules) -> pd.DataFrame:
    columns = [*aggregate, "period", "cost", "shared_cost"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = frame.copy()
    tag_keys = [key[4:] for key in aggregate if key.startswith("tag:")]
    rule_keys = [rule.key[4:] for rule in rules.shared_costs]
    rows = rows.join(tag_columns(rows, [*tag_keys, *rule_keys], rules))
    # Internally a whole-window report has the period "" (groupby drops None keys).
    rows["period"] = rows["period"].map(lambda value: "" if value is None or value is pd.NaT else value)
    rows["shared"] = False
    rows["rule"] = -1
    for index, rule in enumerate(rules.shared_costs):
        hit = rule.match.mask(rows) & (rows["rule"] < 0)
        rows.loc[hit, "rule"] = index
    rows["shared"] = rows["rule"] >= 0
    with localcontext(MONEY_CONTEXT):
        parts = [_direct_and_unsplit(rows, aggregate, rules)]
        for index, rule in enumerate(rules.shared_costs):
            if rule.key in aggregate:
                parts.append(_split_rule(rows, index, rule, aggregate))
        pieces = pd.concat([part for part in parts if not part.empty], ignore_index=True)
        if pieces.empty:
            return pd.DataFrame(columns=columns)
        result = _sums_by_key(pieces, [*aggregate, "period"], ["cost", "shared_cost"])
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]


def _sums_by_key(frame: pd.DataFrame, keys: list[str], money: list[str]) -> pd.DataFrame:
    """Exact sums of the `money` columns per distinct `keys`, sorted by them: a groupby(...).agg(money_sum) without
    pandas' per-group overhead, which was most of a report's time on the few hundred rows the rollups give."""
    sums: dict[tuple, list[Decimal]] = {}
    add = MONEY_CONTEXT.add
    for row in zip(*(frame[name] for name in keys), *(frame[name] for name in money), strict=True):
        key, values = row[: len(keys)], row[len(keys) :]
        slot = sums.get(key)
        if slot is None:
            sums[key] = [add(Decimal(0), value) for value in values]
        else:
            for index, value in enumerate(values):
                slot[index] = add(slot[index], value)
    return pd.DataFrame([(*key, *values) for key, values in sorted(sums.items())], columns=[*keys, *money])


def _direct_and_unsplit(rows: pd.DataFrame, aggregate: tuple[str, ...], rules: Rules) -> pd.DataFrame:
    """Rows that stay in their own item: direct cost, and shared rows whose rule cannot split here."""
    stays = ~rows["shared"]
    for index, rule in enumerate(rules.shared_costs):
        if rule.key not in aggregate:
            stays |= rows["rule"] == index
    kept = rows.loc[stays, [*aggregate, "period", "cost", "shared"]].copy()
    kept["shared_cost"] = [
        cost if shared else Decimal(0) for cost, shared in zip(kept["cost"], kept["shared"], strict=True)
    ]
    return kept.drop(columns="shared")


def _split_rule(rows: pd.DataFrame, index: int, rule: SharedCostRule, aggregate: tuple[str, ...]) -> pd.DataFrame:
    """The rule's rows, re-attributed across the values of its key, period by period."""
    matched = rows[rows["rule"] == index]
    direct = rows[~rows["shared"]]
    others = [key for key in aggregate if key != rule.key]
    pieces: list[dict] = []
    direct_by_period = {period: group for period, group in direct.groupby("period", sort=False)}
    for period_value, period_rows in matched.groupby("period", sort=True):
        in_period = direct_by_period.get(period_value, direct.iloc[0:0])
        weights_by_value = {value: money_sum(group["cost"]) for value, group in in_period.groupby(rule.key, sort=True)}
        recipients = _recipients(rule, weights_by_value)
        for other_values, group in period_rows.groupby(others, sort=True) if others else [((), period_rows)]:
            other_values = other_values if isinstance(other_values, tuple) else (other_values,)
            amount = money_sum(group["cost"])
            base = dict(zip(others, other_values, strict=True))
            if not recipients:  # nobody can receive it: the cost stays with its own value
                for own_value, own in group.groupby(rule.key, sort=True):
                    cost = money_sum(own["cost"])
                    pieces.append(
                        {**base, rule.key: own_value, "period": period_value, "cost": cost, "shared_cost": cost}
                    )
                continue
            for value, share in split_amount(amount, recipients).items():
                pieces.append({**base, rule.key: value, "period": period_value, "cost": share, "shared_cost": share})
    return pd.DataFrame(pieces, columns=[*aggregate, "period", "cost", "shared_cost"])


def idle_costs(lines: pd.DataFrame, gpu_hours: pd.DataFrame) -> pd.Series:
    """Per billing line: the cost of GPU capacity it paid for but left unused, over the hours with data.

    `lines` has resource, start, end (UTC timestamps) and cost; `gpu_hours` has resource, hour and average
    (GPU utilisation, 0-100 per device). A line's cost spreads evenly over its hours; each hour with an
    average u adds that hourly cost times (1 - u/100). Hours without data add nothing: unknown is not idle.
    Returns a Series of Decimals aligned with `lines.index`.
    """
    idle = pd.Series([Decimal(0)] * len(lines), index=lines.index, dtype=object)
    if lines.empty or gpu_hours.empty:
        return idle
    known = gpu_hours[gpu_hours["average"].notna()]
    spans = ((lines["end"] - lines["start"]) / pd.Timedelta(hours=1)).map(lambda value: Decimal(repr(value))).tolist()
    costs = lines["cost"].tolist()
    with localcontext(MONEY_CONTEXT):
        # cost / span * unused share, evaluated left to right as ever: each factor is computed once, not per pair.
        unused_shares = [1 - min(max(average, Decimal(0)), Decimal(100)) / 100 for average in known["average"]]
        for line, hours in _hours_of_lines(lines, known):
            hourly_cost = costs[line] / spans[line]
            idle.iat[line] = money_sum(hourly_cost * unused_shares[hour] for hour in hours)
    return idle


def _hours_of_lines(lines: pd.DataFrame, hours: pd.DataFrame):
    """(line position, positions of its resource's hours in [start, end), in `hours`' order) for each line with any.

    A sorted search per resource rather than a join of every line with every hour of its resource.
    """
    hour_times = _nanoseconds(hours["hour"])
    starts, ends = _nanoseconds(lines["start"]), _nanoseconds(lines["end"])
    hours_by_resource = hours.groupby("resource", sort=False).indices
    for resource, line_positions in lines.groupby("resource", sort=False).indices.items():
        positions = hours_by_resource.get(resource)
        if positions is None:
            continue
        positions = positions[np.argsort(hour_times[positions], kind="stable")]
        times = hour_times[positions]
        lows = np.searchsorted(times, starts[line_positions], side="left")
        highs = np.searchsorted(times, ends[line_positions], side="left")
        for line, low, high in zip(line_positions, lows, highs, strict=True):
            if high > low:
                yield int(line), np.sort(positions[low:high]).tolist()


def _nanoseconds(timestamps: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(timestamps).as_unit("ns").asi8
