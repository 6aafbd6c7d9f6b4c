"""Cost anomalies: detect ours over the last complete days, ingest AWS's, take feedback, and the alert specs.

Detection (`cost_anomalies_detect`) reads daily usage cost per service, account and team through the Reports
API's cost reads (finops.selectors.costs.cost_rows: export data where an account-day has it, Cost Explorer
elsewhere; teams from the team tag, so from export data), runs finops.anomalies over the last
COSTPLANE_ANOMALY_LOOKBACK_DAYS complete days that have data, and stores one CostAnomaly per dimension,
value and day with its top contributing usage types and resources (export lines of that day against the
same baseline days). Only usage counts: monthly fees, tax, credits and purchases arrive on schedule.
Re-running over the same days updates the rows (AWS revises recent days) and keeps their feedback; a stored
anomaly the revised data no longer supports is removed unless someone gave feedback on it.

Feedback suppresses repeats: after an anomaly of a dimension value is marked "expected" or "not an
anomaly", new anomalies of that value are not stored for COSTPLANE_ANOMALY_SUPPRESS_DAYS days after its
day, unless the day's cost is more than COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT percent above the
acknowledged day's actual cost (a further rise is news again). "real" suppresses nothing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from finops.anomalies import WEEKS, anomalies_detect, contributors
from finops.aws import cost_explorer as ce
from finops.aws.clients import aws_client
from finops.models import CloudAccount, CostAnomaly, Team
from finops.reports import ReportQuery
from finops.selectors.anomalies import cost_anomaly_daily_frame
from finops.selectors.costs import export_grouped_sql

logger = logging.getLogger(__name__)

CE_REGION = "us-east-1"
USAGE_ONLY = {"charge_category": ("usage",)}
SUPPRESSING = (CostAnomaly.Feedback.EXPECTED, CostAnomaly.Feedback.NOT_ANOMALY)
TOP_CONTRIBUTORS = 5
AWS_LOOKBACK_DAYS = 90


def _dimension_where(dimension: str, value: str) -> tuple[str, list]:
    if dimension == "service":
        return " AND r.service_name = %s", [value]
    if dimension == "account":
        return " AND r.sub_account_id = %s", [value]
    team = Team.objects.get(slug=value)
    return " AND r.tags ->> %s = ANY(%s)", [settings.COSTPLANE_TEAM_TAG_KEY, list(team.tag_values)]


def cost_anomaly_contributors(*, dimension: str, value: str, day: date, weeks: int = WEEKS) -> dict[str, list[dict]]:
    """The usage types and resources whose cost grew most on `day` against the median of the same weekday over
    the previous `weeks` weeks, from export lines (Cost Explorer has neither)."""
    baseline_days = [day - timedelta(weeks=week) for week in range(1, weeks + 1)]
    where, params = _dimension_where(dimension, value)
    where += " AND (r.charge_period_start AT TIME ZONE 'UTC')::date = ANY(%s)"
    params.append([day, *baseline_days])
    query = ReportQuery(start=baseline_days[-1], end=day + timedelta(days=1), step="day", filters=USAGE_ONLY)
    sql, sql_params = export_grouped_sql(query, ["r.usage_type", "r.resource_id"], [], where=where, where_params=params)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        records = [
            (usage_type, resource, period, cost) for usage_type, resource, period, _, cost, _ in cursor.fetchall()
        ]
    frame = pd.DataFrame(records, columns=["usage_type", "resource", "day", "cost"])
    frame = frame[frame["cost"].notna()]
    return {
        "usage_types": contributors(
            frame, day=day, baseline_days=baseline_days, column="usage_type", top=TOP_CONTRIBUTORS
        ),
        "resources": contributors(
            frame[frame["resource"] != ""],
            day=day,
            baseline_days=baseline_days,
            column="resource",
            top=TOP_CONTRIBUTORS,
        ),
    }


def _suppressed(*, dimension: str, value: str, day: date, actual: Decimal) -> CostAnomaly | None:
    """The acknowledged anomaly that suppresses this one, if any (see the module's docstring)."""
    acknowledged = (
        CostAnomaly.objects.filter(
            source=CostAnomaly.Source.COSTPLANE, dimension=dimension, value=value, feedback__in=SUPPRESSING,
            day__lt=day, day__gte=day - timedelta(days=settings.COSTPLANE_ANOMALY_SUPPRESS_DAYS),
        )
        .order_by("-day")
        .first()
    )  # fmt: skip
    if acknowledged is None:
        return None
    ceiling = acknowledged.actual * (100 + settings.COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT) / 100
    return acknowledged if actual <= ceiling else None


def cost_anomalies_detect(*, today: date | None = None, lookback_days: int | None = None) -> list[CostAnomaly]:
    """Detect anomalies over the last complete days before `today` that have cost data, and store them.

    Returns the anomalies stored or updated by this run (suppressed ones are not stored).
    """
    today = today or timezone.now().date()
    lookback_days = lookback_days or settings.COSTPLANE_ANOMALY_LOOKBACK_DAYS
    first_target = today - timedelta(days=lookback_days)
    history_start = first_target - timedelta(weeks=WEEKS)
    frame = cost_anomaly_daily_frame(start=history_start, end=today)
    if frame.empty:
        return []
    last_day = max(frame["day"])
    targets = [
        first_target + timedelta(days=n)
        for n in range((min(today - timedelta(days=1), last_day) - first_target).days + 1)
    ]
    found = anomalies_detect(
        frame,
        days=targets,
        threshold=float(settings.COSTPLANE_ANOMALY_SCORE),
        minimum_impact=Decimal(settings.COSTPLANE_ANOMALY_MIN_IMPACT),
        history_start=min(frame["day"]),
    )
    stored: list[CostAnomaly] = []
    with transaction.atomic():
        kept: set[tuple[str, str, date]] = set()
        for row in found.itertuples(index=False):
            if _suppressed(dimension=row.dimension, value=row.value, day=row.day, actual=row.actual):
                continue
            anomaly, _ = CostAnomaly.objects.update_or_create(
                source=CostAnomaly.Source.COSTPLANE,
                dimension=row.dimension,
                value=row.value,
                day=row.day,
                defaults={
                    "expected": row.expected,
                    "actual": row.actual,
                    "impact": row.impact,
                    "score": round(float(row.score), 3),
                    "contributors": cost_anomaly_contributors(dimension=row.dimension, value=row.value, day=row.day),
                },
            )
            kept.add((row.dimension, row.value, row.day))
            stored.append(anomaly)
        revised = CostAnomaly.objects.filter(source=CostAnomaly.Source.COSTPLANE, day__in=targets, feedback="").exclude(
            pk__in=[anomaly.pk for anomaly in stored]
        )
        revised.delete()
    return stored


@transaction.atomic
def cost_anomaly_feedback(
    *, anomaly: CostAnomaly, feedback: str, user: AbstractBaseUser, now: datetime | None = None
) -> CostAnomaly:
    """Record (or change) the feedback on an anomaly, with who gave it and when."""
    if feedback not in CostAnomaly.Feedback.values:
        raise ValueError(f"Feedback is one of {', '.join(CostAnomaly.Feedback.values)}.")
    anomaly = CostAnomaly.objects.select_for_update().get(pk=anomaly.pk)
    anomaly.feedback, anomaly.feedback_by, anomaly.feedback_at = feedback, user, now or timezone.now()
    anomaly.save(update_fields=["feedback", "feedback_by", "feedback_at", "updated_at"])
    return anomaly


def _money(value: float | None) -> Decimal:
    return Decimal(repr(value)) if value is not None else Decimal(0)


def cost_anomalies_aws_ingest(*, account: CloudAccount, today: date | None = None) -> int:
    """Store what Cost Anomaly Detection reports to `account` (a management account with Cost Explorer) for the
    last AWS_LOOKBACK_DAYS days, as rows with source "aws", updated in place on every run. Returns the count."""
    today = today or timezone.now().date()
    client = aws_client("ce", account=account, region=CE_REGION)
    items = list(ce.anomalies(client, start=today - timedelta(days=AWS_LOOKBACK_DAYS), end=today))
    with transaction.atomic():
        for item in items:
            impact = item["Impact"]
            causes = item.get("RootCauses") or []
            dimension_value = item.get("DimensionValue") or (causes[0].get("Service") if causes else "") or ""
            actual, expected = _money(impact.get("TotalActualSpend")), _money(impact.get("TotalExpectedSpend"))
            # A SERVICE monitor names a service; a LINKED_ACCOUNT monitor, an account id.
            is_account = dimension_value.isdigit() and len(dimension_value) == 12
            CostAnomaly.objects.update_or_create(
                source=CostAnomaly.Source.AWS,
                account=account,
                external_id=item["AnomalyId"],
                defaults={
                    "dimension": CostAnomaly.Dimension.ACCOUNT if is_account else CostAnomaly.Dimension.SERVICE,
                    "value": dimension_value,
                    "day": date.fromisoformat(item["AnomalyStartDate"][:10]),
                    "end_day": date.fromisoformat(item["AnomalyEndDate"][:10]) if item.get("AnomalyEndDate") else None,
                    "expected": expected,
                    "actual": actual,
                    "impact": _money(impact.get("TotalImpact", impact["MaxImpact"])),
                    "score": float(item["AnomalyScore"]["MaxScore"]),
                    "contributors": {"root_causes": causes},
                    "monitor_arn": item["MonitorArn"],
                },
            )
    return len(items)


def cost_anomalies_aws_ingest_all(*, today: date | None = None) -> dict[str, int]:
    """GetAnomalies for every management account (no payer in Costplane) with Cost Explorer enabled; a member's
    monitors would repeat its payer's. An account's AWS error is logged and the others still run."""
    counts: dict[str, int] = {}
    for account in CloudAccount.objects.filter(cost_explorer_enabled=True, payer__isnull=True):
        try:
            counts[account.account_id] = cost_anomalies_aws_ingest(account=account, today=today)
        except Exception:
            logger.exception("GetAnomalies failed for account %s", account.account_id)
            counts[account.account_id] = -1
    return counts


def anomaly_alert_specs(*, now: datetime) -> list:
    """Our anomalies of the last COSTPLANE_ANOMALY_LOOKBACK_DAYS complete days that nobody marked expected or not
    an anomaly: one AlertSpec each (key `anomaly:{id}`), so each opens one alert and resolves as it ages out."""
    from finops.services.alerts import AlertSpec

    since = now.date() - timedelta(days=settings.COSTPLANE_ANOMALY_LOOKBACK_DAYS)
    anomalies = CostAnomaly.objects.filter(source=CostAnomaly.Source.COSTPLANE, day__gte=since).exclude(
        feedback__in=SUPPRESSING
    )
    teams = {team.slug: team for team in Team.objects.all()}
    specs = []
    for anomaly in anomalies.order_by("-impact", "id"):
        label = f"{anomaly.get_dimension_display().lower()} {anomaly.value}"
        top = (anomaly.contributors.get("usage_types") or [{}])[0].get("usage_type")
        specs.append(
            AlertSpec(
                key=f"anomaly:{anomaly.pk}",
                title=f"Cost anomaly: {label} spent {anomaly.impact:,.2f} USD more than usual on {anomaly.day}",
                text=(
                    f"{anomaly.actual:,.2f} USD against an expected {anomaly.expected:,.2f} USD (median of the same "
                    f"weekday over the previous weeks), score {anomaly.score:.1f}."
                    + (f" Largest contributor: {top}." if top else "")
                ),
                team=teams.get(anomaly.value) if anomaly.dimension == CostAnomaly.Dimension.TEAM else None,
                severity="warning",
                details={
                    "anomaly": anomaly.pk,
                    "dimension": anomaly.dimension,
                    "value": anomaly.value,
                    "day": anomaly.day.isoformat(),
                    "expected": f"{anomaly.expected:f}",
                    "actual": f"{anomaly.actual:f}",
                    "impact": f"{anomaly.impact:f}",
                    "score": anomaly.score,
                },
                amount=anomaly.impact,
            )
        )
    return specs
