"""EC2 instance resize: the driver a right-sizing action of an `ec2_instance` runs (resize.py chooses it).

- Resize: stop, wait stopped, ModifyInstanceAttribute InstanceType, start (when it was running), verify the type
  and the state. On any failure: stop if needed, put the old type back, start it again when it was running ->
  `rolled_back` with the error; if the rollback fails too -> `failed` with both. A failure before anything changed
  (the describe) -> `failed`.
- Before the first change it records the type and state before (`parameters["progress"]`: initial_type,
  initial_state), which the lease sweeper (recovery.py) compares with what AWS shows.
- Dry run: StopInstances, ModifyInstanceAttribute and StartInstances with DryRun=True (AWS answers
  DryRunOperation when the call would be allowed); the action ends `skipped` with the would-be result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from capacity.aws import ec2 as ec2_api
from capacity.models import Action
from capacity.services.actions.state import Outcome, StepError, Waits, rollback_failed_outcome, wait_for

logger = logging.getLogger(__name__)


def _ec2_state(ec2: Any, instance_id: str) -> str:
    return ec2_api.instance(ec2, instance_id)["State"]["Name"]


def ec2_dry_run(ec2: Any, instance_id: str, target: str) -> Outcome:
    """Ask EC2 whether each call of the resize would be allowed (DryRun=True); changes nothing."""
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


def ec2_resize(
    ec2: Any, instance_id: str, target: str, waits: Waits, progress: Callable[..., None] = lambda **facts: None
) -> Outcome:
    """Resize `instance_id` to `target`, putting the old type back on failure (see the module doc)."""
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
            wait_for(
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
            wait_for(
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
            return rollback_failed_outcome(failure, rollback_error, steps=steps, result=result, old=old)
        result["steps"] = steps
        return Outcome(
            Action.State.ROLLED_BACK,
            f"Resize to {target} failed ({failure}); {instance_id} is {old} again",
            old=old,
            error=failure,
            result=result,
        )
