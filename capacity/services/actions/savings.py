"""Realised savings of done actions, measured from billing, never estimated.

The resource's billed cost per day from the billing export (finops resource_lines_frame, one export format per
account-day) over REALISED_DAYS full UTC days before the change day against as many full days after it, scaled to a
month (730 hours). Only when the export has a daily total for the account on every one of those days; None
otherwise (never guessed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from capacity.models import Action
from finops.models import ExportDailyTotal
from finops.reports import ReportQuery
from finops.selectors.allocations import resource_lines_frame

REALISED_DAYS = 7
HOURS_PER_MONTH = Decimal(730)


def _resource_ids(action: Action) -> list[str]:
    ids = {action.resource_arn, action.resource_arn.rsplit("/", 1)[-1]}
    if action.resource is not None:
        ids.add(action.resource.resource_id)
    return sorted(identifier for identifier in ids if identifier)


def action_realised_savings(
    *, action: Action, days: int = REALISED_DAYS, store: bool = True, now: datetime | None = None
) -> Decimal | None:
    """Monthly savings measured from billing: daily cost over `days` full days before the change day minus
    over `days` full days after it, times 730/24. None (and nothing stored) until every one of those days
    has the account's export total, or when the action is not done."""
    if action.state != Action.State.DONE or action.executed_at is None:
        return None
    now = now or timezone.now()
    change_day = action.executed_at.astimezone(UTC).date()
    before_start = change_day - timedelta(days=days)
    after_start, after_end = change_day + timedelta(days=1), change_day + timedelta(days=1 + days)
    if after_end > now.astimezone(UTC).date():
        return None
    wanted = {before_start + timedelta(days=offset) for offset in range(days)}
    wanted |= {after_start + timedelta(days=offset) for offset in range(days)}
    covered = set(
        ExportDailyTotal.objects.filter(
            sub_account_id=action.account.account_id, day__gte=before_start, day__lt=after_end
        ).values_list("day", flat=True)
    )
    if not wanted <= covered:
        return None
    frame = resource_lines_frame(
        query=ReportQuery(start=before_start, end=after_end, step="day"), resource_ids=_resource_ids(action)
    )
    before = after = Decimal(0)
    for period, cost in zip(frame["period"], frame["cost"], strict=True):
        if period < change_day:
            before += Decimal(cost)
        elif period > change_day:
            after += Decimal(cost)
    monthly = ((before - after) / days * HOURS_PER_MONTH / 24).quantize(Decimal("0.01"))
    if store:
        action.realised_monthly_savings = monthly
        action.realised_measured_at = now
        action.save(update_fields=["realised_monthly_savings", "realised_measured_at", "updated_at"])
    return monthly


def actions_realised_savings_measure(*, now: datetime | None = None, max_age_days: int = 60) -> int:
    """Measure the realised savings of done actions not measured yet (changed within `max_age_days`)."""
    now = now or timezone.now()
    measured = 0
    for action in Action.objects.filter(
        state=Action.State.DONE,
        realised_monthly_savings__isnull=True,
        executed_at__gte=now - timedelta(days=max_age_days),
    ).select_related("account", "resource"):
        if action_realised_savings(action=action, now=now) is not None:
            measured += 1
    return measured
