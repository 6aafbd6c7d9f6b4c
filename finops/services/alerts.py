"""Alerts: open, refresh and resolve alerts from what their sources report now, and notify on each change.

A source computes the conditions that hold now, one `AlertSpec` per key, and calls `alerts_sync` with
all of them for its kind. A key with no open alert opens one and sends `alert.opened`; a key already open
is refreshed quietly; an open alert whose key is missing is resolved and sends `alert.resolved`. The
(kind, key) row lock and the partial unique index keep one open alert per key even with two workers.

finops sources live here (stale ingestion, unallocated share); capacity's in capacity/services/alerts.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from finops.allocation.coverage import tag_coverage
from finops.models import Alert, Team
from finops.reports import ReportQuery, money_sum
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.selectors.ingestion import account_last_success_list
from finops.services.notifications import Message, notify

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSpec:
    """A condition that holds now: `key` identifies it within its kind (e.g. `account:123456789012`)."""

    key: str
    title: str
    text: str
    team: Team | None = None
    severity: str = Alert.Severity.WARNING
    details: dict = field(default_factory=dict)
    amount: Decimal | None = None


def _alert_url(alert: Alert) -> str:
    return f"{settings.COSTPLANE_BASE_URL}/alerts/#alert-{alert.pk}" if settings.COSTPLANE_BASE_URL else ""


def alert_message(alert: Alert, *, resolved: bool = False) -> Message:
    fields = {"Kind": alert.get_kind_display(), "Severity": alert.get_severity_display()}
    if alert.team_id:
        fields["Team"] = alert.team.name
    fields["Opened"] = f"{alert.opened_at:%Y-%m-%d %H:%M} UTC"
    if resolved:
        fields["Resolved"] = f"{alert.resolved_at:%Y-%m-%d %H:%M} UTC"
        return Message(title=f"Resolved: {alert.title}", text=alert.text, fields=fields, url=_alert_url(alert))
    return Message(title=alert.title, text=alert.text, fields=fields, url=_alert_url(alert))


def _alert_notify(alert: Alert, *, resolved: bool, amount: Decimal | None, now: datetime) -> None:
    notify(
        event="alert.resolved" if resolved else "alert.opened",
        subject=f"alert:{alert.pk}",
        message=alert_message(alert, resolved=resolved),
        team=alert.team,
        amount=amount,
        now=now,
    )


def _alert_open(*, kind: str, spec: AlertSpec, now: datetime) -> tuple[Alert, bool]:
    """The open alert of (kind, key), refreshed, or a new one; True when it was opened now."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(kind=kind, key=spec.key, state=Alert.State.OPEN).first()
        if alert is not None:
            alert.title, alert.text, alert.details = spec.title, spec.text, spec.details
            alert.severity, alert.amount, alert.last_seen_at = spec.severity, spec.amount, now
            alert.save(update_fields=["title", "text", "details", "severity", "amount", "last_seen_at"])
            return alert, False
        try:
            # A savepoint: a concurrent sync that opened the same key first makes this insert fail cleanly.
            with transaction.atomic():
                alert = Alert.objects.create(
                    kind=kind,
                    key=spec.key,
                    team=spec.team,
                    severity=spec.severity,
                    title=spec.title,
                    text=spec.text,
                    details=spec.details,
                    amount=spec.amount,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            alert = Alert.objects.select_for_update().get(kind=kind, key=spec.key, state=Alert.State.OPEN)
            return alert, False
    return alert, True


def _alert_resolve(*, alert_id: int, now: datetime) -> Alert | None:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id, state=Alert.State.OPEN).first()
        if alert is None:
            return None  # another sync resolved it first
        alert.state, alert.resolved_at = Alert.State.RESOLVED, now
        alert.save(update_fields=["state", "resolved_at"])
    return alert


def alerts_sync(*, kind: str, current: Iterable[AlertSpec], now: datetime | None = None) -> dict[str, list[int]]:
    """Make the open alerts of `kind` match `current`; returns {"opened": [ids], "resolved": [ids]}."""
    if kind not in Alert.Kind.values:
        raise ValueError(f"Unknown alert kind {kind!r}.")
    now = now or timezone.now()
    specs = {spec.key: spec for spec in current}
    opened: list[int] = []
    resolved: list[int] = []
    for spec in specs.values():
        alert, is_new = _alert_open(kind=kind, spec=spec, now=now)
        if is_new:
            opened.append(alert.pk)
            logger.info("Alert %s opened: %s %s", alert.pk, kind, spec.key)
            _alert_notify(alert, resolved=False, amount=spec.amount, now=now)
    stale = (
        Alert.objects.filter(kind=kind, state=Alert.State.OPEN)
        .exclude(key__in=list(specs))
        .values_list("pk", flat=True)
    )
    for alert_id in list(stale):
        alert = _alert_resolve(alert_id=alert_id, now=now)
        if alert is not None:
            resolved.append(alert.pk)
            logger.info("Alert %s resolved: %s %s", alert.pk, kind, alert.key)
            # Filtered by the alert's amount as the opening was: a channel that found it too small hears no resolve.
            _alert_notify(alert, resolved=True, amount=alert.amount, now=now)
    return {"opened": opened, "resolved": resolved}


def alert_acknowledge(*, alert: Alert, user: AbstractBaseUser, now: datetime | None = None) -> Alert:
    """Record that a person has seen the alert. A failed action's alert then resolves on the next evaluation
    (the action stays failed, so nothing else would clear it); other kinds stay open until their condition clears."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, user
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert


# --- Sources (finops) ----------------------------------------------------------------------------


def stale_ingestion_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """Enabled accounts (Cost Explorer or exports) with no successful ingestion run for N hours."""
    now = now or timezone.now()
    hours = settings.COSTPLANE_ALERT_STALE_INGESTION_HOURS
    cutoff = now - timedelta(hours=hours)
    specs = []
    for account in account_last_success_list(enabled_only=True):
        if account.last_success is not None and account.last_success >= cutoff:
            continue
        # A newly added account gets N hours for its first run before it counts as stale.
        if account.last_success is None and account.created_at >= cutoff:
            continue
        since = (
            f"since {account.last_success:%Y-%m-%d %H:%M} UTC"
            if account.last_success
            else "ever (no successful run yet)"
        )
        specs.append(
            AlertSpec(
                key=f"account:{account.account_id}",
                title=f"No billing data for {account.name or account.account_id} in {hours} hours",
                text=(
                    f"Account {account.account_id} has had no successful ingestion run {since}. "
                    "Reports for it stop at that point."
                ),
                severity=Alert.Severity.CRITICAL if account.last_success is None else Alert.Severity.WARNING,
                details={
                    "account_id": account.account_id,
                    "last_success": account.last_success.isoformat() if account.last_success else None,
                    "hours": hours,
                },
            )
        )
    return specs


def unallocated_share_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """The share of the last complete 7 days' usage cost without the team tag (after the rules) over X%.

    The same reading as the Allocation page's tag coverage (finops.allocation.coverage.tag_coverage): usage lines
    only, since taxes, credits and purchases carry no resource tags by nature.
    """
    now = now or timezone.now()
    end: date = now.date()
    start = end - timedelta(days=7)
    key = settings.COSTPLANE_TEAM_TAG_KEY
    _version, rules = allocation_rules_current()
    frame, _currency = allocation_rows_frame(query=ReportQuery(start=start, end=end))
    coverage = tag_coverage(frame, key=key, rules=rules)
    total = money_sum(coverage["cost"])
    unallocated = total - money_sum(coverage["tagged_cost"])
    threshold = Decimal(settings.COSTPLANE_ALERT_UNALLOCATED_PERCENT)
    if total <= 0:
        return []
    percent = unallocated / total * 100
    if percent <= threshold:
        return []
    return [
        AlertSpec(
            key=f"tag:{key}",
            title=f"{percent:.1f}% of last week's cost has no team",
            text=(
                f"${unallocated:,.2f} of ${total:,.2f} from {start} to {end - timedelta(days=1)} carries no "
                f"'{key}' tag after the allocation rules (threshold {threshold}%)."
            ),
            details={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "unallocated": str(unallocated),
                "total": str(total),
                "percent": f"{percent:.2f}",
                "threshold_percent": str(threshold),
            },
            amount=unallocated,
        )
    ]
