"""The Reports API's request grammar (ARCHITECTURE.md, "Reports API"), parsed and checked. Pure.

`report_query_parse(params, today=...)` turns query parameters into a ReportQuery or raises
ReportQueryError whose `.errors` is `{PARAM: [message, ...]}`, the body of a 400. `money_round_to_total` and
`money_text` are how money leaves a report: at most MONEY_PLACES fractional digits, items summing to the total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal

WINDOWS_RELATIVE = ("7d", "30d", "90d", "mtd", "ytd", "lastmonth")
KEYS = ("account", "service", "region", "usage_type", "resource", "charge_category", "provider", "invoice_issuer")
COST_BASES = ("billed", "effective", "list")
STEPS = ("day", "week", "month")
FILTERS = ("account", "service", "region", "charge_category", "provider")
CHARGE_CATEGORIES = ("usage", "purchase", "tax", "credit", "adjustment")
# Every parameter report_query_parse reads (an API endpoint answers 400 to any other: config.api).
REPORT_PARAMS = ("window", "aggregate", "cost_basis", "step", *FILTERS, "currency")
# Tag keys as FOCUS and AWS allow them: up to 1,024 characters, colons and commas included.
TAG_KEY_MAX = 1024
UNALLOCATED = "__unallocated__"
# Stored money has 38 digits (20 fractional); sums need more than Decimal's default 28.
MONEY_CONTEXT = Context(prec=80)
# Money leaves a report with at most the stored precision: NUMERIC(38, 20).
MONEY_PLACES = 20
MONEY_UNIT = Decimal(1).scaleb(-MONEY_PLACES)
_TAG_KEY = re.compile(rf"^tag:(?P<key>.{{1,{TAG_KEY_MAX}}})$", re.DOTALL)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ReportError(ValueError):
    """A report cannot be answered; `errors` is {parameter: [message, ...]}, the API's 400 body."""

    errors: dict[str, list[str]]

    @property
    def messages(self) -> list[str]:
        """Every message, for a page that shows them in one list."""
        return [message for messages in self.errors.values() for message in messages]


class ReportQueryError(ReportError):
    """The request is malformed."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class ReportDataError(ReportError):
    """The data cannot answer the question (for example list cost where none is stored)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.errors = {param: [message]}


@dataclass(frozen=True)
class ReportQuery:
    start: date
    end: date  # exclusive
    aggregate: tuple[str, ...] = ()
    cost_basis: str = "billed"
    step: str | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    currency: str | None = None  # ISO 4217; None: the rows' one currency (several: an error, never converted)

    @property
    def tag_keys(self) -> tuple[str, ...]:
        return tuple(key[4:] for key in self.aggregate if key.startswith("tag:"))


def window_parse(value: str, *, today: date) -> tuple[date, date]:
    """A window as [start, end) in UTC days; relative windows end at the start of today."""
    value = value.strip()
    if value == "7d":
        return today - timedelta(days=7), today
    if value == "30d":
        return today - timedelta(days=30), today
    if value == "90d":
        return today - timedelta(days=90), today
    if value == "mtd":
        return today.replace(day=1), today
    if value == "ytd":
        return today.replace(month=1, day=1), today
    if value == "lastmonth":
        end = today.replace(day=1)
        return (end - timedelta(days=1)).replace(day=1), end
    parts = value.split(",")
    if len(parts) != 2:
        raise ValueError(f"'{value}' is not a window: use {', '.join(WINDOWS_RELATIVE)} or YYYY-MM-DD,YYYY-MM-DD.")
    try:
        start, end = (date.fromisoformat(part.strip()) for part in parts)
    except ValueError:
        raise ValueError(f"'{value}' has a date that is not YYYY-MM-DD.") from None
    if end < start:
        raise ValueError(f"The window ends ({end}) before it starts ({start}).")
    return start, end


def _aggregate_parse(values: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """Keys from `aggregate`: one value is comma-separated; repeated values are one key each (empty ones
    skipped), so that a tag key holding a comma can be named: `aggregate=tag:a,b&aggregate=service`, or
    `aggregate=tag:a,b&aggregate=` for that key alone."""
    keys: list[str] = []
    problems: list[str] = []
    raw_keys = list(values) if len(values) > 1 else (values[0].split(",") if values else [])
    for raw in raw_keys:
        key = raw if raw.startswith("tag:") else raw.strip()
        if not key:
            continue
        if key.startswith("tag:"):
            if not _TAG_KEY.match(key):
                problems.append(
                    f"'{key[:80]}' names no tag key: use tag:KEY (1 to {TAG_KEY_MAX} characters), for example tag:team."
                )
                continue
        elif key not in KEYS:
            problems.append(f"'{key}' is not an aggregate key; use {', '.join(KEYS)} or tag:KEY.")
            continue
        if key in keys:
            problems.append(f"'{key}' is given twice.")
            continue
        keys.append(key)
    return tuple(keys), problems


def report_query_parse(params: Mapping[str, Sequence[str]], *, today: date) -> ReportQuery:
    """Parse query parameters (each a list of values, as QueryDict.lists() gives them)."""
    errors: dict[str, list[str]] = {}

    def single(name: str, default: str | None) -> str | None:
        values = params.get(name) or []
        if len(values) > 1:
            errors.setdefault(name, []).append(f"Give {name} once.")
        return values[0] if values else default

    window = single("window", "30d") or "30d"
    start = end = today
    try:
        start, end = window_parse(window, today=today)
    except ValueError as error:
        errors.setdefault("window", []).append(str(error))
    aggregate, problems = _aggregate_parse(list(params.get("aggregate") or []))
    if problems:
        errors["aggregate"] = problems
    cost_basis = single("cost_basis", "billed")
    if cost_basis not in COST_BASES:
        errors.setdefault("cost_basis", []).append(f"'{cost_basis}' is not a cost basis; use {', '.join(COST_BASES)}.")
    step = single("step", None) or None
    if step is not None and step not in STEPS:
        errors.setdefault("step", []).append(f"'{step}' is not a step; use {', '.join(STEPS)}.")
    filters: dict[str, tuple[str, ...]] = {}
    for name in FILTERS:
        values = tuple(value.strip() for value in params.get(name) or [] if value.strip())
        if not values:
            continue
        if name == "charge_category" and any(value not in CHARGE_CATEGORIES for value in values):
            errors.setdefault(name, []).append(f"Charge categories are {', '.join(CHARGE_CATEGORIES)}.")
        filters[name] = values
    currency = single("currency", None)
    if currency is not None:
        currency = currency.strip().upper()
        if not _CURRENCY.match(currency):
            errors.setdefault("currency", []).append(
                f"'{currency[:40]}' is not an ISO 4217 currency code: give three letters, for example currency=EUR."
            )
    if errors:
        raise ReportQueryError(errors)
    return ReportQuery(
        start=start,
        end=end,
        aggregate=aggregate,
        cost_basis=cost_basis or "billed",
        step=step,
        filters=filters,
        currency=currency or None,
    )


def currencies_error(currencies) -> ReportDataError:
    """The 400 for a report whose rows hold several currencies and whose request names none."""
    named = ", ".join(sorted(currencies))
    return ReportDataError(
        "currency",
        f"The data in this report holds {named}; choose one with currency=... (amounts are never converted).",
    )


def money_sum(values) -> Decimal:
    """An exact sum of Decimals (no rounding at 28 digits)."""
    total = Decimal(0)
    for value in values:
        total = MONEY_CONTEXT.add(total, value)
    return total


def money_round(value: Decimal) -> Decimal:
    """`value` with at most MONEY_PLACES fractional digits: rounded half-even when it has more, else unchanged.

    A stored figure (NUMERIC(38, 20)) and any sum of stored figures come back exactly as they are, with the
    digits they have; only a computed one (a division, a share, an idle part) is rounded.
    """
    if not value.is_finite() or value.as_tuple().exponent >= -MONEY_PLACES:
        return value
    return value.quantize(MONEY_UNIT, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT)


def money_round_to_total(values: Sequence[Decimal]) -> tuple[list[Decimal], Decimal]:
    """The items and their total as a report shows them: at most MONEY_PLACES fractional digits, and the items
    summing to the total exactly.

    The rule: the total is the exact sum rounded half-even (`money_round`); each item is rounded half-even on
    its own; when the rounded items then miss the total by k units of MONEY_UNIT (k is at most about half the
    number of items), the k items that rounding moved furthest from the side the total needs get one unit
    each (largest remainder; ties go to the earlier item). So sum(items) == total to the last digit, every
    item stays within one unit of its exact value, and an item already at the stored precision (a stored
    figure, a sum of them) is never changed: when all are, nothing is rounded at all.
    """
    exact = list(values)
    total = money_round(money_sum(exact))
    rounded = [money_round(value) for value in exact]
    units = int(MONEY_CONTEXT.subtract(total, money_sum(rounded)).scaleb(MONEY_PLACES))
    if units:
        step = MONEY_UNIT if units > 0 else MONEY_UNIT.copy_negate()
        # How far rounding moved each item away from the side the total needs: those items move first.
        behind = [MONEY_CONTEXT.subtract(value, kept) for value, kept in zip(exact, rounded, strict=True)]
        if units < 0:
            behind = [difference.copy_negate() for difference in behind]
        for index in sorted(range(len(exact)), key=lambda index: (-behind[index], index))[: abs(units)]:
            rounded[index] = MONEY_CONTEXT.add(rounded[index], step)
    return rounded, total


def money_text(value: Decimal) -> str:
    """A decimal string without exponent, with the digits the value has, at most MONEY_PLACES fractional ones
    (rounded half-even past that: `money_round`)."""
    return format(money_round(value), "f")
