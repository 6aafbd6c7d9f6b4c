"""Recording a policy's decisions (under its row lock), announcing off actions, and snoozing them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from capacity.models import Action, ActionTransition, Policy
from capacity.schedules import Schedule
from capacity.services.policies.deciding import Decision, decisions_capped, policy_decisions
from capacity.services.policies.editing import (
    ACTOR,
    WOULD,
    ActionStateError,
    PolicyForbidden,
    PolicyInputError,
)
from capacity.services.policies.guards import OFF_KINDS
from capacity.services.policies.selection import policy_schedule_for
from finops.roles import user_can_approve_for_team

# --- Evaluating ------------------------------------------------------------------------------------------


def _action_create(policy: Policy, decision: Decision, now: datetime, state: str, reason: str) -> Action:
    resource = decision.resource
    off = decision.kind in OFF_KINDS
    run_after = now + timedelta(minutes=policy.grace_minutes) if off and state == Action.State.ANNOUNCED else now
    action = Action.objects.create(
        policy=policy,
        kind=decision.kind,
        state=state,
        account=resource.account,
        region=resource.region,
        resource_type=resource.kind,
        resource_arn=resource.resource_id,
        resource=resource,
        team=resource.team,
        parameters=decision.parameters,
        dry_run=bool(policy.dry_run or resource.account.dry_run),
        reason=reason,
        capped=decision.capped,
        hourly_saving=decision.hourly_saving,
        monthly_savings=None,
        transition_at=decision.transition_at,
        run_after=run_after if state != Action.State.SKIPPED else None,
        created_at=now,
    )
    ActionTransition.objects.create(
        action=action, from_state="", to_state=state, actor=ACTOR, reason=f"Policy {policy.name}: {reason}", at=now
    )
    return action


def policy_evaluate(*, policy_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Decide and record the policy's actions now (under its row lock); announce new off actions after commit.

    Returns {"skipped_locked": True} when another evaluator holds the policy, else counts and ids.
    """
    now = now or timezone.now()
    with transaction.atomic():
        policy = Policy.objects.select_for_update(skip_locked=True).filter(pk=policy_id).first()
        if policy is None:
            return {"skipped_locked": True}
        if not policy.enabled:
            return {"disabled": True}
        created: list[int] = []
        announced: list[int] = []
        # `capped`: off actions beyond the cap, left for the next run; not actions taken, so not among `skipped`.
        counts = {"announced": 0, "planned": 0, "skipped": 0, "capped": 0}
        errors: list[str] = []
        capped_before = set(
            Action.objects.filter(policy=policy, capped=True).values_list("resource_id", "kind", "transition_at")
        )
        for decision in decisions_capped(policy=policy, decisions=policy_decisions(policy=policy, now=now)):
            if decision.error:
                errors.append(decision.error)
            if not decision.kind:
                continue
            if decision.capped:
                counts["capped"] += 1
                if (decision.resource.pk, decision.kind, decision.transition_at) in capped_before:
                    continue  # recorded once per boundary, not at every run that is still over the cap
                state = Action.State.SKIPPED
            elif decision.would == "skip":
                state = Action.State.SKIPPED
            elif decision.kind in OFF_KINDS:
                state = Action.State.ANNOUNCED
            else:
                state = Action.State.PLANNED
            action = _action_create(policy, decision, now, state, decision.reason)
            created.append(action.pk)
            if not decision.capped:
                counts[state] += 1
            if state == Action.State.ANNOUNCED:
                announced.append(action.pk)
        policy.last_evaluated_at = now
        policy.last_run = {"at": now.isoformat(), "counts": counts, "errors": errors}
        policy.save(update_fields=["last_evaluated_at", "last_run"])
        transaction.on_commit(lambda: actions_announce(action_ids=announced, now=now))
    return {"created_ids": created, **counts, "errors": errors}


def policies_evaluate(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Evaluate every enabled policy, one transaction (and row lock) each."""
    return [
        policy_evaluate(policy_id=policy_id, now=now)
        for policy_id in Policy.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True)
    ]


def actions_announce(*, action_ids: list[int], now: datetime | None = None) -> int:
    """Tell each action's team it is coming (finops notifications, event "action.announced"); failures are the
    notifications module's to record and retry. Returns how many were announced."""
    from finops.services.notifications import Message, notify

    announced = 0
    for action in Action.objects.filter(pk__in=action_ids).select_related("policy", "resource", "team", "account"):
        label = action.resource.name if action.resource and action.resource.name else action.resource_arn
        saving = f"{action.hourly_saving:.2f} USD/h" if action.hourly_saving is not None else "unknown"
        message = Message(
            title=f"{action.policy.name}: {WOULD.get(action.kind, action.kind)} {label} at "
            f"{action.run_after:%Y-%m-%d %H:%M} UTC",
            text=f"{action.reason} Snooze it before then to keep it running"
            + (" (dry run: nothing will change)." if action.dry_run else "."),
            fields={
                "Resource": label,
                "Account": action.account.account_id,
                "Region": action.region,
                "Runs after": f"{action.run_after:%Y-%m-%d %H:%M} UTC",
                "Estimated saving": saving,
            },
        )
        notify(event="action.announced", subject=f"action:{action.pk}", message=message, team=action.team, now=now)
        announced += 1
    return announced


# --- Snoozing --------------------------------------------------------------------------------------------


def period_ends_within(*, schedule: Schedule, kind: str, start: datetime, end: datetime) -> bool:
    """Whether the period an action of `kind` belongs to ends in (start, end]: at the next transition of the other
    kind (an off action's period at the next "on"). A schedule may list several offs in a row; they do not end it."""
    ending = "on" if kind in OFF_KINDS else "off"
    return any(transition.state == ending for transition in schedule.transitions_between(start, end))


@transaction.atomic
def action_snooze(
    *, action_id: int, user: AbstractBaseUser, until: datetime, reason: str = "", now: datetime | None = None
) -> Action:
    """Hold an announced policy action until `until` (the owning team's approvers, or admins); see the module doc."""
    now = now or timezone.now()
    action = Action.objects.select_for_update(of=("self",)).select_related("policy", "resource").get(pk=action_id)
    if not user_can_approve_for_team(user, action.team_id):
        raise PolicyForbidden("Only an approver of the resource's team, or an admin, may snooze this action.")
    if action.policy_id is None or action.state not in (Action.State.ANNOUNCED, Action.State.PLANNED):
        raise ActionStateError(f"Action {action.pk} is {action.state}; only an announced policy action can be snoozed.")
    if until.tzinfo is None or until <= now:
        raise PolicyInputError("until", "The snooze must end in the future (an aware date and time).")
    label = f"Snoozed by {user.get_username()} until {until:%Y-%m-%d %H:%M} UTC" + (f": {reason}" if reason else "")
    off_period_over = False
    if action.policy.trigger == Policy.Trigger.SCHEDULE and action.resource is not None:
        schedule, _error = policy_schedule_for(policy=action.policy, resource=action.resource)
        off_period_over = schedule is not None and period_ends_within(
            schedule=schedule, kind=action.kind, start=now, end=until
        )
    action.run_after = until
    action.reason = label
    to_state = Action.State.SKIPPED if off_period_over else action.state
    from_state = action.state
    action.state = to_state
    action.save()
    ActionTransition.objects.create(
        action=action, from_state=from_state, to_state=to_state, user=user, actor=user.get_username(),
        reason=label + (" (the off period ends before then: skipped)" if off_period_over else ""), at=now,
    )  # fmt: skip
    return action
