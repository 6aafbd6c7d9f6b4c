"""The Anomalies page's table."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

from dashboards.tables.columns import NUMERIC
from dashboards.templatetags.costplane import money


class CostAnomalyTable(tables.Table):
    """Ours and AWS's anomalies; a row loads its detail with htmx into #anomaly-detail."""

    day = tables.Column(verbose_name="Day")
    source = tables.Column(verbose_name="Found by", attrs={"td": {"class": "source"}})
    dimension = tables.Column(verbose_name="Dimension")
    value = tables.Column(verbose_name="Service, account or team", attrs={"td": {"class": "wrap value"}})
    expected = tables.Column(verbose_name="Expected", attrs=NUMERIC)
    actual = tables.Column(verbose_name="Actual", attrs=NUMERIC)
    impact = tables.Column(verbose_name="Impact", attrs=NUMERIC)
    score = tables.Column(verbose_name="Score", attrs=NUMERIC)
    feedback = tables.Column(verbose_name="Feedback", default="—")

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
        if record.end_day and record.end_day != value:
            return format_html("{} – {}", value, record.end_day)
        return value

    def render_source(self, value, record):
        return "AWS" if record.source == "aws" else "Costplane"

    def render_expected(self, value):
        return money(value)

    def render_actual(self, value):
        return money(value)

    def render_impact(self, value):
        return format_html("<strong>+{}</strong>", money(value))

    def render_score(self, value, record):
        return f"{value:.2f}" if record.source == "aws" else f"{value:.1f}"

    def render_feedback(self, value, record):
        return format_html('<span class="feedback-{}">{}</span>', record.feedback, record.get_feedback_display())
