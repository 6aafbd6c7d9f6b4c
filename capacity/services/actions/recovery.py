"""Resolving running actions whose worker was lost (killed, out of memory, the host gone): the lease sweeper.

A running action's worker refreshes `heartbeat_at` before each AWS step and while it waits. One whose heartbeat
is older than COSTPLANE_ACTION_LEASE_MINUTES is looked at here, under its row lock, and resolved by describing
the resource in AWS, never by repeating the change:
- the change is there -> `done` ("verified after the worker was lost"); a right-sized EC2 instance left stopped
  between the type change and the start is started (the start is the resize's last step, not the change);
- AWS shows nothing changed (the state recorded before the change, `parameters["progress"]`, or the state the
  action's kind starts from) -> retried once (back to `announced`, due now; a right-sizing action to `planned`)
  if it has been started only once, else `failed`;
- anything else (half-way: stopping, Updating, Creating, a right-size put back half) -> `failed` with what AWS
  shows, for a person to look at; a transitional state is looked at again on the next sweep instead.
A Describe error leaves the action running for the next sweep. The worker's own late `action_finish` writes nothing
over a resolved action.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws import ec2 as ec2_api
from capacity.aws import sagemaker as sagemaker_api
from capacity.models import Action, Resource
from capacity.services.actions.names import resource_name
from capacity.services.actions.policy_steps import group_sizes
from capacity.services.actions.state import action_transition_record
from capacity.services.inventory import clients_for

logger = logging.getLogger(__name__)

ACTOR = "lease sweeper"
MAX_ATTEMPTS = 2  # the first run and one retry
Kind = Action.Kind
DONE, RETRY, FAILED, WAIT = "done", "retry", "failed", "wait"


def _verdict_rightsize(clients, action: Action) -> tuple[str, str]:
    target = action.parameters.get("target", "")
    progress = action.parameters.get("progress", {})
    if action.resource_type == Resource.Kind.EC2_INSTANCE:
        ec2 = clients("ec2")
        instance_id = resource_name(action)
        described = ec2_api.instance(ec2, instance_id)
        current, state = described["InstanceType"], described["State"]["Name"]
        initial_state = progress.get("initial_state", "")
        initial_type = progress.get("initial_type") or action.parameters.get("current", "")
        if state in ("pending", "stopping", "shutting-down"):
            return WAIT, f"{instance_id} is {state}"
        if current == target:
            if state == "stopped" and initial_state == "running":
                ec2_api.instance_start(ec2, instance_id)
                return DONE, f"{instance_id} is {target}; it was left stopped, started again"
            return DONE, f"{instance_id} is {target} ({state})"
        if current == initial_type and (not initial_state or state == initial_state):
            return RETRY, f"{instance_id} is still {current} ({state}): nothing was changed"
        return FAILED, f"{instance_id} is {current} ({state}); it was {initial_type} ({initial_state or 'unknown'})"
    if action.resource_type == Resource.Kind.SAGEMAKER_ENDPOINT:
        name = resource_name(action)
        described = sagemaker_api.endpoint_described(clients("sagemaker"), name)
        if described is None:
            return FAILED, f"Endpoint {name} does not exist"
        status, config = described.get("EndpointStatus", ""), described.get("EndpointConfigName", "")
        if status in ("Updating", "Creating", "SystemUpdating", "RollingBack"):
            return WAIT, f"Endpoint {name} is {status}"
        if config == progress.get("new_endpoint_config") and status == "InService":
            return DONE, f"Endpoint {name} is InService on {config}"
        if config == progress.get("old_endpoint_config", config) and status == "InService":
            return RETRY, f"Endpoint {name} is still on {config}: nothing was changed"
        return FAILED, f"Endpoint {name} is {status} on {config}"
    return FAILED, f"{action.resource_type} is not a right-sizing resource"


def _verdict_policy(clients, action: Action) -> tuple[str, str]:
    kind, resource_type = action.kind, action.resource_type
    name = resource_name(action)
    if resource_type == Resource.Kind.EC2_INSTANCE:
        state = ec2_api.instance(clients("ec2"), name)["State"]["Name"]
        wanted, before, moving = (
            ("stopped", "running", "stopping") if kind == Kind.STOP else ("running", "stopped", "pending")
        )
        if state == wanted:
            return DONE, f"{name} is {state}"
        if state == moving:
            return WAIT, f"{name} is {state}"
        return (RETRY if state == before else FAILED), f"{name} is {state}"
    if resource_type == Resource.Kind.SAGEMAKER_NOTEBOOK:
        status = sagemaker_api.notebook(clients("sagemaker"), name)["NotebookInstanceStatus"]
        wanted, before, moving = (
            ("Stopped", "InService", "Stopping") if kind == Kind.STOP else ("InService", "Stopped", "Pending")
        )
        if status == wanted:
            return DONE, f"Notebook {name} is {status}"
        if status == moving:
            return WAIT, f"Notebook {name} is {status}"
        return (RETRY if status == before else FAILED), f"Notebook {name} is {status}"
    if resource_type == Resource.Kind.SAGEMAKER_ENDPOINT:
        described = sagemaker_api.endpoint_described(clients("sagemaker"), name)
        status = described.get("EndpointStatus", "") if described else "absent"
        if kind == Kind.DELETE:
            if status in ("absent", "Deleting"):
                return DONE, f"Endpoint {name} is {status}"
            return (RETRY if status == "InService" else FAILED), f"Endpoint {name} is {status}"
        if status in ("InService", "Creating"):
            return DONE, f"Endpoint {name} is {status}"
        return (RETRY if status == "absent" else FAILED), f"Endpoint {name} is {status}"
    sizes = group_sizes(clients, action)
    if kind == Kind.SCALE_TO_ZERO:
        if sizes["desired"] == 0:
            return DONE, f"Group {name} is at {sizes}"
        recorded = action.parameters.get("progress", {}).get("sizes")
        return (RETRY if recorded in (None, sizes) else FAILED), f"Group {name} is at {sizes}"
    wanted_sizes = action.parameters.get("sizes")
    if sizes == wanted_sizes:
        return DONE, f"Group {name} is at {sizes}"
    return (RETRY if sizes["desired"] == 0 else FAILED), f"Group {name} is at {sizes}"


def action_lease_resolve(
    *, action_id: int, now: datetime | None = None, client_factory: ClientFactory | None = None
) -> Action:
    """Resolve one running action whose lease has expired by looking at AWS (see the module doc)."""
    now = now or timezone.now()
    expired_before = now - timedelta(minutes=settings.COSTPLANE_ACTION_LEASE_MINUTES)
    with transaction.atomic():
        action = (
            Action.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account", "resource", "policy")
            .filter(pk=action_id)
            .first()
        )
        if action is None or action.state != Action.State.RUNNING:
            return action or Action.objects.get(pk=action_id)
        if (action.heartbeat_at or action.updated_at) >= expired_before:
            return action
        clients = clients_for(account=action.account, region=action.region, client_factory=client_factory)
        try:
            if action.kind == Kind.RIGHTSIZE:
                verdict, seen = _verdict_rightsize(clients, action)
            else:
                verdict, seen = _verdict_policy(clients, action)
        except Exception as error:  # AWS unreachable: look again on the next sweep
            logger.warning("action %s: cannot look at AWS (%s); trying again on the next sweep", action.pk, error)
            return action
        if verdict == WAIT:
            return action
        progress: dict[str, Any] = action.parameters.get("progress", {})
        if verdict == DONE:
            action.result = {**progress, **action.result, "changed": True, "verified": seen}
            action.executed_at = now
            action_transition_record(
                action=action, to_state=Action.State.DONE, reason=f"Verified after the worker was lost: {seen}",
                now=now, actor=ACTOR,
            )  # fmt: skip
        elif verdict == RETRY and action.attempts < MAX_ATTEMPTS:
            action.run_after = now
            action.heartbeat_at = None
            back = Action.State.PLANNED if action.kind == Kind.RIGHTSIZE else Action.State.ANNOUNCED
            action_transition_record(
                action=action, to_state=back, reason=f"Retried: the worker was lost and AWS shows nothing changed "
                f"({seen})", now=now, actor=ACTOR,
            )  # fmt: skip
        else:
            action.error = f"The worker was lost; AWS shows: {seen}"
            action_transition_record(
                action=action, to_state=Action.State.FAILED,
                reason=f"Failed: the worker was lost and AWS shows {seen}"
                + ("" if verdict == FAILED else f" after {action.attempts} attempts"),
                now=now, actor=ACTOR,
            )  # fmt: skip
        return action


def actions_lease_expired(*, now: datetime | None = None) -> list[int]:
    """Ids of running actions whose lease has expired."""
    now = now or timezone.now()
    expired_before = now - timedelta(minutes=settings.COSTPLANE_ACTION_LEASE_MINUTES)
    running = Action.objects.filter(state=Action.State.RUNNING)
    return sorted(
        set(running.filter(heartbeat_at__lt=expired_before).values_list("pk", flat=True))
        | set(running.filter(heartbeat_at__isnull=True, updated_at__lt=expired_before).values_list("pk", flat=True))
    )


def actions_lease_sweep(*, now: datetime | None = None, client_factory: ClientFactory | None = None) -> dict[str, int]:
    """Resolve every running action whose lease has expired; returns how many ended in each state."""
    counts: dict[str, int] = {}
    for action_id in actions_lease_expired(now=now):
        state = action_lease_resolve(action_id=action_id, now=now, client_factory=client_factory).state
        counts[state] = counts.get(state, 0) + 1
    return counts
