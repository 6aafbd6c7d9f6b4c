"""Allocation rules: their JSON grammar (`rules_parse`) and how they read a row's tags (`tag_columns`). Pure: no
ORM, no I/O.

Tag rules (applied when reading; stored tags never change), in this order:
1. key folding (`fold_key_case`): keys compare case-insensitively, the lower-case form is used;
2. key aliases (`aliases`: {"env": "environment"}): a key with an alias is read as its target, and
   the target's own value wins when a row has both;
3. value mappings (`value_mappings`: [{"key", "from", "to"}]), exact or case-insensitive per rule;
4. virtual tags (`virtual_tags`: [{"key", "value", "match": {...}, "override"}]): rows matching the
   filter (account, service, usage_type, region, charge_category lists; `resource_pattern` regex)
   get the value when they lack the key (or always, with override). First matching rule wins.
With no rules, tag keys match exactly as stored. An empty value is no value (`__unallocated__`).

Shared-cost rules (`shared_costs`) are parsed here and applied by finops.allocation.engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from finops.reports import UNALLOCATED

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
    # Rows read together share one dict per distinct tag set (finops/selectors/allocations.py): knowing a dict by
    # its identity spares building its signature again for each of the thousands of rows that hold it.
    by_identity: dict[int, dict[str, str]] = {}

    def lookup(tags: Mapping[str, str]) -> dict[str, str]:
        known = by_identity.get(id(tags))
        if known is not None:
            return known
        signature = repr(sorted((tags or {}).items()))
        if signature not in cache:
            cache[signature] = _resolved_tags(tags, rules)
        by_identity[id(tags)] = cache[signature]
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
