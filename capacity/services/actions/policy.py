"""Running policy actions (stop, start, delete, recreate, scale_to_zero, restore) through the shared state machine.

The same row lock, kill switch, lease and outcome as right-sizing (state.py): announced -> running -> done | failed;
or skipped. What each action does in AWS is policy_steps.py's. Decisions:
- Due: an announced action runs once `run_after` (the end of its grace period) has passed.
- Checked again at run time, after the kill switch and before any AWS call, by the policy guards
  (capacity/services/policies/guards.py): the opt-out tag, the prod guard, the policy still enabled, and for an off
  action that the schedule still says off (an off period that ended during the grace period is skipped, not acted
  on late).
- Dry run: policy.dry_run OR the account's dry_run.
- A done action writes the resource's new state on the stored Resource, so the pages show it before the next
  inventory collection.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.models import Action, Resource
from capacity.services.actions.policy_steps import STEPS
from capacity.services.actions.state import (
    Due,
    Outcome,
    Waits,
    action_begin,
    action_finish,
    action_progress,
    leased_waits,
)
from capacity.services.inventory import clients_for
from capacity.services.policies.guards import action_guard_reason
from finops.aws.clients import access_denied_text

logger = logging.getLogger(__name__)

Kind = Action.Kind
POLICY_KINDS = (Kind.STOP, Kind.START, Kind.DELETE, Kind.RECREATE, Kind.SCALE_TO_ZERO, Kind.RESTORE)


def _due(action: Action, now: datetime) -> Due:
    if action.run_after is not None and action.run_after > now:
        return Due(False)  # still in its grace period
    return Due(True, running=f"Policy {action.policy.name}: {action.get_kind_display().lower()}")


def _guard(action: Action, now: datetime) -> str:
    return action_guard_reason(action=action, now=now)


def policy_action_execute(
    *,
    action_id: int,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    waits: Waits | None = None,
) -> Action:
    """Execute one announced policy action once its grace period is over; returns the action as it ends."""
    started = now or timezone.now()
    action, execute = action_begin(action_id=action_id, now=started, due=_due, guard=_guard)
    if not execute:
        return action
    waits = leased_waits(waits or Waits(), action.pk)
    clients = clients_for(account=action.account, region=action.region, client_factory=client_factory)

    def progress(**facts: Any) -> None:
        action_progress(action_id=action.pk, facts=facts)

    try:
        step = STEPS[(action.resource_type, action.kind)]
        outcome = step(clients, action, waits, progress)
    except KeyError:
        outcome = Outcome(
            Action.State.FAILED, f"{action.kind} is not a step for {action.resource_type}", error="no such step"
        )
    except Exception as error:  # record it, never leave `running`
        logger.exception("policy action %s failed", action.pk)
        reason = access_denied_text(error) or f"{type(error).__name__}: {error}"  # a denial names its permission
        outcome = Outcome(Action.State.FAILED, f"Failed: {reason}", error=reason)
    finished = action_finish(action_id=action.pk, outcome=outcome, now=now or timezone.now())
    if finished.state == Action.State.DONE and finished.resource_id and outcome.new:
        Resource.objects.filter(pk=finished.resource_id).update(state=outcome.new)
    return finished


def policy_actions_due(*, now: datetime | None = None) -> list[int]:
    """Ids of announced policy actions whose grace period is over."""
    now = now or timezone.now()
    return list(
        Action.objects.filter(
            policy__isnull=False,
            state__in=(Action.State.PLANNED, Action.State.ANNOUNCED),
            run_after__lte=now,
        )
        .order_by("run_after", "id")
        .values_list("pk", flat=True)
    )
