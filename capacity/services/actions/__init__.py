"""Executing approved actions in the team's maintenance window: EC2 and SageMaker endpoint resizes.

State machine (ARCHITECTURE.md, "Actions and recommendations"): planned -> announced -> running ->
done | failed | rolled_back; or skipped. Every change is an ActionTransition row (actor "system").

Decisions:
- At most once: `action_execute` locks the row (select_for_update) and moves it to `running` in a first,
  short transaction; AWS is called after that commit and the outcome written in a second transaction.
  Only planned and announced actions execute, so a second call, a redelivered Celery task (acks_late) or a
  racing worker finds `running` (or a final state) and changes nothing.
- Crash safety: a running action holds a lease: `heartbeat_at` is set when it starts and refreshed before each
  AWS step and while it waits, with what it learnt so far (`parameters["progress"]`: the type and state before).
  An action whose lease ran out (COSTPLANE_ACTION_LEASE_MINUTES, a worker killed or lost) is resolved by
  capacity/services/actions/recovery.py by looking at AWS, never by repeating the change. `_finish` writes only
  over a `running` action, so a worker that comes back late cannot overwrite what the sweeper decided.
- Policy actions (stop, start, delete, recreate, scale_to_zero, restore) share this state machine and lease;
  their steps are in capacity/services/actions/policy.py, and `action_execute` hands them over.
- Window: the team's TeamSettings.maintenance_window (capacity/maintenance.py). Outside it a planned
  action becomes `announced` with `next_window_at` (the grace period before the change); an announced one
  only has `next_window_at` refreshed. A team without a window (or an action without a team) never
  executes: nothing changes outside a window someone chose.
- Kill switch: with COSTPLANE_AWS=aws and COSTPLANE_ACTIONS_ENABLED false the action is `skipped` with the
  reason, before any AWS call. The sandbox (COSTPLANE_AWS=sandbox) always executes.
- Dry run follows the account (finops CloudAccount.dry_run), read at execution and copied to
  Action.dry_run. EC2 is called with DryRun=True (StopInstances, ModifyInstanceAttribute, StartInstances;
  AWS answers DryRunOperation when the call would be allowed); SageMaker has no DryRun, so only the reads
  are made and the would-be EndpointConfig is recorded. Either way the action ends `skipped` with reason
  "Dry run: ..." and the would-be result in `result` (ARCHITECTURE lists dry run among the skip reasons).
  Skipped is final: the approval is not re-executed when the account leaves dry run.
- EC2 resize: stop, wait stopped, ModifyInstanceAttribute InstanceType, start (when it was running),
  verify the type and the state. On any failure: stop if needed, put the old type back, start it again
  when it was running -> `rolled_back` with the error; if the rollback fails too -> `failed` with both.
  A failure before anything changed (the describe) -> `failed`.
- SageMaker endpoint resize: a new EndpointConfig `<old config>-costplane<action id>` copying the old
  one with the variants of the old type moved to the new type, UpdateEndpoint, wait InService and check the
  endpoint uses the new config. On failure, UpdateEndpoint back to the old config (unless AWS already
  rolled back itself) -> `rolled_back`. The old config is kept (it is the rollback target).
- The old and new types are Action.old_configuration and new_configuration.
- Realised savings (`action_realised_savings`): the resource's billed cost per day from the billing export
  (finops resource_lines_frame, one export format per account-day) over REALISED_DAYS full UTC days before
  the change day against as many full days after it, scaled to a month (730 hours). Only when the export
  has a daily total for the account on every one of those days; None otherwise (never guessed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws import ec2 as ec2_api
from capacity.aws import sagemaker as sagemaker_api
from capacity.maintenance import MaintenanceWindow
from capacity.models import Action, ActionTransition, Recommendation, TeamSettings
from capacity.services.inventory import clients_for

logger = logging.getLogger(__name__)

ACTOR = "system"
EXECUTABLE = (Action.State.PLANNED, Action.State.ANNOUNCED)
EC2_INSTANCE = "Ec2Instance"
SAGEMAKER_ENDPOINT = "SageMakerEndpoint"
SUPPORTED_RESOURCE_TYPES = (EC2_INSTANCE, SAGEMAKER_ENDPOINT)
REALISED_DAYS = 7
HOURS_PER_MONTH = Decimal(730)


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
    state: str
    reason: str
    old: str = ""
    new: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)


class StepError(Exception):
    """AWS did not reach the expected state (a timeout, a failed status, the wrong type after a change)."""


def _rollback_failed(
    failure: str, rollback_error: Exception, *, steps: list[str], result: dict[str, Any], old: str
) -> Outcome:
    """The outcome when putting the old configuration back failed too: `failed`, with both errors."""
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


def action_window(action: Action) -> MaintenanceWindow | None:
    """The maintenance window of the action's team, or None (no team, no settings, blank window)."""
    if action.team_id is None:
        return None
    team_settings = TeamSettings.objects.filter(team_id=action.team_id).first()
    return _window_of(team_settings) if team_settings is not None else None


def _window_of(team_settings: TeamSettings) -> MaintenanceWindow | None:
    """The parsed window; one stored past validation that does not parse counts as none (and is logged)."""
    try:
        return team_settings.window
    except ValueError as error:
        logger.error("team %s has an unreadable maintenance window: %s", team_settings.team_id, error)
        return None


def _kill_switch_on() -> bool:
    return settings.COSTPLANE_AWS == "aws" and not settings.COSTPLANE_ACTIONS_ENABLED


def _resource_name(action: Action) -> str:
    """The instance id or endpoint name: the stored resource's, else the ARN's last part."""
    if action.resource_type == SAGEMAKER_ENDPOINT and action.resource is not None and action.resource.name:
        return action.resource.name
    if action.resource_type == EC2_INSTANCE and action.resource is not None and action.resource.resource_id:
        return action.resource.resource_id.rsplit("/", 1)[-1]
    return action.resource_arn.rsplit("/", 1)[-1]


def action_announce(*, action_id: int, now: datetime | None = None) -> Action:
    """Announce a planned action whose window is closed (next_window_at = the next start); calls no AWS."""
    now = now or timezone.now()
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        window = action_window(action)
        if action.state != Action.State.PLANNED or window is None or window.contains(now):
            return action
        _announce(action, window, now)
        return action


def _announce(action: Action, window: MaintenanceWindow, now: datetime) -> None:
    action.next_window_at = window.next_start(now)
    if action.state == Action.State.PLANNED:
        action_transition_record(
            action=action,
            to_state=Action.State.ANNOUNCED,
            reason=f"Runs in the maintenance window {window}; next opens {action.next_window_at.isoformat()}",
            now=now,
        )
    else:
        action.save(update_fields=["next_window_at", "updated_at"])


def _begin(action_id: int, now: datetime) -> tuple[Action, bool]:
    """Lock the action and decide; (action, execute?). Moves it to running when it is to execute."""
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        if action.state not in EXECUTABLE:
            return action, False
        if action.kind != Recommendation.Kind.RIGHTSIZE or action.resource_type not in SUPPORTED_RESOURCE_TYPES:
            action_transition_record(
                action=action,
                to_state=Action.State.SKIPPED,
                reason=f"Not executable here: {action.kind} of {action.resource_type} (only right-sizing of "
                f"{' and '.join(SUPPORTED_RESOURCE_TYPES)}).",
                now=now,
            )
            return action, False
        if not action.parameters.get("target"):
            action_transition_record(
                action=action, to_state=Action.State.SKIPPED, reason="No target instance type.", now=now
            )
            return action, False
        window = action_window(action)
        if window is None:
            return action, False  # no window chosen: stays as it is
        if not window.contains(now):
            _announce(action, window, now)
            return action, False
        if _kill_switch_on():
            action_transition_record(
                action=action,
                to_state=Action.State.SKIPPED,
                reason="Actions against real AWS are disabled (COSTPLANE_ACTIONS_ENABLED is false).",
                now=now,
            )
            return action, False
        action.dry_run = action.account.dry_run
        action.next_window_at = None
        action.heartbeat_at = now
        action.attempts += 1
        action_transition_record(
            action=action,
            to_state=Action.State.RUNNING,
            reason=f"Maintenance window {window} open" + ("; dry run" if action.dry_run else ""),
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


def action_execute(
    *,
    action_id: int,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    waits: Waits | None = None,
) -> Action:
    """Execute one planned or announced action if it is due (right-sizing: its team's window is open; policy
    actions: their grace period is over); returns the action as it ends."""
    from capacity.services.actions.policy import POLICY_KINDS, policy_action_execute

    if Action.objects.filter(pk=action_id, kind__in=POLICY_KINDS).exists():
        return policy_action_execute(action_id=action_id, now=now, client_factory=client_factory, waits=waits)
    started = now or timezone.now()
    action, execute = _begin(action_id, started)
    if not execute:
        return action
    waits = leased_waits(waits or Waits(), action.pk)

    def progress(**facts: Any) -> None:
        action_progress(action_id=action.pk, facts=facts)

    clients = clients_for(account=action.account, region=action.region, client_factory=client_factory)
    name = _resource_name(action)
    target = action.parameters["target"]
    current = action.parameters.get("current", "")
    try:
        if action.resource_type == EC2_INSTANCE:
            ec2 = clients("ec2")
            if action.dry_run:
                outcome = _ec2_dry_run(ec2, name, target)
            else:
                outcome = _ec2_resize(ec2, name, target, waits, progress)
        else:
            sagemaker = clients("sagemaker")
            config_name_suffix = f"-costplane{action.pk}"
            if action.dry_run:
                outcome = _sagemaker_dry_run(sagemaker, name, current, target, config_name_suffix)
            else:
                outcome = _sagemaker_resize(sagemaker, name, current, target, config_name_suffix, waits, progress)
    except Exception as error:  # anything outside the steps' own handling: record it, never leave `running`
        logger.exception("action %s failed", action.pk)
        outcome = Outcome(Action.State.FAILED, f"Failed: {error}", error=f"{type(error).__name__}: {error}")
    return _finish(action.pk, outcome, now or timezone.now())


def _finish(action_id: int, outcome: Outcome, now: datetime) -> Action:
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action_id)
        if action.state != Action.State.RUNNING:
            # The sweeper resolved it while this worker was silent past its lease: its decision stands.
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


# --- EC2 -------------------------------------------------------------------------------------------------


def _wait(read: Callable[[], str], wanted: str, *, failing: tuple[str, ...], timeout: float, waits: Waits) -> None:
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


def _ec2_state(ec2: Any, instance_id: str) -> str:
    return ec2_api.instance(ec2, instance_id)["State"]["Name"]


def _ec2_dry_run(ec2: Any, instance_id: str, target: str) -> Outcome:
    described = ec2_api.instance(ec2, instance_id)
    old = described["InstanceType"]
    calls = {
        "StopInstances": ec2_api.dry_run_answer(lambda: ec2_api.instance_stop(ec2, instance_id, dry_run=True)),
        "ModifyInstanceAttribute": ec2_api.dry_run_answer(
            lambda: ec2_api.instance_type_set(ec2, instance_id, target, dry_run=True)
        ),
        "StartInstances": ec2_api.dry_run_answer(lambda: ec2_api.instance_start(ec2, instance_id, dry_run=True)),
    }
    refused = [f"{name} ({answer['code']})" for name, answer in calls.items() if answer["would_succeed"] != "yes"]
    result = {
        "dry_run": True,
        "would_succeed": not refused,
        "instance_id": instance_id,
        "state": described["State"]["Name"],
        "from": old,
        "to": target,
        "calls": calls,
    }
    reason = f"Dry run: {instance_id} {old} -> {target} " + (
        "would succeed" if not refused else f"would fail: {', '.join(refused)}"
    )
    return Outcome(Action.State.SKIPPED, reason, old=old, result=result)


def _ec2_resize(
    ec2: Any, instance_id: str, target: str, waits: Waits, progress: Callable[..., None] = lambda **facts: None
) -> Outcome:
    described = ec2_api.instance(ec2, instance_id)  # a failure here changed nothing: the caller records failed
    old, initial = described["InstanceType"], described["State"]["Name"]
    progress(instance_id=instance_id, initial_type=old, initial_state=initial)
    steps: list[str] = []
    result: dict[str, Any] = {"instance_id": instance_id, "from": old, "to": target, "initial_state": initial}
    if old == target:
        return Outcome(Action.State.DONE, f"{instance_id} already is {target}", old=old, new=target, result=result)
    if initial not in ("running", "stopped"):
        return Outcome(
            Action.State.FAILED,
            f"{instance_id} is {initial}; only a running or stopped instance is resized",
            old=old,
            error=f"instance state {initial}",
            result=result,
        )
    was_running = initial == "running"

    def stopped() -> None:
        if _ec2_state(ec2, instance_id) != "stopped":
            ec2_api.instance_stop(ec2, instance_id)
            steps.append("stop")
            _wait(
                lambda: _ec2_state(ec2, instance_id),
                "stopped",
                failing=("terminated",),
                timeout=waits.ec2_timeout,
                waits=waits,
            )
            steps.append("stopped")

    def started() -> None:
        if was_running and _ec2_state(ec2, instance_id) != "running":
            ec2_api.instance_start(ec2, instance_id)
            steps.append("start")
            _wait(
                lambda: _ec2_state(ec2, instance_id),
                "running",
                failing=("terminated", "stopped"),
                timeout=waits.ec2_timeout,
                waits=waits,
            )
            steps.append("running")

    try:
        stopped()
        ec2_api.instance_type_set(ec2, instance_id, target)
        steps.append(f"modify {target}")
        started()
        after = ec2_api.instance(ec2, instance_id)
        if after["InstanceType"] != target:
            raise StepError(f"{instance_id} is {after['InstanceType']} after the change, not {target}")
        if after["State"]["Name"] != initial:
            raise StepError(f"{instance_id} is {after['State']['Name']} after the change, not {initial}")
        result["steps"] = steps
        return Outcome(
            Action.State.DONE,
            f"{instance_id} resized {old} -> {target}" + (", running" if was_running else ""),
            old=old,
            new=target,
            result=result,
        )
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
        logger.warning("resize of %s to %s failed (%s); rolling back to %s", instance_id, target, failure, old)
        steps.append(f"failed: {failure}")
        try:
            if ec2_api.instance(ec2, instance_id)["InstanceType"] != old:
                stopped()
                ec2_api.instance_type_set(ec2, instance_id, old)
                steps.append(f"modify {old}")
            started()
            after = ec2_api.instance(ec2, instance_id)
            if after["InstanceType"] != old or after["State"]["Name"] != initial:
                raise StepError(f"{instance_id} is {after['InstanceType']}, {after['State']['Name']} after rollback")
        except Exception as rollback_error:
            return _rollback_failed(failure, rollback_error, steps=steps, result=result, old=old)
        result["steps"] = steps
        return Outcome(
            Action.State.ROLLED_BACK,
            f"Resize to {target} failed ({failure}); {instance_id} is {old} again",
            old=old,
            error=failure,
            result=result,
        )


# --- SageMaker endpoints ---------------------------------------------------------------------------------


def _new_config_name(old_config: str, suffix: str) -> str:
    """`<old>-costplane<id>`, within SageMaker's 63 characters."""
    return old_config[: 63 - len(suffix)].rstrip("-") + suffix


def _variants_moved(variants: list[dict[str, Any]], current: str, target: str) -> tuple[list[dict[str, Any]], str]:
    """(the variants with the old type's ones on `target`, the old type); the old type is `current`, or the
    first variant's type when the action does not say."""
    typed = [variant for variant in variants if variant.get("InstanceType")]
    old = current if current and any(variant["InstanceType"] == current for variant in typed) else ""
    if not old and typed:
        old = typed[0]["InstanceType"]
    moved = [
        variant | {"InstanceType": target} if variant.get("InstanceType") == old else dict(variant)
        for variant in variants
    ]
    return moved, old


def _sagemaker_dry_run(sagemaker: Any, name: str, current: str, target: str, suffix: str) -> Outcome:
    endpoint = sagemaker_api.endpoint(sagemaker, name)
    variants, old = _variants_moved(endpoint["EndpointConfig"]["ProductionVariants"], current, target)
    status = endpoint.get("EndpointStatus", "")
    problems = []
    if status != "InService":
        problems.append(f"endpoint is {status}, UpdateEndpoint needs InService")
    if not old:
        problems.append("no variant has an instance type")
    result = {
        "dry_run": True,
        "would_succeed": not problems,
        "endpoint": name,
        "status": status,
        "from": old,
        "to": target,
        "endpoint_config": endpoint["EndpointConfigName"],
        "would_create_endpoint_config": _new_config_name(endpoint["EndpointConfigName"], suffix),
        "variants": [{"VariantName": v.get("VariantName"), "InstanceType": v.get("InstanceType")} for v in variants],
        "note": "SageMaker has no DryRun: only the reads were made.",
    }
    reason = f"Dry run: endpoint {name} {old} -> {target} " + (
        "would be updated" if not problems else f"would fail: {'; '.join(problems)}"
    )
    return Outcome(Action.State.SKIPPED, reason, old=old, result=result)


def _sagemaker_resize(
    sagemaker: Any,
    name: str,
    current: str,
    target: str,
    suffix: str,
    waits: Waits,
    progress: Callable[..., None] = lambda **facts: None,
) -> Outcome:
    endpoint = sagemaker_api.endpoint(sagemaker, name)  # a failure here changed nothing: the caller records failed
    old_config_name = endpoint["EndpointConfigName"]
    variants, old = _variants_moved(endpoint["EndpointConfig"]["ProductionVariants"], current, target)
    new_config_name = _new_config_name(old_config_name, suffix)
    progress(endpoint=name, old_endpoint_config=old_config_name, new_endpoint_config=new_config_name)
    result: dict[str, Any] = {"endpoint": name, "from": old, "to": target, "old_endpoint_config": old_config_name}
    if not old:
        return Outcome(
            Action.State.FAILED,
            f"Endpoint {name} has no variant with an instance type",
            error="no typed variant",
            result=result,
        )
    if old == target:
        return Outcome(Action.State.DONE, f"Endpoint {name} already is {target}", old=old, new=target, result=result)
    if endpoint.get("EndpointStatus") != "InService":
        return Outcome(
            Action.State.FAILED,
            f"Endpoint {name} is {endpoint.get('EndpointStatus')}; it must be InService",
            old=old,
            error=f"endpoint status {endpoint.get('EndpointStatus')}",
            result=result,
        )
    steps: list[str] = []

    def status() -> str:
        current_status, reason = sagemaker_api.endpoint_status(sagemaker, name)
        if reason:
            result["failure_reason"] = reason
        return current_status

    try:
        sagemaker_api.endpoint_config_create(
            sagemaker, name=new_config_name, source=endpoint["EndpointConfig"], variants=variants
        )
        steps.append(f"create endpoint config {new_config_name}")
        result["new_endpoint_config"] = new_config_name
        sagemaker_api.endpoint_update(sagemaker, name=name, config_name=new_config_name)
        steps.append("update endpoint")
        _wait(
            status,
            "InService",
            failing=("Failed", "OutOfService", "RollingBack"),
            timeout=waits.sagemaker_timeout,
            waits=waits,
        )
        steps.append("InService")
        in_use = sagemaker_api.endpoint(sagemaker, name)["EndpointConfigName"]
        if in_use != new_config_name:
            raise StepError(f"endpoint {name} is InService on {in_use}, not {new_config_name} (AWS rolled back)")
        result["steps"] = steps
        return Outcome(
            Action.State.DONE,
            f"Endpoint {name} resized {old} -> {target} ({new_config_name})",
            old=old,
            new=target,
            result=result,
        )
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
        logger.warning("resize of endpoint %s to %s failed (%s); rolling back to %s", name, target, failure, old)
        steps.append(f"failed: {failure}")
        try:
            # Let an update in progress settle first: UpdateEndpoint refuses an endpoint that is Updating.
            _wait(
                lambda: "settled" if status() in ("InService", "Failed", "OutOfService") else "busy",
                "settled",
                failing=(),
                timeout=waits.sagemaker_timeout,
                waits=waits,
            )
            if sagemaker_api.endpoint(sagemaker, name)["EndpointConfigName"] != old_config_name:
                sagemaker_api.endpoint_update(sagemaker, name=name, config_name=old_config_name)
                steps.append(f"update endpoint back to {old_config_name}")
                _wait(status, "InService", failing=("Failed",), timeout=waits.sagemaker_timeout, waits=waits)
                steps.append("InService")
        except Exception as rollback_error:
            return _rollback_failed(failure, rollback_error, steps=steps, result=result, old=old)
        result["steps"] = steps
        return Outcome(
            Action.State.ROLLED_BACK,
            f"Resize to {target} failed ({failure}); endpoint {name} is on {old_config_name} ({old}) again",
            old=old,
            error=failure,
            result=result,
        )


# --- Due actions and realised savings --------------------------------------------------------------------


def actions_due(*, now: datetime | None = None) -> list[int]:
    """Ids of the planned and announced right-sizing actions whose team's maintenance window is open now.

    Planned actions whose window is closed are announced here (with the next start), so a team sees the
    change coming before its window opens.
    """
    now = now or timezone.now()
    windows = {
        team_settings.team_id: window
        for team_settings in TeamSettings.objects.exclude(maintenance_window="")
        if (window := _window_of(team_settings)) is not None
    }
    due: list[int] = []
    candidates = Action.objects.filter(
        state__in=EXECUTABLE,
        kind=Recommendation.Kind.RIGHTSIZE,
        resource_type__in=SUPPORTED_RESOURCE_TYPES,
        team_id__in=list(windows),
    ).values_list("pk", "team_id", "state")
    for action_id, team_id, state in candidates:
        window = windows[team_id]
        if window.contains(now):
            due.append(action_id)
        elif state == Action.State.PLANNED:
            action_announce(action_id=action_id, now=now)
    return due


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
    from finops.models import ExportDailyTotal
    from finops.reports import ReportQuery
    from finops.selectors.allocations import resource_lines_frame

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
