"""The Anomalies page's table."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from dashboards.tables.columns import NUMERIC
from dashboards.templatetags.costplane import money
from dashboards.templatetags.labels import account_label_text, account_names


class CostAnomalyTable(tables.Table):
    """Ours and AWS's incidents, each once with the dimensions that saw it; the figures are its largest anomaly's.
    A row loads its detail with htmx into #anomaly-detail."""

    day = tables.Column(verbose_name="Day")
    source = tables.Column(verbose_name="Found by", attrs={"td": {"class": "source"}})
    value = tables.Column(
        verbose_name="Seen in", empty_values=(), orderable=False, attrs={"td": {"class": "wrap value"}}
    )
    expected = tables.Column(verbose_name="Expected", accessor="lead__expected", orderable=False, attrs=NUMERIC)
    actual = tables.Column(verbose_name="Actual", accessor="lead__actual", orderable=False, attrs=NUMERIC)
    impact = tables.Column(verbose_name="Impact", attrs=NUMERIC)
    score = tables.Column(verbose_name="Score", accessor="lead__score", orderable=False, attrs=NUMERIC)
    feedback = tables.Column(verbose_name="Feedback", accessor="lead__feedback", orderable=False, default="—")

    class Meta:
        attrs = {"id": "anomalies-table", "class": "data anomalies"}
        empty_text = "No anomaly matches these filters."
        order_by = ("-day", "-impact")

    def __init__(self, *args, detail_url: str, selected: str | None = None, **kwargs):
        row_attrs = {
            "data-anomaly": lambda record: record.pk,
            "hx-get": lambda record: f"{detail_url}anomaly={record.pk}",
            "hx-target": "#anomaly-detail",
            "hx-swap": "innerHTML",
            "hx-trigger": "click, keyup[key=='Enter']",
            "tabindex": "0",
            "title": "Show the daily cost against the baseline and what contributed",
            "class": lambda record: "selected" if str(record.pk) == str(selected) else "",
        }
        super().__init__(*args, row_attrs=row_attrs, **kwargs)

    def render_day(self, value, record):
        # One date format for one day and for several (as the detail's title writes them).
        if record.end_day and record.end_day != value:
            return format_html("{} – {}", date_format(value), date_format(record.end_day))
        return date_format(value)

    def render_source(self, value, record):
        return "AWS" if record.source == "aws" else "Costplane"

    def render_value(self, record):
        """Each dimension that saw it: "Team vision · Service Amazon SageMaker"."""
        return format_html_join(
            " · ",
            '<span class="anomaly-dimension" data-dimension="{}">{} {}</span>',
            (
                (
                    anomaly.dimension,
                    anomaly.get_dimension_display(),
                    account_label_text(anomaly.value, account_names(self))
                    if anomaly.dimension == "account"
                    else anomaly.value,
                )
                for anomaly in record.seen_in
            ),
        )

    # Each incident's amounts are in its series' billing currency (never converted).
    def render_expected(self, value, record):
        return money(value, _currency(record))

    def render_actual(self, value, record):
        return money(value, _currency(record))

    def render_impact(self, value, record):
        return format_html("<strong>+{}</strong>", money(value, _currency(record)))

    def render_score(self, value, record):
        return f"{value:.2f}" if record.source == "aws" else f"{value:.1f}"

    def render_feedback(self, value, record):
        return format_html('<span class="feedback-{}">{}</span>', value, record.lead.get_feedback_display())


def _currency(incident) -> str:
    lead = getattr(incident, "lead", None)
    return getattr(lead, "currency", None) or "USD"
