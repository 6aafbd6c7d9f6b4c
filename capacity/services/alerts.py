"""Capacity's alert sources (failed actions, quota headroom) and the evaluation that runs every source.

Failed or rolled-back actions: one alert per action (`action:<id>`). It resolves when a later action on
the same resource finishes (`done`), or once a person acknowledges it (Alerts page or
POST /api/v1/alerts/<id>/acknowledge): the action stays failed forever, so without that nothing would
clear it. An acknowledged action never alerts again.

Capacity plan: a quota the plan marks soon, late or over (see capacity.selectors.capacity_plan).

Quota headroom: a Service Quota with known usage and less than COSTPLANE_ALERT_QUOTA_HEADROOM_PERCENT of
its value left (`quota:<account>:<region>:<service>:<code>`); it resolves when headroom returns.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from capacity.models import Action, ServiceQuota
from capacity.selectors.capacity_plan import capacity_plan
from finops.models import Alert
from finops.services.alerts import (
    AlertSpec,
    alerts_sync,
    stale_ingestion_alert_specs,
    unallocated_share_alert_specs,
)
from finops.services.anomalies import anomaly_alert_specs
from finops.services.billing_periods import billing_restatement_alert_specs
from finops.services.budgets import budget_alert_specs

logger = logging.getLogger(__name__)


def action_alert_key(action_id: int) -> str:
    return f"action:{action_id}"


def action_failed_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """Failed and rolled-back actions nobody has acknowledged and no later action on the resource fixed."""
    acknowledged = set(
        Alert.objects.filter(kind=Alert.Kind.ACTION_FAILED, acknowledged_at__isnull=False).values_list("key", flat=True)
    )
    later_done = Action.objects.filter(
        resource_arn=OuterRef("resource_arn"),
        account=OuterRef("account"),
        state=Action.State.DONE,
        created_at__gt=OuterRef("created_at"),
    )
    actions = (
        Action.objects.filter(state__in=[Action.State.FAILED, Action.State.ROLLED_BACK])
        .exclude(Exists(later_done))
        .select_related("team", "resource", "account")
        .order_by("id")
    )
    specs = []
    for action in actions:
        key = action_alert_key(action.pk)
        if key in acknowledged:
            continue
        target = action.resource.name if action.resource and action.resource.name else action.resource_arn
        verb = "failed" if action.state == Action.State.FAILED else "was rolled back"
        target_type = action.new_configuration or action.parameters.get("target_instance_type", "")
        change = f"{action.old_configuration or '?'} → {target_type}" if target_type else action.get_kind_display()
        specs.append(
            AlertSpec(
                key=key,
                title=f"Action #{action.pk} {verb}: {change} on {target}",
                text=(action.error or f"The action {verb}; see its audit trail.")[:2000],
                team=action.team,
                severity=Alert.Severity.CRITICAL
                if action.state == Action.State.ROLLED_BACK
                else Alert.Severity.WARNING,
                details={
                    "action_id": action.pk,
                    "state": action.state,
                    "resource_arn": action.resource_arn,
                    "account_id": action.account.account_id,
                    "region": action.region,
                },
            )
        )
    return specs


def quota_headroom_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """Quotas with counted usage and less than X% of their value left."""
    threshold = Decimal(settings.COSTPLANE_ALERT_QUOTA_HEADROOM_PERCENT)
    specs = []
    quotas = ServiceQuota.objects.filter(usage__isnull=False, value__gt=0).select_related("account")
    for quota in quotas.order_by("account__account_id", "region", "service_code", "quota_code"):
        headroom_percent = (quota.value - quota.usage) / quota.value * 100
        if headroom_percent >= threshold:
            continue
        unit = f" {quota.unit}" if quota.unit and quota.unit != "None" else ""
        advice = "Request an increase in Service Quotas." if quota.adjustable else "This quota is not adjustable."
        specs.append(
            AlertSpec(
                key=f"quota:{quota.account.account_id}:{quota.region}:{quota.service_code}:{quota.quota_code}",
                title=(
                    f"{quota.name}: {headroom_percent.quantize(Decimal('0.1'))}% left in {quota.region}"
                    if quota.usage <= quota.value
                    else f"{quota.name}: over the quota in {quota.region}"
                ),
                text=(
                    f"Account {quota.account.account_id} uses {quota.usage.normalize():f} of "
                    f"{quota.value.normalize():f}{unit} (alerting under {threshold}% left). {advice}"
                ),
                severity=Alert.Severity.CRITICAL if quota.usage >= quota.value else Alert.Severity.WARNING,
                details={
                    "account_id": quota.account.account_id,
                    "region": quota.region,
                    "service_code": quota.service_code,
                    "quota_code": quota.quota_code,
                    "value": str(quota.value),
                    "usage": str(quota.usage),
                    "headroom_percent": str(headroom_percent.quantize(Decimal("0.01"))),
                },
            )
        )
    return specs


PLAN_SEVERITY = {"over": Alert.Severity.CRITICAL, "late": Alert.Severity.CRITICAL, "soon": Alert.Severity.WARNING}


def capacity_plan_alert_specs(*, now: datetime | None = None) -> list[AlertSpec]:
    """Quotas the base capacity plan marks soon, late or over (`plan:<account>:<region>:<service>:<code>`): one alert
    per quota while it stays so (its title follows the status), resolved when the plan says ok again."""
    today = (now or timezone.now()).date()
    specs = []
    for item in capacity_plan(today=today).items:
        if item.status not in PLAN_SEVERITY:
            continue
        unit = item.unit
        if item.status == "over":
            title = f"{item.quota_name} in {item.region} ({item.account}) is over its limit"
            text = (
                f"In use {item.in_use_now} {unit} plus {item.unused_reserved} {unit} held by reservations, against a "
                f"limit of {item.limit} {unit}. Request an increase in Service Quotas."
            )
        else:
            when = "was due" if item.status == "late" else "is due"
            title = (
                f"{item.quota_name} in {item.region} ({item.account}): the quota request {when} by {item.request_by}"
            )
            text = (
                f"Demand's 95th percentile crosses the limit of {item.limit} {unit} on {item.cross_date_p95}"
                + (f" (the median on {item.cross_date_median})" if item.cross_date_median else "")
                + f"; with a lead time of {settings.COSTPLANE_CAPACITY_LEAD_TIME_DAYS} days, request more by "
                f"{item.request_by}."
            )
        specs.append(
            AlertSpec(
                key=f"plan:{item.account}:{item.region}:{item.service_code}:{item.quota_code}",
                title=title[:255],
                text=text,
                severity=PLAN_SEVERITY[item.status],
                details={"status": item.status, **item.as_dict()},
            )
        )
    return specs


class AlertSourcesFailed(RuntimeError):
    """Some alert sources raised; the others were synced. The task fails so the failure shows in /metrics."""


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, dict[str, list[int]]]:
    """Run every alert source and sync its kind. A source that raises leaves its kind's alerts as they were
    (never resolved for want of data) and does not stop the others; AlertSourcesFailed names it at the end."""
    now = now or timezone.now()
    results: dict[str, dict[str, list[int]]] = {}
    failed: list[str] = []

    def run(kind: str, specs: Callable[[], list[AlertSpec]]) -> None:
        try:
            results[kind] = alerts_sync(kind=kind, current=specs(), now=now)
        except Exception:
            logger.exception("Alert source %s failed", kind)
            failed.append(kind)

    # Both budget kinds come from one computation (which records new threshold crossings as it goes).
    budgets = functools.cache(lambda: budget_alert_specs(now=now))
    run(Alert.Kind.STALE_INGESTION, lambda: stale_ingestion_alert_specs(now=now))
    run(Alert.Kind.UNALLOCATED_SHARE, lambda: unallocated_share_alert_specs(now=now))
    run(Alert.Kind.ACTION_FAILED, lambda: action_failed_alert_specs(now=now))
    run(Alert.Kind.QUOTA_HEADROOM, lambda: quota_headroom_alert_specs(now=now))
    run(Alert.Kind.CAPACITY_PLAN, lambda: capacity_plan_alert_specs(now=now))
    run(Alert.Kind.BUDGET_ACTUAL, lambda: budgets().get(Alert.Kind.BUDGET_ACTUAL, []))
    run(Alert.Kind.BUDGET_FORECAST, lambda: budgets().get(Alert.Kind.BUDGET_FORECAST, []))
    run(Alert.Kind.COST_ANOMALY, lambda: anomaly_alert_specs(now=now))
    # Restatements open their alert when the import commits; here an acknowledged one resolves.
    run(Alert.Kind.BILLING_RESTATEMENT, lambda: billing_restatement_alert_specs(now=now))
    if failed:
        raise AlertSourcesFailed(f"Alert sources failed: {', '.join(failed)} (the others were synced).")
    return results
