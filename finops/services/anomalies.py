"""Cost anomalies: detect ours over the last complete days, ingest AWS's, take feedback, and the alert specs.

Detection (`cost_anomalies_detect`) reads daily usage cost per service, account and team through the Reports
API's cost reads (finops.selectors.costs.cost_rows: export data where an account-day has it, Cost Explorer
elsewhere; teams from the team tag, so from export data), runs finops.anomalies over the last
COSTPLANE_ANOMALY_LOOKBACK_DAYS complete days that have data, and stores one CostAnomaly per dimension,
value and day with its top contributing usage types and resources (export lines of that day against the
same baseline days). Only usage counts: monthly fees, tax, credits and purchases arrive on schedule.
Re-running over the same days updates the rows (AWS revises recent days) and keeps their feedback; a stored
anomaly the revised data no longer supports is removed unless someone gave feedback on it.

One spike seen along several dimensions (a team's, its service's, its account's anomaly of the same day from the
same resources) is one incident (CostAnomalyIncident, grouped by finops.anomalies.incident_groups after every
run); pages, the API, feedback and alerts deal in incidents. Regrouping keeps an incident's id, so re-running
the detection never opens its alert twice. An incident whose impact reaches COSTPLANE_ANOMALY_ALERT_MIN_IMPACT
opens a cost-anomaly alert through the notification channels as soon as the detection finds it (and the
15-minute alert evaluation keeps it current), once per incident.

Feedback suppresses repeats: after an anomaly of a dimension value is marked "expected" or "not an
anomaly", new anomalies of that value are not stored for COSTPLANE_ANOMALY_SUPPRESS_DAYS days after its
day, unless the day's cost is more than COSTPLANE_ANOMALY_SUPPRESS_RISE_PERCENT percent above the
acknowledged day's actual cost (a further rise is news again). "real" suppresses nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from finops.anomalies import WEEKS, anomalies_detect, contributors, incident_groups, incident_impact
from finops.aws import cost_explorer as ce
from finops.aws.clients import aws_client
from finops.models import Alert, CloudAccount, CostAnomaly, CostAnomalyIncident, Team
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


def cost_anomaly_contributors(
    *, dimension: str, value: str, day: date, weeks: int = WEEKS, currency: str = "USD"
) -> dict[str, list[dict]]:
    """The usage types and resources whose cost grew most on `day` against the median of the same weekday over
    the previous `weeks` weeks, from export lines (Cost Explorer has neither), in the series' currency."""
    baseline_days = [day - timedelta(weeks=week) for week in range(1, weeks + 1)]
    where, params = _dimension_where(dimension, value)
    where += " AND (r.charge_period_start AT TIME ZONE 'UTC')::date = ANY(%s)"
    params.append([day, *baseline_days])
    query = ReportQuery(
        start=baseline_days[-1], end=day + timedelta(days=1), step="day", filters=USAGE_ONLY, currency=currency
    )
    keys = ["COALESCE(r.usage_type, '')", "COALESCE(r.resource_id, '')"]
    sql, sql_params = export_grouped_sql(query, keys, [], where=where, where_params=params)
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


def _resources(anomaly: CostAnomaly) -> dict[str, Decimal]:
    return {item["resource"]: Decimal(item["change"]) for item in anomaly.contributors.get("resources") or []}


def cost_anomaly_incidents_regroup(*, days: Iterable[date]) -> list[CostAnomalyIncident]:
    """Group our anomalies of `days` into incidents (finops.anomalies.incident_groups) and return those incidents.

    The anomalies of the day before the first of `days`, and every anomaly of an incident that touches them, are
    grouped with them, so a spike that goes on from an earlier run's days joins its incident. A group keeps the
    incident most of its anomalies already belonged to, so an incident keeps its id (and its alert) when the
    detection runs again; an anomaly that joins an incident someone gave feedback on takes that feedback.
    Incidents left without anomalies are deleted.
    """
    days = sorted(set(days))
    if not days:
        return []
    window = [days[0] - timedelta(days=1), *days]
    ours = CostAnomaly.objects.filter(source=CostAnomaly.Source.COSTPLANE)
    touching = ours.filter(day__in=window, incident__isnull=False).values("incident")
    anomalies = list(
        ours.select_for_update().filter(Q(day__in=window) | Q(incident__in=touching)).order_by("day", "id")
    )
    items = [{"day": anomaly.day, "impact": anomaly.impact, "resources": _resources(anomaly)} for anomaly in anomalies]
    incidents: list[CostAnomalyIncident] = []
    taken: set[int] = set()
    for group in incident_groups(items):
        members = [anomalies[position] for position in group]
        first, last = min(member.day for member in members), max(member.day for member in members)
        fields = {
            "day": first,
            "end_day": last if last != first else None,
            "impact": incident_impact([items[position] for position in group]),
        }
        votes = Counter(member.incident_id for member in members if member.incident_id not in (None, *taken))
        if votes:
            incident = CostAnomalyIncident.objects.get(pk=min(votes, key=lambda pk: (-votes[pk], pk)))
            for name, value in fields.items():
                setattr(incident, name, value)
            incident.save(update_fields=[*fields, "updated_at"])
        else:
            incident = CostAnomalyIncident.objects.create(source=CostAnomaly.Source.COSTPLANE, **fields)
        taken.add(incident.pk)
        incidents.append(incident)
        given = max((member for member in members if member.feedback), key=lambda m: m.feedback_at, default=None)
        for member in members:
            changed = ["incident"] if member.incident_id != incident.pk else []
            member.incident = incident
            if given is not None and not member.feedback:
                member.feedback, member.feedback_by_id, member.feedback_at = (
                    given.feedback, given.feedback_by_id, given.feedback_at,
                )  # fmt: skip
                changed += ["feedback", "feedback_by", "feedback_at"]
            if changed:
                member.save(update_fields=[*changed, "updated_at"])
    CostAnomalyIncident.objects.filter(source=CostAnomaly.Source.COSTPLANE, anomalies__isnull=True).delete()
    return incidents


def cost_anomalies_detect(
    *, today: date | None = None, lookback_days: int | None = None, now: datetime | None = None
) -> list[CostAnomaly]:
    """Detect anomalies over the last complete days before `today` that have cost data, store them grouped into
    incidents, and open the alerts of new incidents worth one (cost_anomaly_alerts_sync) once that commits.

    Returns the anomalies stored or updated by this run (suppressed ones are not stored).
    """
    now = now or timezone.now()
    today = today or now.date()
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
    # Each billing currency is its own set of series (never added together, never converted).
    found_per_currency = [
        (
            currency,
            anomalies_detect(
                frame[frame["currency"] == currency].drop(columns="currency"),
                days=targets,
                threshold=float(settings.COSTPLANE_ANOMALY_SCORE),
                minimum_impact=Decimal(settings.COSTPLANE_ANOMALY_MIN_IMPACT),
                history_start=min(frame["day"]),
            ),
        )
        for currency in sorted(set(frame["currency"]))
    ]
    stored: list[CostAnomaly] = []
    with transaction.atomic():
        for currency, found in found_per_currency:
            for row in found.itertuples(index=False):
                if _suppressed(dimension=row.dimension, value=row.value, day=row.day, actual=row.actual):
                    continue
                contributing = cost_anomaly_contributors(
                    dimension=row.dimension, value=row.value, day=row.day, currency=currency
                )
                anomaly, _ = CostAnomaly.objects.update_or_create(
                    source=CostAnomaly.Source.COSTPLANE,
                    dimension=row.dimension,
                    value=row.value,
                    currency=currency,
                    day=row.day,
                    defaults={
                        "expected": row.expected,
                        "actual": row.actual,
                        "impact": row.impact,
                        "score": round(float(row.score), 3),
                        "contributors": contributing,
                    },
                )
                stored.append(anomaly)
        revised = CostAnomaly.objects.filter(source=CostAnomaly.Source.COSTPLANE, day__in=targets, feedback="").exclude(
            pk__in=[anomaly.pk for anomaly in stored]
        )
        revised.delete()
        cost_anomaly_incidents_regroup(days=targets)
        transaction.on_commit(lambda: cost_anomaly_alerts_sync(now=now))
    for anomaly in stored:
        anomaly.refresh_from_db(fields=["incident", "feedback", "feedback_by", "feedback_at"])
    return stored


@transaction.atomic
def cost_anomaly_feedback(
    *, incident: CostAnomalyIncident, feedback: str, user: AbstractBaseUser, now: datetime | None = None
) -> CostAnomalyIncident:
    """Record (or change) the feedback on an incident, with who gave it and when: each of its anomalies takes it,
    so "expected" and "not an anomaly" suppress repeats along every dimension that saw the spike."""
    if feedback not in CostAnomaly.Feedback.values:
        raise ValueError(f"Feedback is one of {', '.join(CostAnomaly.Feedback.values)}.")
    incident = CostAnomalyIncident.objects.select_for_update().get(pk=incident.pk)
    now = now or timezone.now()
    incident.anomalies.update(feedback=feedback, feedback_by=user, feedback_at=now, updated_at=now)
    incident.save(update_fields=["updated_at"])
    return incident


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
            anomaly, _ = CostAnomaly.objects.update_or_create(
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
            _aws_incident_set(anomaly)
    return len(items)


def _aws_incident_set(anomaly: CostAnomaly) -> None:
    """AWS's anomalies are one incident each (its monitors already merge days; its root causes name no resource)."""
    if anomaly.incident_id is None:
        anomaly.incident = CostAnomalyIncident.objects.create(
            source=CostAnomaly.Source.AWS, day=anomaly.day, end_day=anomaly.end_day, impact=anomaly.impact
        )
        anomaly.save(update_fields=["incident", "updated_at"])
        return
    CostAnomalyIncident.objects.filter(pk=anomaly.incident_id).update(
        day=anomaly.day, end_day=anomaly.end_day, impact=anomaly.impact, updated_at=timezone.now()
    )


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


def incident_alert_key(incident: CostAnomalyIncident) -> str:
    return f"incident:{incident.pk}"


def _dimension_label(anomaly: CostAnomaly) -> str:
    return f"{anomaly.get_dimension_display().lower()} {anomaly.value}"


def anomaly_alert_specs(*, now: datetime) -> list:
    """One AlertSpec per incident of ours (key `incident:{id}`) worth an alert: its impact at least
    COSTPLANE_ANOMALY_ALERT_MIN_IMPACT, nobody marked it expected or not an anomaly, and found recently (its day, or
    the day the detection first found it, within the last COSTPLANE_ANOMALY_LOOKBACK_DAYS days: a new install's first
    detection over weeks of history tells people about what it finds). Its alert resolves as it ages out."""
    from finops.services.alerts import AlertSpec

    since = now.date() - timedelta(days=settings.COSTPLANE_ANOMALY_LOOKBACK_DAYS)
    incidents = (
        CostAnomalyIncident.objects.filter(
            Q(day__gte=since) | Q(detected_at__date__gte=since, detected_at__lte=now),
            source=CostAnomaly.Source.COSTPLANE,
            impact__gte=Decimal(settings.COSTPLANE_ANOMALY_ALERT_MIN_IMPACT),
        )
        .exclude(anomalies__feedback__in=SUPPRESSING)
        .prefetch_related("anomalies")
        .order_by("-impact", "id")
    )
    teams = {team.slug: team for team in Team.objects.all()}
    specs = []
    for incident in incidents:
        members = sorted(incident.anomalies.all(), key=lambda anomaly: (-anomaly.impact, anomaly.pk))
        if not members:
            continue
        lead = members[0]
        labels = list(dict.fromkeys(_dimension_label(anomaly) for anomaly in members))
        seen = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
        top = (lead.contributors.get("usage_types") or [{}])[0].get("usage_type")
        team = next((teams.get(m.value) for m in members if m.dimension == CostAnomaly.Dimension.TEAM), None)
        days = f"{incident.day} to {incident.end_day}" if incident.end_day else f"{incident.day}"
        specs.append(
            AlertSpec(
                key=incident_alert_key(incident),
                title=f"Cost anomaly: {seen} spent {incident.impact:,.2f} USD more than usual on {days}",
                text=(
                    f"{lead.actual:,.2f} USD against an expected {lead.expected:,.2f} USD for {labels[0]} on "
                    f"{lead.day} (median of the same weekday over the previous weeks), score {lead.score:.1f}."
                    + (f" Seen along {len(labels)} dimensions: {seen}." if len(labels) > 1 else "")
                    + (f" Largest contributor: {top}." if top else "")
                ),
                team=team,
                severity="warning",
                details={
                    "incident": incident.pk,
                    "anomalies": [anomaly.pk for anomaly in members],
                    "dimensions": [
                        {"dimension": m.dimension, "value": m.value, "day": m.day.isoformat()} for m in members
                    ],
                    "day": incident.day.isoformat(),
                    "end_day": incident.end_day.isoformat() if incident.end_day else None,
                    "expected": f"{lead.expected:f}",
                    "actual": f"{lead.actual:f}",
                    "impact": f"{incident.impact:f}",
                    "score": lead.score,
                },
                amount=incident.impact,
            )
        )
    return specs


def cost_anomaly_alerts_sync(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Open (and notify) the alerts of incidents worth one, resolve those no longer current: the cost-anomaly kind
    of the alert evaluation, run as soon as a detection commits."""
    from finops.services.alerts import alerts_sync

    now = now or timezone.now()
    return alerts_sync(kind=Alert.Kind.COST_ANOMALY, current=anomaly_alert_specs(now=now), now=now)
