"""The Recommendations page's tables: the recommendations, and open savings per team."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from capacity.models import Recommendation
from dashboards.tables.columns import NUMERIC, WRAP, MoneyColumn, money_html
from dashboards.templatetags.costplane import exact
from dashboards.templatetags.labels import account_label_html, enum_label, risk_label


def performance_risk_html(value: Decimal | None):
    """Compute Optimizer's performance risk, 0 (very low) to 4 (very high), as "1 of 4 (low)" (the exact score in
    the title); Costplane's own states none."""
    if value is None:
        return format_html('<span class="muted" title="{}">{}</span>', "The source states no performance risk", "—")
    return format_html('<span title="Score {} of 4">{}</span>', exact(value), risk_label(value))


def recommendation_resource_label(recommendation: Recommendation) -> str:
    """The inventoried resource's name, else the last part of the ARN (the instance id, volume id…)."""
    if recommendation.resource is not None and recommendation.resource.name:
        return recommendation.resource.name
    return recommendation.resource_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class RecommendationTable(tables.Table):
    """Recommendations (a queryset with account, team, resource selected); a row loads its detail with htmx into
    #recommendation-detail (the page's URL with the current filters and ?recommendation=<pk>)."""

    # Ten columns in a 1,190 px card: text columns wrap (two short lines each), only money, state and age do not.
    resource = tables.Column(
        verbose_name="Resource", empty_values=(), order_by=("resource__name", "resource_arn"), attrs=WRAP
    )
    team = tables.Column(verbose_name="Team", accessor="team__name", order_by=("team__name",), default="—", attrs=WRAP)
    account = tables.Column(verbose_name="Account, region", order_by=("account__name", "region"), attrs=WRAP)
    change = tables.Column(verbose_name="Current → recommended", empty_values=(), orderable=False, attrs=WRAP)
    finding = tables.Column(verbose_name="Finding, reasons", attrs=WRAP)
    monthly_savings = tables.Column(verbose_name="Savings / month", attrs=NUMERIC)
    performance_risk = tables.Column(verbose_name="Risk", empty_values=(), attrs=WRAP)
    source = tables.Column(attrs=WRAP)
    state = tables.Column(attrs={"td": {"class": "state"}})
    first_seen = tables.Column(verbose_name="Age", attrs={"td": {"class": "age"}})

    class Meta:
        attrs = {"id": "recommendations-table", "class": "data recommendations"}
        empty_text = "No recommendation matches these filters."

    def __init__(self, *args, detail_url: str, selected: str | None = None, **kwargs):
        row_attrs = {
            "data-recommendation": lambda record: record.pk,
            "hx-get": lambda record: f"{detail_url}recommendation={record.pk}",
            "hx-target": "#recommendation-detail",
            "hx-swap": "innerHTML",
            "hx-push-url": "false",
            "hx-trigger": "click, keyup[key=='Enter']",
            "tabindex": "0",
            "title": "Show the evidence and the audit trail",
            "class": lambda record: "selected" if str(record.pk) == str(selected) else "",
        }
        super().__init__(*args, row_attrs=row_attrs, **kwargs)

    def render_resource(self, record):
        return format_html(
            '<span class="resource-name" title="{}">{}</span><br><span class="muted">{}</span>',
            record.resource_arn,
            recommendation_resource_label(record),
            enum_label(record.resource_type),
        )

    def render_account(self, record):
        return format_html('{}<br><span class="muted">{}</span>', account_label_html(record.account), record.region)

    def render_change(self, record):
        if record.kind == Recommendation.Kind.IDLE:
            return format_html("{} →<br><strong>{}</strong>", record.current_configuration or "—", "stop or delete")
        return format_html(
            "{} →<br><strong>{}</strong>", record.current_configuration or "—", record.recommended_configuration or "—"
        )

    def render_finding(self, value, record):
        codes = format_html_join(
            " ",
            '<span class="reason-code" title="{}">{}</span>',
            ((code, enum_label(code)) for code in record.reason_codes),
        )
        return format_html("{} {}", enum_label(value) if value else "—", codes)

    def render_monthly_savings(self, value):
        return money_html(value)

    def render_performance_risk(self, value):
        return performance_risk_html(value)

    def render_source(self, record):
        short = "Compute Optimizer" if record.source == Recommendation.Source.COMPUTE_OPTIMIZER else "Costplane"
        return format_html('<span title="{}">{}</span>', record.get_source_display(), short)

    def render_state(self, value, record):
        until = f" until {record.snoozed_until.isoformat()}" if record.snoozed_until else ""
        return format_html('<span class="badge state-{}">{}{}</span>', value, record.get_state_display(), until)

    def render_first_seen(self, value):
        return format_html(
            '<span title="First seen {}">{}</span>', value.isoformat(), timesince(value, timezone.now()).split(",")[0]
        )


class RecommendationSavingsByTeamTable(tables.Table):
    """Open recommendations per team: how many and their estimated monthly savings; rows are dicts."""

    team = tables.Column(verbose_name="Team", footer="All teams", empty_values=())
    count = tables.Column(verbose_name="Open", attrs=NUMERIC, footer=lambda table: sum(r["count"] for r in table.data))
    savings = MoneyColumn(verbose_name="Savings / month")

    class Meta:
        orderable = False
        attrs = {"id": "recommendation-savings-by-team", "class": "data"}
        empty_text = "No open recommendation."

    def render_team(self, value):
        return value or format_html('<span class="muted">{}</span>', "No team")


CSV_COLUMNS = (
    "id", "source", "kind", "state", "snoozed_until", "account_id", "account_name", "region", "team", "resource",
    "resource_type", "resource_arn", "current_configuration", "recommended_configuration", "finding",
    "reason_codes", "performance_risk", "monthly_savings", "currency", "first_seen", "last_seen",
)  # fmt: skip


def recommendations_csv(recommendations) -> str:
    """Recommendations (a queryset with account and team selected) as CSV, one row each in the given order: stored
    values as they are (money and risk as exact decimal strings, times in ISO 8601 UTC), reason codes separated by
    spaces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for recommendation in recommendations:
        writer.writerow(
            [
                recommendation.pk,
                recommendation.source,
                recommendation.kind,
                recommendation.state,
                recommendation.snoozed_until.isoformat() if recommendation.snoozed_until else "",
                recommendation.account.account_id,
                recommendation.account.name,
                recommendation.region,
                recommendation.team.slug if recommendation.team else "",
                recommendation_resource_label(recommendation),
                recommendation.resource_type,
                recommendation.resource_arn,
                recommendation.current_configuration,
                recommendation.recommended_configuration,
                recommendation.finding,
                " ".join(recommendation.reason_codes),
                "" if recommendation.performance_risk is None else exact(recommendation.performance_risk),
                "" if recommendation.monthly_savings is None else exact(recommendation.monthly_savings),
                recommendation.currency,
                recommendation.first_seen.isoformat(),
                recommendation.last_seen.isoformat(),
            ]
        )
    return buffer.getvalue()
