"""Allocation on DataFrames: tag rules, aggregation and shared-cost splits. Pure: no ORM, no I/O.

Input rows (one per source line or pre-grouped lines) have the columns of `ROW_COLUMNS`, with
`cost` a Decimal and `tags` a dict. Everything is exact: Decimal arithmetic in a context wide enough
for NUMERIC(38, 20) sums, so the items always add up to the total to the last digit.

Tag rules (applied when reading; stored tags never change), in this order:
1. key folding (`fold_key_case`): keys compare case-insensitively, the lower-case form is used;
2. key aliases (`aliases`: {"env": "environment"}): a key with an alias is read as its target, and
   the target's own value wins when a row has both;
3. value mappings (`value_mappings`: [{"key", "from", "to"}]), exact or case-insensitive per rule;
4. virtual tags (`virtual_tags`: [{"key", "value", "match": {...}, "override"}]): rows matching the
   filter (account, service, usage_type, region, charge_category lists; `resource_pattern` regex)
   get the value when they lack the key (or always, with override). First matching rule wins.
With no rules, tag keys match exactly as stored. An empty value is no value (`__unallocated__`).

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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext

import pandas as pd

from finops.reports import MONEY_CONTEXT, UNALLOCATED

SHARE_UNIT = Decimal("1e-20")
ROW_COLUMNS = ("period", "account", "service", "region", "usage_type", "resource", "charge_category", "tags", "cost")
FILTER_FIELDS = ("account", "service", "region", "usage_type", "charge_category")
SPLIT_METHODS = ("even", "proportional", "fixed")


class RulesError(ValueError):
    """Rules that cannot be applied; `.errors` maps a path in the rules document to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class RowFilter:
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    resource_pattern: re.Pattern | None = None

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        selected = pd.Series(True, index=frame.index)
        for name, allowed in self.values.items():
            selected &= frame[name].isin(allowed)
        if self.resource_pattern is not None:
            selected &= frame["resource"].map(lambda value: bool(self.resource_pattern.search(value or "")))
        return selected


@dataclass(frozen=True)
class VirtualTag:
    key: str
    value: str
    match: RowFilter
    override: bool = False


@dataclass(frozen=True)
class SharedCostRule:
    name: str
    match: RowFilter
    key: str
    method: str = "proportional"
    percentages: Mapping[str, Decimal] = field(default_factory=dict)
    include_unallocated: bool = False


@dataclass(frozen=True)
class Rules:
    fold_key_case: bool = False
    aliases: Mapping[str, str] = field(default_factory=dict)
    value_mappings: tuple[tuple[str, str, str, bool], ...] = ()  # key, from, to, case-insensitive
    virtual_tags: tuple[VirtualTag, ...] = ()
    shared_costs: tuple[SharedCostRule, ...] = ()


def _filter_parse(document: Mapping, path: str, errors: dict[str, list[str]]) -> RowFilter:
    values: dict[str, frozenset[str]] = {}
    pattern = None
    for name, given in (document or {}).items():
        if name == "resource_pattern":
            try:
                pattern = re.compile(str(given))
            except re.error as error:
                errors.setdefault(f"{path}.resource_pattern", []).append(f"Not a regular expression: {error}.")
        elif name in FILTER_FIELDS:
            items = [given] if isinstance(given, str) else list(given or [])
            values[name] = frozenset(str(item) for item in items)
        else:
            errors.setdefault(f"{path}.{name}", []).append(
                f"Unknown filter; use {', '.join(FILTER_FIELDS)} or resource_pattern."
            )
    if not values and pattern is None:
        errors.setdefault(path, []).append("A filter needs at least one condition.")
    return RowFilter(values=values, resource_pattern=pattern)


def rules_parse(document: Mapping | None) -> Rules:
    """Rules from their JSON document; raises RulesError naming every problem."""
    document = document or {}
    errors: dict[str, list[str]] = {}
    known = {"fold_key_case", "aliases", "value_mappings", "virtual_tags", "shared_costs"}
    for unknown in set(document) - known:
        errors.setdefault(unknown, []).append(f"Unknown section; use {', '.join(sorted(known))}.")
    fold = bool(document.get("fold_key_case", False))
    fold_key = str.lower if fold else str
    aliases = {
        fold_key(str(source)): fold_key(str(target)) for source, target in (document.get("aliases") or {}).items()
    }
    for source, target in aliases.items():
        if not source or not target or source == target:
            errors.setdefault(f"aliases.{source}", []).append("An alias maps one non-empty key to another.")
        if target in aliases:
            errors.setdefault(f"aliases.{source}", []).append(f"'{target}' is itself an alias; aliases do not chain.")
    mappings = []
    for index, mapping in enumerate(document.get("value_mappings") or []):
        if not all(mapping.get(name) not in (None, "") for name in ("key", "from", "to")):
            errors.setdefault(f"value_mappings[{index}]", []).append("A value mapping needs key, from and to.")
            continue
        mappings.append(
            (fold_key(mapping["key"]), str(mapping["from"]), str(mapping["to"]), bool(mapping.get("ignore_case")))
        )
    virtual = []
    for index, rule in enumerate(document.get("virtual_tags") or []):
        path = f"virtual_tags[{index}]"
        if not rule.get("key") or rule.get("value") in (None, ""):
            errors.setdefault(path, []).append("A virtual tag needs a key and a value.")
            continue
        match = _filter_parse(rule.get("match") or {}, f"{path}.match", errors)
        virtual.append(VirtualTag(fold_key(rule["key"]), str(rule["value"]), match, bool(rule.get("override"))))
    shared = []
    for index, rule in enumerate(document.get("shared_costs") or []):
        path = f"shared_costs[{index}]"
        method = rule.get("method", "proportional")
        if method not in SPLIT_METHODS:
            errors.setdefault(f"{path}.method", []).append(f"Use {', '.join(SPLIT_METHODS)}.")
        key = str(rule.get("key") or "")
        if not key.startswith("tag:") or len(key) < 5:
            errors.setdefault(f"{path}.key", []).append("Split across a tag key, for example tag:team.")
        percentages: dict[str, Decimal] = {}
        if method == "fixed":
            try:
                percentages = {
                    str(value): Decimal(str(share)) for value, share in (rule.get("percentages") or {}).items()
                }
            except ArithmeticError:
                errors.setdefault(f"{path}.percentages", []).append("Percentages must be numbers.")
            if not percentages or sum(percentages.values()) != 100 or any(share < 0 for share in percentages.values()):
                errors.setdefault(f"{path}.percentages", []).append("Fixed percentages must be >= 0 and sum to 100.")
        match = _filter_parse(rule.get("match") or {}, f"{path}.match", errors)
        shared.append(
            SharedCostRule(
                name=str(rule.get("name") or f"shared rule {index + 1}"),
                match=match,
                key=key[:4] + fold_key(key[4:]) if key.startswith("tag:") else key,
                method=method,
                percentages=percentages,
                include_unallocated=bool(rule.get("include_unallocated")),
            )
        )
    if errors:
        raise RulesError(errors)
    return Rules(fold, aliases, tuple(mappings), tuple(virtual), tuple(shared))


def _resolved_tags(tags: Mapping[str, str], rules: Rules) -> dict[str, str]:
    """A row's tags as the rules read them (steps 1-3; virtual tags need the row and come later)."""
    resolved: dict[str, str] = {}
    aliased: dict[str, str] = {}
    for raw_key, value in (tags or {}).items():
        if value in (None, ""):
            continue
        key = raw_key.lower() if rules.fold_key_case else raw_key
        if key in rules.aliases:
            aliased.setdefault(rules.aliases[key], value)
        else:
            resolved.setdefault(key, value)
    for key, value in aliased.items():
        resolved.setdefault(key, value)
    for key, source, target, ignore_case in rules.value_mappings:
        value = resolved.get(key)
        if value is not None and (value == source or (ignore_case and value.lower() == source.lower())):
            resolved[key] = target
    return resolved


def tag_columns(frame: pd.DataFrame, keys: Iterable[str], rules: Rules) -> pd.DataFrame:
    """The value of each tag key per row after the rules, `__unallocated__` where the row has none."""
    keys = list(dict.fromkeys(keys))
    fold = str.lower if rules.fold_key_case else str
    wanted = {key: fold(key) for key in keys}
    cache: dict[str, dict[str, str]] = {}

    def lookup(tags: Mapping[str, str]) -> dict[str, str]:
        signature = repr(sorted((tags or {}).items()))
        if signature not in cache:
            cache[signature] = _resolved_tags(tags, rules)
        return cache[signature]

    resolved = frame["tags"].map(lookup)
    columns = pd.DataFrame(index=frame.index)
    for key, folded in wanted.items():
        column = resolved.map(lambda tags, name=folded: tags.get(name, UNALLOCATED))
        for virtual in rules.virtual_tags:
            if virtual.key != folded:
                continue
            hit = virtual.match.mask(frame)
            if not virtual.override:
                hit &= column == UNALLOCATED
            column = column.where(~hit, virtual.value)
        columns[f"tag:{key}"] = column
    return columns


def _money_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = MONEY_CONTEXT.add(total, value)
    return total


def split_amount(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `amount` over the weights' keys in proportion, exactly (see the module docstring)."""
    if not weights:
        return {}
    total_weight = _money_sum(weights.values())
    with localcontext(MONEY_CONTEXT):
        shares = {
            key: (amount * weight / total_weight).quantize(SHARE_UNIT, rounding=ROUND_DOWN)
            for key, weight in weights.items()
        }
        remainder = amount - _money_sum(shares.values())
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
    with localcontext(MONEY_CONTEXT):
        grouped = rows.groupby(keys, sort=False, dropna=False).agg(idle_cost=("cost", _money_sum)).reset_index()
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
        keys = [*aggregate, "period"]
        grouped = pieces.groupby(keys, sort=True, dropna=False).agg(
            cost=("cost", _money_sum), shared_cost=("shared_cost", _money_sum)
        )
    result = grouped.reset_index()
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]


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
        weights_by_value = {value: _money_sum(group["cost"]) for value, group in in_period.groupby(rule.key, sort=True)}
        recipients = _recipients(rule, weights_by_value)
        for other_values, group in period_rows.groupby(others, sort=True) if others else [((), period_rows)]:
            other_values = other_values if isinstance(other_values, tuple) else (other_values,)
            amount = _money_sum(group["cost"])
            base = dict(zip(others, other_values, strict=True))
            if not recipients:  # nobody can receive it: the cost stays with its own value
                for own_value, own in group.groupby(rule.key, sort=True):
                    cost = _money_sum(own["cost"])
                    pieces.append(
                        {**base, rule.key: own_value, "period": period_value, "cost": cost, "shared_cost": cost}
                    )
                continue
            for value, share in split_amount(amount, recipients).items():
                pieces.append({**base, rule.key: value, "period": period_value, "cost": share, "shared_cost": share})
    return pd.DataFrame(pieces, columns=[*aggregate, "period", "cost", "shared_cost"])


def tag_coverage(frame: pd.DataFrame, *, key: str, rules: Rules) -> pd.DataFrame:
    """Per period and account: usage cost, the part carrying `key` (after the rules), and the share.

    Only usage rows count: taxes, credits and purchases carry no resource tags by nature.
    Returns columns period, account, cost, tagged_cost, coverage (Decimal share 0..1, None when no cost).
    """
    columns = ["period", "account", "cost", "tagged_cost", "coverage"]
    usage = frame[frame["charge_category"] == "usage"]
    if usage.empty:
        return pd.DataFrame(columns=columns)
    usage = usage.assign(tagged=tag_columns(usage, [key], rules)[f"tag:{key}"] != UNALLOCATED)
    usage = usage.assign(period=usage["period"].map(lambda value: "" if value is None else value))
    with localcontext(MONEY_CONTEXT):
        usage = usage.assign(
            tagged_cost=[
                cost if tagged else Decimal(0) for cost, tagged in zip(usage["cost"], usage["tagged"], strict=True)
            ]
        )
        grouped = usage.groupby(["period", "account"], sort=True).agg(
            cost=("cost", _money_sum), tagged_cost=("tagged_cost", _money_sum)
        )
        grouped["coverage"] = [
            (tagged / cost).quantize(Decimal("0.0001")) if cost > 0 else None
            for tagged, cost in zip(grouped["tagged_cost"], grouped["cost"], strict=True)
        ]
    result = grouped.reset_index()
    result["period"] = result["period"].map(lambda value: None if value == "" else value)
    return result[columns]


def untagged_resources(frame: pd.DataFrame, *, key: str, rules: Rules, top: int = 20) -> pd.DataFrame:
    """The resources with the most cost lacking `key` (after the rules): resource, account, service, cost."""
    columns = ["resource", "account", "service", "cost"]
    with_resource = frame[frame["resource"].fillna("") != ""]
    if with_resource.empty:
        return pd.DataFrame(columns=columns)
    lacking = with_resource[tag_columns(with_resource, [key], rules)[f"tag:{key}"] == UNALLOCATED]
    if lacking.empty:
        return pd.DataFrame(columns=columns)
    with localcontext(MONEY_CONTEXT):
        grouped = lacking.groupby(["resource", "account", "service"], sort=True).agg(cost=("cost", _money_sum))
    return grouped.reset_index().sort_values("cost", ascending=False, kind="stable").head(top)[columns]


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
    joined = lines[["resource", "start", "end", "cost"]].reset_index(names="line").merge(known, on="resource")
    joined = joined[(joined["hour"] >= joined["start"]) & (joined["hour"] < joined["end"])]
    if joined.empty:
        return idle
    hours = ((joined["end"] - joined["start"]) / pd.Timedelta(hours=1)).map(lambda value: Decimal(repr(value)))
    with localcontext(MONEY_CONTEXT):
        unused = [
            cost / span * (1 - min(max(average, Decimal(0)), Decimal(100)) / 100)
            for cost, span, average in zip(joined["cost"], hours, joined["average"], strict=True)
        ]
        joined = joined.assign(idle=unused)
        per_line = joined.groupby("line").agg(idle=("idle", _money_sum))["idle"]
    idle.loc[per_line.index] = per_line
    return idle
