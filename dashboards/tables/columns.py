"""What the pages' tables share: numeric and wrapping cells, money to the cent with the exact stored value in its
title (and a column of it whose footer is the exact sum), and the label of cost no key value owns."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html

from dashboards.templatetags.costplane import exact, money
from dashboards.templatetags.labels import account_label_html, account_names, enum_label
from finops.reports import UNALLOCATED, money_sum

UNALLOCATED_LABEL = "Unallocated"
NUMERIC = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}
WRAP = {"td": {"class": "wrap"}}


def key_value_label(value: str | None) -> str:
    return UNALLOCATED_LABEL if value in (None, "", UNALLOCATED) else str(value)


def money_html(value: Decimal | None):
    if value is None:
        return "—"
    return format_html('<span title="{}" data-exact="{}">{}</span>', exact(value), exact(value), money(value))


class MoneyColumn(tables.Column):
    """A Decimal shown to the cent with the exact value in a title; the footer is the column's exact sum."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUMERIC)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return money_html(value)

    def render_footer(self, bound_column, table):
        return money_html(money_sum(row[bound_column.accessor] for row in table.data))


class AccountColumn(tables.Column):
    """A cloud account (a CloudAccount or a 12-digit id) shown as its name with the id beside it; the names are read
    once per table (or once per request when the table was configured with one)."""

    def render(self, value, table):
        if hasattr(value, "account_id"):
            return account_label_html(value)
        return account_label_html(value, account_names(getattr(table, "request", None) or table))


class EnumColumn(tables.Column):
    """An enum value as words: its Django choices label when `choices` is given, else humanised (`VeryLow` →
    "Very low")."""

    def __init__(self, *args, choices=None, **kwargs):
        self.choices = choices
        super().__init__(*args, **kwargs)

    def render(self, value):
        return enum_label(value, self.choices)
