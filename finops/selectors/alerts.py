"""Reads for the Alerts page: alerts in the order a reader triages them, notification channels, what was sent.

The page narrows these with the API's FilterSets (finops/filtersets.py), so "open", "resolved" and "failed" mean
on the page what they mean in /api/v1/alerts and /api/v1/notifications.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from finops.models import Alert, Channel, Notification


def alerts_by_severity() -> QuerySet[Alert]:
    """Alerts with their team and acknowledger loaded: critical first, then warning, then the rest; newest first
    within each (the order open alerts are triaged in)."""
    severity_rank = Case(
        When(severity=Alert.Severity.CRITICAL, then=Value(0)),
        When(severity=Alert.Severity.WARNING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return Alert.objects.select_related("team", "acknowledged_by").order_by(severity_rank, "-opened_at", "-id")


def alerts_by_resolution() -> QuerySet[Alert]:
    """Alerts with their team and acknowledger loaded, the most recently resolved first."""
    return Alert.objects.select_related("team", "acknowledged_by").order_by("-resolved_at", "-id")


def channels_listed() -> QuerySet[Channel]:
    """Notification channels with their team loaded, in the model's order."""
    return Channel.objects.select_related("team")


def channel_get(*, channel_id: str) -> Channel | None:
    """The channel with this primary key as posted (text), with its team; None when there is none."""
    return channels_listed().filter(pk=channel_id).first() if str(channel_id).isdigit() else None


def notifications_recent() -> QuerySet[Notification]:
    """Notifications with their channel loaded, newest first."""
    return Notification.objects.select_related("channel").order_by("-created_at", "-id")
