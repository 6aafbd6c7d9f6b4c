"""The policy guards: which actions turn something off, the opt-out tag, the prod guard, and their reasons.

They are asked twice: when a policy decides (policy_decisions, which records a guarded resource as a skipped
action) and again when the action runs after its grace period (capacity/services/actions/policy.py), because a
tag, the policy or its schedule may have changed in between. Both answers are a reason ("" when the action may go
on), and a guard only ever holds back an off action: bringing back what a policy turned off is never guarded.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from capacity.models import Action, Policy, Resource
from capacity.services.policies.selection import policy_schedule_for

Kind = Action.Kind
OFF_KINDS = (Kind.STOP, Kind.DELETE, Kind.SCALE_TO_ZERO)
KEEP_ALIVE_TAG = ("costplane:keep-alive", "true")


def keep_alive(tags: dict[str, str]) -> bool:
    """The opt-out tag: it always wins, whatever the policy says."""
    key, value = KEEP_ALIVE_TAG
    return str(tags.get(key, "")).strip().lower() == value


def is_prod(tags: dict[str, str]) -> bool:
    return str(tags.get(settings.COSTPLANE_ENVIRONMENT_TAG_KEY, "")).strip().lower() in ("prod", "production")


def resource_guard_reason(*, policy: Policy, resource: Resource) -> str:
    """Why `policy` must not turn `resource` off, when it decides ("" when it may)."""
    if keep_alive(resource.tags or {}):
        return "Opt-out: tagged costplane:keep-alive=true."
    if is_prod(resource.tags or {}) and not policy.include_prod:
        return "Prod guard: tagged as production; the policy does not include prod."
    return ""


def action_guard_reason(*, action: Action, now: datetime) -> str:
    """Why a policy action must not run now, at the end of its grace period ("" when it may): the opt-out and prod
    guards again, the policy disabled meanwhile, or an off period that ended during the grace period."""
    policy = action.policy
    tags = action.resource.tags if action.resource is not None else {}
    if action.kind in OFF_KINDS:
        if keep_alive(tags):
            return "Opt-out: the resource is tagged costplane:keep-alive=true."
        if is_prod(tags) and not policy.include_prod:
            return "Prod guard: the resource is tagged as production and the policy does not include prod."
        if not policy.enabled:
            return "The policy was disabled before the action ran."
        if policy.trigger == policy.Trigger.SCHEDULE and action.resource is not None:
            schedule, error = policy_schedule_for(policy=policy, resource=action.resource)
            if schedule is None:
                return error
            if schedule.state_at(now) != "off":
                return "The off period ended before the grace period did."
    return ""
