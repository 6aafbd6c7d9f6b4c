from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal

from django import template

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "USD") -> str:
    """Display money to the cent (the exact value stays in the data and the API)."""
    if value is None:
        return "—"
    rounded = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{abs(rounded):,.2f}"


@register.filter
def unit_price(value: Decimal | None, currency: str = "USD") -> str:
    """A price per unit (cost per 1,000 predictions): to the cent from a dime up, else to four significant digits
    (a cheap model's cost per 1,000 is often a fraction of a cent). Tables and charts both show this text."""
    if value is None:
        return "—"
    value = Decimal(value)
    if not value or abs(value) >= Decimal("0.1"):
        return money(value, currency)
    rounded = value.quantize(Decimal(1).scaleb(value.adjusted() - 3), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{abs(rounded):f}"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"


@register.filter
def exact(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


@register.filter
def pretty_json(value) -> str:
    """A JSON document indented for reading (escaped by the template like any text)."""
    return json.dumps(value, indent=2, sort_keys=True)
