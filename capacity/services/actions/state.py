"""The action state machine every action kind shares: transitions, the start under a row lock, leases, the kill
switch, waiting for AWS, and writing the outcome.

State machine (ARCHITECTURE.md, "Actions and recommendations"): planned -> announced -> running ->
done | failed | rolled_back; or skipped. Every change is an ActionTransition row (actor "system" unless named).

Decisions:
- At most once: `action_begin` locks the row (select_for_update) and moves it to `running` in a first, short
  transaction; AWS is called after that commit and the outcome written by `action_finish` in a second one. Only
  planned and announced actions start, so a second call, a redelivered Celery task (acks_late) or a racing worker
  finds `running` (or a final state) and changes nothing.
- One order of checks for every family of actions (right-sizing in resize.py, policy actions in policy.py): the
  family's own "due" check, the kill switch, the family's guard, then `running`. Each family says only what
  differs (its due rule and its guard); the lock, the kill switch, the lease and the dry-run flag are decided here.
- Crash safety: a running action holds a lease: `heartbeat_at` is set when it starts and refreshed before each
  AWS step and while it waits (`action_progress`, `leased_waits`), with what it learnt so far
  (`parameters["progress"]`). An action whose lease ran out (COSTPLANE_ACTION_LEASE_MINUTES, a worker killed or
  lost) is resolved by recovery.py by looking at AWS, never by repeating the change. `action_finish` writes only
  over a `running` action, so a worker that comes back late cannot overwrite what the sweeper decided.
- Kill switch: with COSTPLANE_AWS=aws and COSTPLANE_ACTIONS_ENABLED false the action is `skipped` with the
  reason, before any AWS call. The sandbox (COSTPLANE_AWS=sandbox) always executes.
- Dry run: the account's flag (finops CloudAccount.dry_run), or the flag of the policy that made the action, read
  when it starts and copied to Action.dry_run. The drivers then only rehearse, and the action ends `skipped` with
  "Dry run: ..." and the would-be result (ARCHITECTURE lists dry run among the skip reasons).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.models import Action, ActionTransition

logger = logging.getLogger(__name__)

ACTOR = "system"
EXECUTABLE = (Action.State.PLANNED, Action.State.ANNOUNCED)
KILL_SWITCH_REASON = "Actions against real AWS are disabled (COSTPLANE_ACTIONS_ENABLED is false)."


@dataclass
class Waits:
    """How long to wait for AWS to reach a state, and how often to look."""

    ec2_timeout: float = 600.0
    sagemaker_timeout: float = 1800.0
    interval: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class Outcome:
    """How a run ended, as `action_finish` writes it: the final state, why, the configurations and AWS's answers."""

    state: str
    reason: str
    old: str = ""
    new: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Due:
    """A family's answer to "may this locked action start now?", asked before the kill switch.

    `go` False with a `skip` reason skips the action; with none it leaves the action as it is (not due yet).
    `go` True starts it, and `running` says why (the transition's reason).
    """

    go: bool
    skip: str = ""
    running: str = ""


class StepError(Exception):
    """AWS did not reach the expected state (a timeout, a failed status, the wrong type after a change)."""


def rollback_failed_outcome(
    failure: str, rollback_error: Exception, *, steps: list[str], result: dict[str, Any], old: str
) -> Outcome:
    """The outcome of a resize whose rollback failed too: `failed`, with both errors (the EC2 and SageMaker
    drivers share it, so the two read alike)."""
    rollback_failure = f"{type(rollback_error).__name__}: {rollback_error}"
    steps.append(f"rollback failed: {rollback_failure}")
    result["steps"] = steps
    return Outcome(
        Action.State.FAILED,
        f"Resize failed ({failure}) and so did the rollback ({rollback_failure})",
        old=old,
        error=f"{failure}; rollback: {rollback_failure}",
        result=result,
    )


def action_transition_record(
    *, action: Action, to_state: str, reason: str = "", now: datetime | None = None, actor: str = ACTOR
) -> ActionTransition:
    """Move `action` to `to_state` (saving it) and write the audit row; the caller holds the row lock."""
    now = now or timezone.now()
    from_state = action.state
    action.state = to_state
    action.save()
    return ActionTransition.objects.create(
        action=action, from_state=from_state, to_state=to_state, actor=actor, reason=reason, at=now
    )


def kill_switch_on() -> bool:
    return settings.COSTPLANE_AWS == "aws" and not settings.COSTPLANE_ACTIONS_ENABLED


def action_begin(
    *,
    action_id: int,
    now: datetime,
    due: Callable[[Action, datetime], Due],
    guard: Callable[[Action, datetime], str] | None = None,
) -> tuple[Action, bool]:
    """Lock the action and decide whether it starts now: (action, start?). Moves it to `running` when it does.

    `due` is the family's own check; `guard` (policy actions) may hold it back after the kill switch, and its reason
    becomes the action's `reason` too, as the policy pages show it.
    """
    with transaction.atomic():
        action = (
            Action.objects.select_for_update(of=("self",))
            .select_related("policy", "resource", "account")
            .get(pk=action_id)
        )
        if action.state not in EXECUTABLE:
            return action, False
        verdict = due(action, now)
        if not verdict.go:
            if verdict.skip:
                action_transition_record(action=action, to_state=Action.State.SKIPPED, reason=verdict.skip, now=now)
            return action, False
        if kill_switch_on():
            action_transition_record(action=action, to_state=Action.State.SKIPPED, reason=KILL_SWITCH_REASON, now=now)
            return action, False
        reason = guard(action, now) if guard is not None else ""
        if reason:
            action.reason = reason
            action_transition_record(action=action, to_state=Action.State.SKIPPED, reason=reason, now=now)
            return action, False
        action.dry_run = bool(action.account.dry_run or (action.policy is not None and action.policy.dry_run))
        action.next_window_at = None
        action.heartbeat_at = now
        action.attempts += 1
        action_transition_record(
            action=action,
            to_state=Action.State.RUNNING,
            reason=verdict.running + ("; dry run" if action.dry_run else ""),
            now=now,
        )
        return action, True


def action_progress(*, action_id: int, facts: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    """Refresh the lease of a running action and keep what the worker learnt (`parameters["progress"]`)."""
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        if action.state != Action.State.RUNNING:
            return
        action.heartbeat_at = now or timezone.now()
        if facts:
            action.parameters = action.parameters | {"progress": action.parameters.get("progress", {}) | facts}
        action.save(update_fields=["heartbeat_at", "parameters", "updated_at"])


def leased_waits(waits: Waits, action_id: int) -> Waits:
    """`waits` whose sleep refreshes the action's lease first (a long wait is not a lost worker)."""

    def sleep(seconds: float) -> None:
        action_progress(action_id=action_id)
        waits.sleep(seconds)

    return Waits(waits.ec2_timeout, waits.sagemaker_timeout, waits.interval, sleep, waits.clock)


def wait_for(read: Callable[[], str], wanted: str, *, failing: tuple[str, ...], timeout: float, waits: Waits) -> None:
    """Read until AWS says `wanted`; StepError on a `failing` state or after `timeout` seconds."""
    deadline = waits.clock() + timeout
    while True:
        status = read()
        if status == wanted:
            return
        if status in failing:
            raise StepError(f"reached {status} instead of {wanted}")
        if waits.clock() >= deadline:
            raise StepError(f"still {status} after {timeout:.0f}s (waiting for {wanted})")
        waits.sleep(waits.interval)


def action_finish(*, action_id: int, outcome: Outcome, now: datetime) -> Action:
    """Write the outcome of a run, unless the action is no longer `running` (the sweeper's decision stands)."""
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        if action.state != Action.State.RUNNING:
            logger.warning("action %s is %s, not running: outcome %r not written", action.pk, action.state, outcome)
            return action
        action.old_configuration = outcome.old
        action.new_configuration = outcome.new
        action.error = outcome.error
        action.result = outcome.result
        if outcome.state == Action.State.DONE:
            action.executed_at = now
        action_transition_record(action=action, to_state=outcome.state, reason=outcome.reason, now=now)
        return action
