"""Capacity reads for the policies pages: the policies, upcoming policy actions, their history, a policy's savings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from capacity.models import Action, ActionTransition, Policy
from finops.selectors.accounts import cloud_accounts_listed


def policy_actions_upcoming(*, policy: Policy | None = None) -> QuerySet[Action]:
    """Policy actions still to run (announced with their grace period, or planned), soonest first: the timeline.

    Each row has `run_after` (when it may run), `transition_at` (its schedule boundary or idle decision), `kind`,
    `reason`, `hourly_saving`, `dry_run`, `resource`, `team`, `policy`.
    """
    actions = Action.objects.filter(
        policy__isnull=False, state__in=(Action.State.ANNOUNCED, Action.State.PLANNED)
    ).select_related("policy", "resource", "team", "account")
    if policy is not None:
        actions = actions.filter(policy=policy)
    return actions.order_by(F("run_after").asc(nulls_last=True), "id")


def policy_history(*, policy: Policy | None = None) -> QuerySet[ActionTransition]:
    """Every state change of policy actions, newest first (who or what, when, from, to, why), with the action,
    its resource and policy loaded."""
    transitions = ActionTransition.objects.filter(action__policy__isnull=False).select_related(
        "action", "action__resource", "action__policy", "user"
    )
    if policy is not None:
        transitions = transitions.filter(action__policy=policy)
    return transitions.order_by("-at", "-id")


@dataclass(frozen=True)
class PolicySavings:
    """Savings to date of a policy.

    `estimated`: for each off action that turned something off (done, changed, not a dry run), its estimated
    hourly saving times the hours until its on action finished (or `now` while it is still off); actions without
    a price count in `unpriced_actions`, not in the sum. `measured_monthly`: the sum of the realised monthly savings
    measured from billing (capacity.services.actions.savings.action_realised_savings) of the policy's idle actions, the
    ones a before/after comparison applies to (a daily off-hours cycle has no clean before and after); None until
    one is measured.
    """

    estimated: Decimal
    hours_off: Decimal
    actions: int
    unpriced_actions: int
    measured_monthly: Decimal | None
    currency: str = "USD"


def policy_savings(*, policy: Policy, now: datetime | None = None) -> PolicySavings:
    now = now or timezone.now()
    off_kinds = ("stop", "delete", "scale_to_zero")
    offs = list(
        Action.objects.filter(policy=policy, kind__in=off_kinds, state=Action.State.DONE, dry_run=False).order_by(
            "executed_at", "id"
        )
    )
    ends = {
        action.parameters.get("restores"): action.executed_at
        for action in Action.objects.filter(policy=policy, state=Action.State.DONE).exclude(kind__in=off_kinds)
    }
    estimated = hours_off = Decimal(0)
    unpriced = counted = 0
    for action in offs:
        if not action.result.get("changed") or action.executed_at is None:
            continue
        counted += 1
        end = ends.get(action.pk) or now
        hours = Decimal(max(0, int((end - action.executed_at).total_seconds()))) / 3600
        hours_off += hours
        if action.hourly_saving is None:
            unpriced += 1
        else:
            estimated += action.hourly_saving * hours
    measured = [
        action.realised_monthly_savings
        for action in offs
        if policy.trigger == Policy.Trigger.IDLE and action.realised_monthly_savings is not None
    ]
    return PolicySavings(
        estimated=estimated.quantize(Decimal("0.01")),
        hours_off=hours_off.quantize(Decimal("0.01")),
        actions=counted,
        unpriced_actions=unpriced,
        measured_monthly=sum(measured, Decimal(0)) if measured else None,
    )


def policies_with_accounts() -> QuerySet[Policy]:
    """Every policy by name, with its accounts (by account id) loaded, `action_count` (its actions so far) and
    `capped_count` apart (the resources a run left to the next one for its cap: no action taken)."""
    return (
        Policy.objects.prefetch_related(Prefetch("accounts", queryset=cloud_accounts_listed()))
        .annotate(
            action_count=Count("actions", filter=Q(actions__capped=False)),
            capped_count=Count("actions", filter=Q(actions__capped=True)),
        )
        .order_by("name", "pk")
    )


def policy_get(*, policy_id: str) -> Policy | None:
    """The policy with this id (posted or typed text), or None when there is none or the text is no number."""
    return Policy.objects.filter(pk=policy_id).first() if str(policy_id).isdigit() else None


def policy_action_get(*, action_id: str) -> Action | None:
    """The policy action with this id (posted text); None when there is none, or it is an approval's action."""
    return Action.objects.filter(pk=action_id, policy__isnull=False).first() if str(action_id).isdigit() else None
