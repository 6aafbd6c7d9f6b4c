"""Deciding what a policy does now: idle streaks, running state, the guards' verdicts, restores, and the preview
built on them (reads only). Which resources a policy selects and which schedule applies are selection.py's;
the guards themselves are guards.py's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from capacity.models import Action, Policy, Resource, UtilisationHour
from capacity.schedules import Schedule
from capacity.selectors.prices import price_for
from capacity.services.policies.editing import IDLE_LOOKBACK_HOURS, OFF_ON, RUNNING, WOULD, Kind
from capacity.services.policies.guards import OFF_KINDS, resource_guard_reason
from capacity.services.policies.selection import policy_resources, policy_schedule_for


@dataclass
class Decision:
    """What a policy would do to one resource now."""

    resource: Resource
    would: str  # stop | start | delete | recreate | scale | restore | skip | none
    reason: str
    kind: str = ""  # the Action kind to record; blank: nothing to record
    transition_at: datetime | None = None
    next_transition: datetime | None = None
    hourly_saving: Decimal | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    capped: bool = False  # beyond the policy's cap in this run: held for the next one, not decided

    def item(self) -> dict[str, Any]:
        resource = self.resource
        return {
            "resource_id": resource.pk,
            "resource": resource.name or resource.resource_id,
            "resource_kind": resource.kind,
            "account_id": resource.account.account_id,
            "region": resource.region,
            "team": resource.team.slug if resource.team_id else None,
            "would": self.would,
            "action_kind": self.kind or None,
            "reason": self.reason,
            "error": self.error,
            "capped": self.capped,
            "hourly_saving": self.hourly_saving,
            "transition_at": self.transition_at,
            "next_transition": self.next_transition,
        }


def _running(resource: Resource) -> bool:
    if resource.kind in RUNNING:
        return resource.state in RUNNING[resource.kind]
    size = resource.details.get("desired_capacity", resource.details.get("desired_size"))
    return size is None or size > 0


def resource_hourly_saving(*, resource: Resource) -> Decimal | None:
    """What the resource costs an hour at on-demand prices (what stopping it saves); None without a price."""
    if resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT:
        total = Decimal(0)
        for variant in resource.details.get("variants", []) or [
            {"instance_type": resource.instance_type, "instance_count": resource.instance_count}
        ]:
            price = price_for(region=resource.region, instance_type=variant.get("instance_type") or "")
            if price is None or price.hourly_usd is None:
                return None
            total += price.hourly_usd * int(variant.get("instance_count") or 0)
        return total
    component = "Notebook" if resource.kind == Resource.Kind.SAGEMAKER_NOTEBOOK else ""
    price = price_for(region=resource.region, instance_type=resource.instance_type, component=component)
    if price is None or price.hourly_usd is None:
        return None
    if resource.kind in (Resource.Kind.AUTO_SCALING_GROUP, Resource.Kind.EKS_NODE_GROUP):
        count = resource.details.get("desired_capacity", resource.details.get("desired_size", resource.instance_count))
        return price.hourly_usd * int(count or 0)
    return price.hourly_usd


def cap_reason(policy: Policy) -> str:
    return f"Cap reached ({policy.max_actions_per_run} per run): left for the next run."


def _existing(policy: Policy, kinds: tuple[str, ...]) -> set[tuple[int, str, datetime]]:
    """The boundaries the policy has decided: every action but a cap skip (the cap limits a run, it decides
    nothing, so the next run may still act on that boundary)."""
    actions = Action.objects.filter(policy=policy, kind__in=kinds, capped=False)
    return set(actions.values_list("resource_id", "kind", "transition_at"))


def _idle_since(policy: Policy, resource: Resource, now: datetime) -> tuple[datetime | None, str]:
    """(the first hour of the idle streak that reaches now, when it is at least idle_hours long; else None, why)."""
    last_hour = now.replace(minute=0, second=0, microsecond=0)  # the hour before `last_hour` is the last complete
    start = last_hour - timedelta(hours=IDLE_LOOKBACK_HOURS)
    hours = policy.idle_hours or 1
    if resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT:
        metric, threshold, rows_of = UtilisationHour.Metric.INVOCATIONS, None, [resource]
    elif resource.kind == Resource.Kind.SAGEMAKER_NOTEBOOK:
        metric, threshold, rows_of = UtilisationHour.Metric.CPU, policy.idle_cpu_percent, [resource]
    elif resource.kind == Resource.Kind.EC2_INSTANCE:
        if not resource.accelerated:
            return None, "Idle rule covers GPU instances; this one has no GPU."
        metric, threshold, rows_of = UtilisationHour.Metric.GPU, policy.idle_gpu_percent, [resource]
    else:
        detail = "auto_scaling_group" if resource.kind == Resource.Kind.AUTO_SCALING_GROUP else "eks_node_group"
        rows_of = list(
            Resource.objects.filter(
                account=resource.account, region=resource.region, kind=Resource.Kind.EC2_INSTANCE,
                gone_at__isnull=True, **{f"details__{detail}": resource.name},
            )
        )  # fmt: skip
        if not rows_of:
            return None, "No member instances known: idleness unknown."
        metric, threshold = UtilisationHour.Metric.GPU, policy.idle_gpu_percent
    rows = UtilisationHour.objects.filter(resource__in=rows_of, metric=metric, hour__gte=start, hour__lt=last_hour)
    by_hour: dict[datetime, list[UtilisationHour]] = {}
    for row in rows:
        by_hour.setdefault(row.hour, []).append(row)
    expected = len(rows_of)
    streak_start: datetime | None = None
    hour = last_hour - timedelta(hours=1)
    while hour >= start:
        found = by_hour.get(hour, [])
        if len({row.resource_id for row in found}) < expected or any(row.missing for row in found):
            break  # an hour without data is unknown, never idle
        if metric == UtilisationHour.Metric.INVOCATIONS:
            idle = all((row.total or 0) == 0 for row in found)
        else:
            idle = all(row.average is not None and row.average < threshold for row in found)
        if not idle:
            break
        streak_start = hour
        hour -= timedelta(hours=1)
    if streak_start is None:
        return None, "Not idle in the last complete hour (or no data for it)."
    length = int((last_hour - streak_start).total_seconds() // 3600)
    if length < hours:
        return None, f"Idle for {length} of the {hours} hours needed (hours without data count as unknown)."
    return streak_start, f"Idle for {length} hours (rule: {hours})."


def policy_decisions(*, policy: Policy, now: datetime) -> list[Decision]:
    """What `policy` would do now to each resource it selects, and which stopped resources it would bring back."""
    off_kind, on_kind = OFF_ON[policy.action]
    existing = _existing(policy, (off_kind, on_kind))
    decisions: list[Decision] = []
    schedules: dict[int, tuple[Schedule | None, str]] = {}
    for resource in policy_resources(policy=policy):
        saving = resource_hourly_saving(resource=resource)
        if policy.trigger == Policy.Trigger.SCHEDULE:
            schedule, error = schedules.setdefault(resource.pk, policy_schedule_for(policy=policy, resource=resource))
            if schedule is None:
                untagged = error.startswith("No schedule")
                decisions.append(
                    Decision(resource, "none" if untagged else "skip", error, error="" if untagged else error)
                )
                continue
            upcoming = schedule.next_transition(now).at
            if schedule.state_at(now) != "off":  # on-hours: the restore pass below may bring it back
                decisions.append(
                    Decision(resource, "none", f"On-hours ({schedule}).", next_transition=upcoming,
                             hourly_saving=saving)
                )  # fmt: skip
                continue
            boundary, reason = schedule.last_transition(now).at, f"Off-hours ({schedule})"
        else:
            boundary, reason = _idle_since(policy, resource, now)
            upcoming = None
            if boundary is None:
                decisions.append(Decision(resource, "none", reason, hourly_saving=saving))
                continue
        if (resource.pk, off_kind, boundary) in existing:
            decisions.append(
                Decision(resource, "none", "Already handled for this boundary.", transition_at=boundary,
                         next_transition=upcoming, hourly_saving=saving)
            )  # fmt: skip
            continue
        if not _running(resource):
            decisions.append(
                Decision(resource, "none", f"Already off ({resource.state or 'scaled to zero'}).",
                         transition_at=boundary, next_transition=upcoming)
            )  # fmt: skip
            continue
        guard = resource_guard_reason(policy=policy, resource=resource)
        decisions.append(
            Decision(
                resource, "skip" if guard else WOULD[off_kind], guard or reason, kind=off_kind,
                transition_at=boundary, next_transition=upcoming, hourly_saving=saving,
            )
        )  # fmt: skip
    if policy.trigger == Policy.Trigger.SCHEDULE:
        restores = _restores(policy, now, off_kind, on_kind, schedules)
        restored = {decision.resource.pk for decision in restores}
        decisions = [d for d in decisions if d.kind or d.resource.pk not in restored or d.error] + restores
    return decisions


def _restores(
    policy: Policy, now: datetime, off_kind: str, on_kind: str, schedules: dict[int, tuple[Schedule | None, str]]
) -> list[Decision]:
    """On actions for the policy's off actions that changed something and have no on action after them."""
    decisions = []
    done_off = (
        Action.objects.filter(policy=policy, kind=off_kind, state=Action.State.DONE, resource__isnull=False)
        .select_related("resource__account", "resource__team")
        .order_by("resource_id", "-transition_at")
    )
    latest: dict[int, Action] = {}
    for action in done_off:
        latest.setdefault(action.resource_id, action)
    for resource_id, off in latest.items():
        if not off.result.get("changed"):
            continue
        resource = off.resource
        schedule, error = schedules.get(resource_id) or policy_schedule_for(policy=policy, resource=resource)
        if schedule is None:
            decisions.append(Decision(resource, "skip", error, error=error))
            continue
        if schedule.state_at(now) != "on":
            continue
        boundary = schedule.last_transition(now).at
        if boundary <= off.transition_at:
            continue
        handled = Action.objects.filter(
            policy=policy, resource=resource, kind=on_kind, transition_at__gt=off.transition_at
        ).exists()
        if handled:
            continue
        recorded = {**off.parameters.get("progress", {}), **off.result}
        parameters: dict[str, Any] = {"restores": off.pk}
        if on_kind == Kind.RECREATE:
            parameters |= {"endpoint_config": recorded.get("endpoint_config", ""), "tags": recorded.get("tags", {})}
        elif on_kind == Kind.RESTORE:
            parameters["sizes"] = recorded.get("sizes")
        decisions.append(
            Decision(
                resource, WOULD[on_kind], f"On-hours ({schedule}): bring back what action {off.pk} turned off",
                kind=on_kind, transition_at=boundary, next_transition=schedule.next_transition(now).at,
                parameters=parameters,
            )
        )  # fmt: skip
    return decisions


def policy_preview(*, policy: Policy, now: datetime | None = None) -> list[dict[str, Any]]:
    """What the policy would do now, resource by resource, with reasons; acts on nothing and writes nothing.

    Each item: resource_id, resource, resource_kind, account_id, region, team, would (stop | start | delete |
    recreate | scale | restore | skip | none), action_kind, reason, error (a schedule or tag error), hourly_saving
    (Decimal or None), transition_at, next_transition, capped. Off actions beyond the cap say "skip" with "Cap
    reached" and `capped` True: the next run may act on them.
    """
    now = now or timezone.now()
    return [
        decision.item()
        for decision in decisions_capped(policy=policy, decisions=policy_decisions(policy=policy, now=now))
    ]


def decisions_capped(*, policy: Policy, decisions: list[Decision]) -> list[Decision]:
    """`decisions` with the off actions beyond the policy's cap per run turned into cap skips (`capped`), in order:
    the first `max_actions_per_run` act, the rest wait for a later run. On actions are never capped."""
    acting = 0
    for decision in decisions:
        if decision.kind in OFF_KINDS and decision.would != "skip":
            acting += 1
            if acting > policy.max_actions_per_run:
                decision.would, decision.reason, decision.capped = "skip", cap_reason(policy), True
    return decisions
