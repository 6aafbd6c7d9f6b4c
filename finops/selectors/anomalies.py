"""Anomaly reads: daily usage cost per service, account and team, from the Reports API's cost reads."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from finops.anomalies import WEEKS, baseline
from finops.models import CostAnomaly, CostAnomalyIncident, Team
from finops.reports import ReportQuery
from finops.selectors.costs import cost_rows

USAGE_ONLY = {"charge_category": ("usage",)}


def _team_by_tag_value() -> dict[str, str]:
    return {value: team.slug for team in Team.objects.all() for value in team.tag_values}


def cost_anomaly_daily_frame(*, start: date, end: date, dimension: str | None = None) -> pd.DataFrame:
    """Daily usage cost per service, account and team in [start, end): columns dimension, value, currency, day,
    cost. A value billed in two currencies is two series: amounts in different currencies are never added."""
    team_key = f"tag:{settings.COSTPLANE_TEAM_TAG_KEY}"
    teams = _team_by_tag_value()
    records: list[tuple[str, str, str, date, Decimal]] = []
    for name, key in (("service", "service"), ("account", "account"), ("team", team_key)):
        if dimension is not None and name != dimension:
            continue
        query = ReportQuery(start=start, end=end, aggregate=(key,), step="day", filters=USAGE_ONLY)
        for row in cost_rows(query=query):
            value = row.key[key]
            if name == "team":
                if value not in teams:
                    continue
                value = teams[value]
            records.append((name, value, row.currency, row.period, row.cost))
    frame = pd.DataFrame(records, columns=["dimension", "value", "currency", "day", "cost"])
    if frame.empty:
        return frame
    # A team with several tag values is one series: sum them per day.
    return frame.groupby(["dimension", "value", "currency", "day"], as_index=False, sort=True)["cost"].agg(
        lambda s: sum(s, Decimal(0))
    )


def cost_anomaly_series(
    *, dimension: str, value: str, day: date, today: date, days_before: int = 28, currency: str = "USD"
) -> pd.DataFrame:
    """The value's daily usage cost around `day` (days_before days before it, up to a week after, before
    `today`) with the detector's baseline on each day: columns day, actual, expected, upper (expected + threshold
    × spread, the line above which a day is anomalous by score)."""
    first = day - timedelta(days=days_before)
    end = min(day + timedelta(days=8), today)
    frame = cost_anomaly_daily_frame(start=first - timedelta(weeks=WEEKS), end=end, dimension=dimension)
    if not frame.empty:
        frame = frame[(frame["value"] == value) & (frame["currency"] == currency)].drop(columns="currency")
    shown = [first + timedelta(days=n) for n in range((end - first).days)]
    if frame.empty:
        return pd.DataFrame(columns=["day", "actual", "expected", "upper"])
    scored = baseline(frame, days=shown, history_start=min(frame["day"]))
    threshold = settings.COSTPLANE_ANOMALY_SCORE
    return pd.DataFrame(
        {
            "day": scored["day"],
            "actual": scored["actual"],
            "expected": scored["expected"],
            "upper": [
                Decimal(str(round(float(e) + threshold * s, 2)))
                for e, s in zip(scored["expected"], scored["spread"], strict=True)
            ],
        }
    ).reset_index(drop=True)


def _with_members(incidents: QuerySet[CostAnomalyIncident]) -> QuerySet[CostAnomalyIncident]:
    members = CostAnomaly.objects.select_related("account", "feedback_by").order_by("-impact", "id")
    seen = Exists(CostAnomaly.objects.filter(incident=OuterRef("pk")))
    return incidents.filter(seen).prefetch_related(Prefetch("anomalies", queryset=members, to_attr="members"))


def cost_anomaly_incidents_listed() -> QuerySet[CostAnomalyIncident]:
    """Every incident, ours and AWS's, once each with the anomalies (dimensions) that saw it, largest impact first
    (`members`): newest day first, then the largest impact. Incidents whose anomalies were all removed are left out."""
    return _with_members(CostAnomalyIncident.objects.order_by("-day", "-impact", "id"))


def cost_anomaly_incident_get(*, incident_id) -> CostAnomalyIncident | None:
    """The incident with this primary key (posted or typed text), with its anomalies; None when there is none or
    the text is no number."""
    try:
        return _with_members(CostAnomalyIncident.objects.all()).get(pk=int(incident_id))
    except (TypeError, ValueError, CostAnomalyIncident.DoesNotExist):
        return None
