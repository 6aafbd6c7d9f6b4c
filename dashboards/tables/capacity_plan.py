"""The Capacity plan page's plan table: every GPU quota of an account and region with its headroom, crossing dates,
request-by date and status, the chosen scenario's beside the base."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html

from dashboards.tables.columns import NUMERIC
from dashboards.templatetags.labels import account_label_text, account_names

STATUS_LABELS = {
    "over": "over",
    "late": "late",
    "soon": "soon",
    "ok": "ok",
}
STATUS_TITLES = {
    "over": "Already over the limit: demand plus unused reservations exceed it now",
    "late": "The request-by date has passed: ask for more quota now",
    "soon": "The request-by date is within the next days",
    "ok": "No request needed within the lead time",
}
# Sorting puts the most urgent first; a row without a date sorts after every date.
STATUS_RANK = {"over": 0, "late": 1, "soon": 2, "ok": 3}
NO_DATE = "9999-12-31"
DATE_CELL = {"td": {"class": "date"}, "th": {"class": "date"}}
SCENARIO_DATE_CELL = {"td": {"class": "date scenario"}, "th": {"class": "date scenario"}}
SCENARIO_CELL = {"td": {"class": "scenario"}, "th": {"class": "scenario"}}


def quantity_text(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.normalize():,f}"


def status_badge(status: str | None):
    if not status:
        return "—"
    return format_html(
        '<span class="badge plan-status plan-status-{}" title="{}">{}</span>',
        status,
        STATUS_TITLES.get(status, ""),
        STATUS_LABELS.get(status, status),
    )


def date_cell(value, *, kind: str):
    if value is None:
        return format_html('<span class="muted" title="Does not cross within the forecast horizon">{}</span>', "—")
    return format_html('<time datetime="{}" class="{}">{}</time>', value.isoformat(), kind, value.isoformat())


def plan_row(item, scenario_item=None, *, chart_url: str) -> dict:
    """A PlanItem (and the same quota's item under the chosen scenario) as a row of PlanTable."""
    row = {
        "key": f"{item.account}:{item.region}:{item.service_code}:{item.quota_code}",
        "account": item.account,
        "region": item.region,
        "quota_name": item.quota_name,
        "quota_code": item.quota_code,
        "service_code": item.service_code,
        "unit": item.unit,
        "limit": item.limit,
        "in_use_now": item.in_use_now,
        "unused_reserved": item.unused_reserved,
        "headroom_now": item.headroom_now,
        "cross_date_median": item.cross_date_median,
        "cross_date_p95": item.cross_date_p95,
        "request_by": item.request_by,
        "status": item.status,
        "chart_url": chart_url,
        "scenario_cross_date_p95": scenario_item.cross_date_p95 if scenario_item else None,
        "scenario_request_by": scenario_item.request_by if scenario_item else None,
        "scenario_status": scenario_item.status if scenario_item else None,
    }
    for name in ("cross_date_median", "cross_date_p95", "request_by", "scenario_cross_date_p95", "scenario_request_by"):
        row[f"{name}_sort"] = row[name].isoformat() if row[name] else NO_DATE
    for name in ("status", "scenario_status"):
        row[f"{name}_sort"] = STATUS_RANK.get(row[name] or "", 9)
    for name in ("in_use_now", "headroom_now"):
        row[f"{name}_sort"] = row[name] if row[name] is not None else Decimal("-Infinity")
    return row


def plan_rows_ordered(rows: list[dict]) -> list[dict]:
    """The default order: most urgent status first, then the earliest request-by date, then the most in use."""
    return sorted(
        rows,
        key=lambda row: (
            min(row["status_sort"], row["scenario_status_sort"]),
            min(row["request_by_sort"], row["scenario_request_by_sort"]),
            -row["in_use_now_sort"] if row["in_use_now"] is not None else 0,
            row["key"],
        ),
    )


class PlanTable(tables.Table):
    """plan_row rows; sortable by every column but the chart link (server-side, ?sort=). With a scenario, its p95
    crossing, request-by date and status stand beside the base's."""

    account = tables.Column(verbose_name="Account, region", order_by=("account", "region"))
    quota_name = tables.Column(verbose_name="Quota", order_by=("quota_name", "account"))
    limit = tables.Column(verbose_name="Limit", attrs=NUMERIC)
    in_use_now = tables.Column(verbose_name="In use", attrs=NUMERIC, order_by=("in_use_now_sort",))
    unused_reserved = tables.Column(
        verbose_name="Reserved, unused",
        attrs=NUMERIC | {"th": {"class": "num", "title": "Capacity Reservations hold quota even when idle"}},
    )
    headroom_now = tables.Column(verbose_name="Headroom", attrs=NUMERIC, order_by=("headroom_now_sort",))
    cross_date_median = tables.Column(
        verbose_name="Median crosses", order_by=("cross_date_median_sort",), attrs=DATE_CELL
    )
    cross_date_p95 = tables.Column(verbose_name="P95 crosses", order_by=("cross_date_p95_sort",), attrs=DATE_CELL)
    request_by = tables.Column(verbose_name="Request by", order_by=("request_by_sort",), attrs=DATE_CELL)
    status = tables.Column(order_by=("status_sort", "request_by_sort"))
    scenario_cross_date_p95 = tables.Column(
        verbose_name="P95 crosses (scenario)", order_by=("scenario_cross_date_p95_sort",), attrs=SCENARIO_DATE_CELL
    )
    scenario_request_by = tables.Column(
        verbose_name="Request by (scenario)", order_by=("scenario_request_by_sort",), attrs=SCENARIO_DATE_CELL
    )
    scenario_status = tables.Column(
        verbose_name="Status (scenario)", order_by=("scenario_status_sort",), attrs=SCENARIO_CELL
    )

    class Meta:
        attrs = {"id": "plan-table", "class": "data plan"}
        empty_text = "No GPU quota collected yet."

    def __init__(self, *args, with_scenario: bool, selected: str = "", **kwargs):
        exclude = () if with_scenario else ("scenario_cross_date_p95", "scenario_request_by", "scenario_status")
        row_attrs = {
            "data-quota": lambda record: record["key"],
            "data-status": lambda record: record["status"],
            "class": lambda record: "selected" if record["key"] == selected else "",
        }
        super().__init__(*args, exclude=exclude, row_attrs=row_attrs, **kwargs)

    def render_account(self, value, record):
        names = account_names(getattr(self, "request", None) or self)
        return format_html(
            '<span class="account" title="{}">{}</span> <span class="muted">{}</span>',
            account_label_text(value, names),
            names.get(value) or value,
            record["region"],
        )

    def render_quota_name(self, value, record):
        return format_html(
            '<a href="{}" class="plan-chart-link" hx-get="{}" hx-target="#plan-quota" hx-swap="innerHTML" '
            'hx-push-url="true" title="{} {}: chart it against its demand">{}</a>',
            record["chart_url"],
            record["chart_url"],
            record["service_code"].upper() if record["service_code"] == "ec2" else "SageMaker",
            record["quota_code"],
            value,
        )

    def render_limit(self, value, record):
        return format_html('{} <span class="muted">{}</span>', quantity_text(value), record["unit"])

    def render_in_use_now(self, value):
        return quantity_text(value)

    def render_unused_reserved(self, value):
        return quantity_text(value) if value else "0"

    def render_headroom_now(self, value):
        if value is not None and value < 0:
            return format_html('<span class="error">{}</span>', quantity_text(value))
        return quantity_text(value)

    def render_cross_date_median(self, value):
        return date_cell(value, kind="cross-median")

    def render_cross_date_p95(self, value):
        return date_cell(value, kind="cross-p95")

    def render_request_by(self, value):
        return date_cell(value, kind="request-by")

    def render_status(self, value):
        return status_badge(value)

    def render_scenario_cross_date_p95(self, value):
        return date_cell(value, kind="scenario-cross-p95")

    def render_scenario_request_by(self, value):
        return date_cell(value, kind="scenario-request-by")

    def render_scenario_status(self, value):
        return status_badge(value)
