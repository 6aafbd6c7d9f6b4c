"""The Recommendations page's tables: the recommendations (and as CSV), open savings per team, and the detail's
evidence and options as rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from capacity.models import Recommendation
from capacity.selectors.recommendations import Alternatives, recommendation_alternatives
from dashboards.tables.capacity import hourly_price_text
from dashboards.tables.columns import NUMERIC, WRAP, MoneyColumn, money_html
from dashboards.templatetags.costplane import exact
from dashboards.templatetags.labels import account_label_html, enum_label, risk_label


def performance_risk_html(value: Decimal | None):
    """Compute Optimizer's performance risk, 0 (very low) to 4 (very high), as "1 of 4 (low)" (the exact score in
    the title); Costplane's own states none."""
    if value is None:
        return format_html('<span class="muted" title="{}">{}</span>', "The source states no performance risk", "—")
    return format_html('<span title="Score {} of 4">{}</span>', exact(value), risk_label(value))


def source_short(recommendation: Recommendation) -> str:
    return "Compute Optimizer" if recommendation.source == Recommendation.Source.COMPUTE_OPTIMIZER else "Costplane"


def target_text(recommendation: Recommendation) -> str:
    """What the recommendation changes the resource to: the recommended configuration, or stop or delete."""
    if recommendation.kind == Recommendation.Kind.IDLE:
        return "stop or delete"
    return recommendation.recommended_configuration or "—"


def recommendation_resource_label(recommendation: Recommendation) -> str:
    """The inventoried resource's name, else the last part of the ARN (the instance id, volume id…)."""
    if recommendation.resource is not None and recommendation.resource.name:
        return recommendation.resource.name
    return recommendation.resource_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _utc_text(value) -> str:
    """An ISO 8601 instant as "2026-12-02 00:00 UTC"; anything else as it is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{(moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _percent(value) -> str:
    return f"{float(value):.1f}%"


YES_NO = {"true": "Yes", "false": "No"}


def _hourly_text(value) -> str:
    """A stored hourly price (a decimal string with 20 fractional digits) as "$7.9408 an hour"; a negative one (a
    price change) keeps its sign."""
    price = Decimal(str(value))
    text = hourly_price_text(abs(price))
    return f"{'-' if price < 0 else ''}{text} an hour"


def recommendation_evidence_rows(evidence: dict) -> list[tuple[str, str]]:
    """The evidence's scalar facts as (label, text) rows, known ones first and worded; structured parts
    (thresholds, candidates, utilisation metrics) are shown by the template, and everything is in the raw JSON."""
    rows: list[tuple[str, str]] = []
    thresholds = evidence.get("thresholds") or {}
    if "gpu_p95_percent" in evidence:
        limit = thresholds.get("gpu_p95_percent")
        below = f" (recommends below {limit:g}%)" if limit is not None else ""
        rows.append(("GPU utilisation, p95 of hourly averages", _percent(evidence["gpu_p95_percent"]) + below))
    if "gpu_memory_p95_percent" in evidence:
        limit = thresholds.get("gpu_memory_p95_percent")
        below = f" (recommends below {limit:g}%)" if limit is not None else ""
        rows.append(("GPU memory, p95 of hourly averages", _percent(evidence["gpu_memory_p95_percent"]) + below))
    if "gpu_memory_peak_percent" in evidence:
        mib = evidence.get("gpu_memory_peak_mib")
        rows.append(
            ("GPU memory, peak", _percent(evidence["gpu_memory_peak_percent"]) + (f" ({mib:,.0f} MiB)" if mib else ""))
        )
    if "gpu_memory_required_mib" in evidence:
        headroom = thresholds.get("memory_headroom")
        plus = f" (peak + {headroom:.0%} headroom)" if headroom is not None else ""
        rows.append(("GPU memory needed", f"{evidence['gpu_memory_required_mib']:,.0f} MiB{plus}"))
    if "gpus_required" in evidence:
        rows.append(("GPUs needed", str(evidence["gpus_required"])))
    if "hours_used" in evidence and "hours_expected" in evidence:
        used, expected = evidence["hours_used"], evidence["hours_expected"]
        share = f" ({used / expected:.0%})" if expected else ""
        minimum = thresholds.get("min_coverage")
        needs = f", needs {minimum:.0%}" if minimum is not None else ""
        rows.append(("Hours with GPU data", f"{used} of {expected}{share}{needs}"))
    if "gpu_mean_percent" in evidence:
        rows.append(("GPU utilisation, mean of hourly averages", _percent(evidence["gpu_mean_percent"])))
    if "gpu_memory_mean_percent" in evidence:
        rows.append(("GPU memory, mean of hourly averages", _percent(evidence["gpu_memory_mean_percent"])))
    if evidence.get("instance_count"):
        rows.append(("Instances", str(evidence["instance_count"])))
    for key, label in (
        ("current_hourly_usd", "Current price"),
        ("recommended_hourly_usd", "Recommended price"),
        ("hourly_price_delta_usd", "Price change"),
    ):
        if evidence.get(key) is not None:
            rows.append((label, _hourly_text(evidence[key])))
    if evidence.get("lookback_start") and evidence.get("lookback_end"):
        start, end = _utc_text(evidence["lookback_start"]), _utc_text(evidence["lookback_end"])
        rows.append(("Window", f"{start.removesuffix(' UTC')} – {end}"))
    if evidence.get("lookback_days"):
        rows.append(("Look-back", f"{evidence['lookback_days']} days"))
    if evidence.get("current_performance_risk"):
        rows.append(("Current performance risk", risk_label(evidence["current_performance_risk"])))
    if evidence.get("last_refresh"):
        rows.append(("Compute Optimizer refreshed", _utc_text(evidence["last_refresh"])))
    if evidence.get("idle"):
        # Compute Optimizer states it as the strings "True" / "False".
        idle = YES_NO.get(str(evidence["idle"]).lower(), enum_label(evidence["idle"]))
        rows.append(("Idle (Compute Optimizer)", idle))
    shown = {
        "gpu_p95_percent", "gpu_memory_p95_percent", "gpu_memory_peak_percent", "gpu_memory_peak_mib",
        "gpu_memory_required_mib", "gpus_required", "hours_used", "hours_expected", "lookback_start", "lookback_end",
        "lookback_days", "current_performance_risk", "last_refresh", "idle", "thresholds", "candidates",
        "utilization_metrics", "gpu_mean_percent", "gpu_memory_mean_percent", "instance_count", "current_hourly_usd",
        "recommended_hourly_usd", "hourly_price_delta_usd",
    }  # fmt: skip
    for key, value in sorted(evidence.items()):
        if key not in shown and value not in (None, "", [], {}) and not isinstance(value, dict | list):
            rows.append((key.replace("_", " ").capitalize(), str(value)))
    return rows


def recommendation_option_rows(options: list[dict]) -> list[dict]:
    """The options a source offered, best first, in one shape: Compute Optimizer names the target
    `configuration` and states a performance risk; Costplane names an `instance_type` and states none."""
    return [
        {
            "rank": option.get("rank") or number,
            "configuration": option.get("configuration") or option.get("instance_type") or "—",
            "performance_risk": option.get("performance_risk"),
            "monthly_savings": option.get("monthly_savings"),
            "savings_basis": option.get("savings_basis", ""),
            "hourly_usd": option.get("hourly_usd"),
            "hourly_text": hourly_price_text(Decimal(str(option["hourly_usd"]))) if option.get("hourly_usd") else "",
            "migration_effort": option.get("migration_effort") or "—",
        }
        for number, option in enumerate(options, start=1)
    ]


def recommendation_candidate_rows(candidates: list[dict]) -> list[dict]:
    """The instance types Costplane's GPU right-sizing considered, with the price and GPU memory as text."""
    rows = []
    for candidate in candidates:
        price, memory = candidate.get("hourly_usd"), candidate.get("gpu_memory_mib")
        rows.append(
            candidate
            | {
                "hourly_text": "—" if price is None else hourly_price_text(Decimal(str(price))),
                "gpu_memory_text": "—" if memory is None else f"{memory:,}",
            }
        )
    return rows


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
        # {pk: Alternatives} of the rows shown (capacity.selectors.recommendations.recommendation_alternatives),
        # set by the view once the page is known; a row without an entry has no alternative.
        self.alternatives: dict[int, Alternatives] = {}
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
        change = format_html("{} →<br><strong>{}</strong>", record.current_configuration or "—", target_text(record))
        others = self.alternatives.get(record.pk, Alternatives()).others
        if not others:
            return change
        return format_html(
            '{}<br><span class="alternatives" title="{}">or {}</span>',
            change,
            "Other open recommendations for the same resource: only one can be carried out",
            format_html_join("; ", "{}: {}", ((source_short(other), target_text(other)) for other in others)),
        )

    def render_finding(self, value, record):
        codes = format_html_join(
            " ",
            '<span class="reason-code" title="{}">{}</span>',
            ((code, enum_label(code)) for code in record.reason_codes),
        )
        return format_html("{} {}", enum_label(value) if value else "—", codes)

    def render_monthly_savings(self, value, record):
        place = self.alternatives.get(record.pk, Alternatives())
        if not place.others:
            return money_html(value)
        if place.counted:
            note, title = (
                f"best of {len(place.others) + 1}",
                "The largest saving for this resource: the totals count it",
            )
        elif record.state == Recommendation.State.OPEN:
            note, title = "not in totals", "An alternative to a larger saving for this resource: the totals count that"
        else:
            return money_html(value)
        return format_html(
            '{}<br><span class="muted alternative-saving" title="{}">{}</span>', money_html(value), title, note
        )

    def render_performance_risk(self, value):
        return performance_risk_html(value)

    def render_source(self, record):
        return format_html('<span title="{}">{}</span>', record.get_source_display(), source_short(record))

    def render_state(self, value, record):
        until = f" until {record.snoozed_until.isoformat()}" if record.snoozed_until else ""
        return format_html('<span class="badge state-{}">{}{}</span>', value, record.get_state_display(), until)

    def render_first_seen(self, value):
        return format_html(
            '<span title="First seen {}">{}</span>', value.isoformat(), timesince(value, timezone.now()).split(",")[0]
        )


class RecommendationSavingsByTeamTable(tables.Table):
    """Open recommendations per team: how many, for how many resources, and their estimated monthly savings (one
    per resource, the largest); rows are dicts."""

    team = tables.Column(verbose_name="Team", footer="All teams", empty_values=())
    count = tables.Column(verbose_name="Open", attrs=NUMERIC, footer=lambda table: sum(r["count"] for r in table.data))
    resources = tables.Column(
        verbose_name="Resources", attrs=NUMERIC, footer=lambda table: sum(r["resources"] for r in table.data)
    )
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
    "reason_codes", "performance_risk", "monthly_savings", "currency", "counted_in_totals", "alternatives",
    "first_seen", "last_seen",
)  # fmt: skip


def recommendations_csv(recommendations) -> str:
    """Recommendations (a queryset with account and team selected) as CSV, one row each in the given order: stored
    values as they are (money and risk as exact decimal strings, times in ISO 8601 UTC), reason codes separated by
    spaces. `counted_in_totals` says whether the page's totals count the saving (true: the open recommendation with
    the largest saving for its resource; false: an open alternative to it; blank: not open), so summing the rows
    marked true gives the page's figure; `alternatives` lists the ids of the other open recommendations for the
    same resource."""
    recommendations = list(recommendations)
    alternatives = recommendation_alternatives(recommendations=recommendations)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for recommendation in recommendations:
        place = alternatives[recommendation.pk]
        counted = ("true" if place.counted else "false") if recommendation.state == Recommendation.State.OPEN else ""
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
                counted,
                " ".join(str(other.pk) for other in place.others),
                recommendation.first_seen.isoformat(),
                recommendation.last_seen.isoformat(),
            ]
        )
    return buffer.getvalue()
