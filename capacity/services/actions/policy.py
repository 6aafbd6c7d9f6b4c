"""Executing policy actions: stop and start EC2 instances and notebook instances, delete and recreate SageMaker
endpoints, scale Auto Scaling groups and EKS node groups to zero and back.

The same state machine, row lock and lease as right-sizing (capacity/services/actions/__init__.py):
announced -> running -> done | failed; or skipped. Decisions:
- Due: an announced action runs once `run_after` (the end of its grace period) has passed.
- Checked again at run time, before any AWS call: the kill switch; the opt-out tag (`costplane:keep-alive=true`
  on the stored resource, and on EC2 also the live tags); the prod guard; for an off action, that the schedule
  still says off (an off period that ended during the grace period is skipped, not acted on late).
- Dry run: policy.dry_run OR the account's dry_run. EC2 StopInstances/StartInstances are called with DryRun=True;
  elsewhere only the reads are made. Recorded as skipped "Dry run: ..." with the would-be result.
- Before each change the worker writes what it is about to change (`parameters["progress"]`: the state before,
  the endpoint config and tags, the group sizes) and refreshes its lease; the sweeper (recovery.py) reads it.
- An off action records in `result["changed"]` whether it changed anything; only a changed one is restored, so
  a resource that was already off is never started by the policy.
- Endpoints: DeleteEndpoint keeps the EndpointConfig (and its model); the recreate uses the config name and tags
  the delete recorded. Groups: the delete-time sizes (min, desired, max) are recorded and put back; an EKS group
  keeps its maxSize at zero (EKS refuses a maxSize of 0).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws import autoscaling as autoscaling_api
from capacity.aws import ec2 as ec2_api
from capacity.aws import eks as eks_api
from capacity.aws import sagemaker as sagemaker_api
from capacity.models import Action, Resource
from capacity.services.actions import (
    Outcome,
    Waits,
    _finish,
    _kill_switch_on,
    _wait,
    action_progress,
    action_transition_record,
    leased_waits,
)
from capacity.services.inventory import clients_for

logger = logging.getLogger(__name__)

Kind = Action.Kind
POLICY_KINDS = (Kind.STOP, Kind.START, Kind.DELETE, Kind.RECREATE, Kind.SCALE_TO_ZERO, Kind.RESTORE)
OFF_KINDS = (Kind.STOP, Kind.DELETE, Kind.SCALE_TO_ZERO)
KEEP_ALIVE_TAG = ("costplane:keep-alive", "true")


def keep_alive(tags: dict[str, str]) -> bool:
    key, value = KEEP_ALIVE_TAG
    return str(tags.get(key, "")).strip().lower() == value


def is_prod(tags: dict[str, str]) -> bool:
    return str(tags.get(settings.COSTPLANE_ENVIRONMENT_TAG_KEY, "")).strip().lower() in ("prod", "production")


def _guard(action: Action, now: datetime) -> str:
    """Why the action must not run now ("" when it may)."""
    from capacity.services.policies import policy_schedule_for

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


def _begin(action_id: int, now: datetime) -> tuple[Action, bool]:
    with transaction.atomic():
        action = (
            Action.objects.select_for_update(of=("self",))
            .select_related("policy", "resource", "account")
            .get(pk=action_id)
        )
        if action.state not in (Action.State.PLANNED, Action.State.ANNOUNCED):
            return action, False
        if action.run_after is not None and action.run_after > now:
            return action, False
        if _kill_switch_on():
            action_transition_record(
                action=action,
                to_state=Action.State.SKIPPED,
                reason="Actions against real AWS are disabled (COSTPLANE_ACTIONS_ENABLED is false).",
                now=now,
            )
            return action, False
        reason = _guard(action, now)
        if reason:
            action.reason = reason
            action_transition_record(action=action, to_state=Action.State.SKIPPED, reason=reason, now=now)
            return action, False
        action.dry_run = bool(action.policy.dry_run or action.account.dry_run)
        action.heartbeat_at = now
        action.attempts += 1
        action_transition_record(
            action=action,
            to_state=Action.State.RUNNING,
            reason=f"Policy {action.policy.name}: {action.get_kind_display().lower()}"
            + ("; dry run" if action.dry_run else ""),
            now=now,
        )
        return action, True


def policy_action_execute(
    *,
    action_id: int,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    waits: Waits | None = None,
) -> Action:
    """Execute one announced policy action once its grace period is over; returns the action as it ends."""
    started = now or timezone.now()
    action, execute = _begin(action_id, started)
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
        outcome = Outcome(Action.State.FAILED, f"Failed: {error}", error=f"{type(error).__name__}: {error}")
    finished = _finish(action.pk, outcome, now or timezone.now())
    if finished.state == Action.State.DONE and finished.resource_id and outcome.new:
        Resource.objects.filter(pk=finished.resource_id).update(state=outcome.new)
    return finished


def resource_name(action: Action) -> str:
    if action.resource is not None:
        if action.resource_type == Resource.Kind.EC2_INSTANCE:
            return action.resource.resource_id.rsplit("/", 1)[-1]
        return action.resource.name or action.resource.resource_id.rsplit("/", 1)[-1]
    return action.resource_arn.rsplit("/", 1)[-1]


def _off_action(action: Action) -> Action | None:
    restores = action.parameters.get("restores")
    return Action.objects.filter(pk=restores).first() if restores else None


def _dry(reason: str, result: dict[str, Any]) -> Outcome:
    return Outcome(Action.State.SKIPPED, f"Dry run: {reason}", result={"dry_run": True, **result})


# --- EC2 instances ---------------------------------------------------------------------------------------


def _ec2_switch(clients, action: Action, waits: Waits, progress, *, to_running: bool) -> Outcome:
    ec2 = clients("ec2")
    instance_id = resource_name(action)
    described = ec2_api.instance(ec2, instance_id)
    state = described["State"]["Name"]
    tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    if not to_running and keep_alive(tags):
        return Outcome(Action.State.SKIPPED, "Opt-out: the instance is tagged costplane:keep-alive=true.")
    wanted, verb = ("running", "start") if to_running else ("stopped", "stop")
    settled = ("running", "pending") if to_running else ("stopped", "stopping")
    result: dict[str, Any] = {"instance_id": instance_id, "before": state}
    if state in settled:
        return Outcome(
            Action.State.DONE, f"{instance_id} already {state}", new=state, result=result | {"changed": False}
        )
    if state not in ("running", "stopped"):
        return Outcome(Action.State.FAILED, f"{instance_id} is {state}", error=f"instance state {state}", result=result)
    call = ec2_api.instance_start if to_running else ec2_api.instance_stop
    if action.dry_run:
        answer = ec2_api.dry_run_answer(lambda: call(ec2, instance_id, dry_run=True))
        word = "would succeed" if answer["would_succeed"] == "yes" else f"would fail ({answer['code']})"
        return _dry(f"{verb} {instance_id} ({state}) {word}", result | {"calls": {verb: answer}})
    progress(instance_id=instance_id, before=state)
    call(ec2, instance_id)
    _wait(
        lambda: ec2_api.instance(ec2, instance_id)["State"]["Name"],
        wanted,
        failing=("terminated",),
        timeout=waits.ec2_timeout,
        waits=waits,
    )
    return Outcome(
        Action.State.DONE, f"{instance_id} {state} -> {wanted}", new=wanted, result=result | {"changed": True}
    )


def _ec2_stop(clients, action, waits, progress) -> Outcome:
    return _ec2_switch(clients, action, waits, progress, to_running=False)


def _ec2_start(clients, action, waits, progress) -> Outcome:
    return _ec2_switch(clients, action, waits, progress, to_running=True)


# --- SageMaker notebook instances ------------------------------------------------------------------------


def _notebook_switch(clients, action: Action, waits: Waits, progress, *, to_running: bool) -> Outcome:
    sagemaker = clients("sagemaker")
    name = resource_name(action)
    status = sagemaker_api.notebook(sagemaker, name)["NotebookInstanceStatus"]
    wanted, verb = ("InService", "start") if to_running else ("Stopped", "stop")
    settled = ("InService", "Pending") if to_running else ("Stopped", "Stopping")
    result: dict[str, Any] = {"notebook": name, "before": status}
    if status in settled:
        return Outcome(
            Action.State.DONE, f"Notebook {name} already {status}", new=status, result=result | {"changed": False}
        )
    if status not in ("InService", "Stopped"):
        return Outcome(Action.State.FAILED, f"Notebook {name} is {status}", error=f"status {status}", result=result)
    if action.dry_run:
        return _dry(
            f"would {verb} notebook {name} ({status}); SageMaker has no DryRun: only the reads were made", result
        )
    progress(notebook=name, before=status)
    (sagemaker_api.notebook_start if to_running else sagemaker_api.notebook_stop)(sagemaker, name)
    _wait(
        lambda: sagemaker_api.notebook(sagemaker, name)["NotebookInstanceStatus"],
        wanted,
        failing=("Failed", "Deleting"),
        timeout=waits.sagemaker_timeout,
        waits=waits,
    )
    return Outcome(
        Action.State.DONE, f"Notebook {name} {status} -> {wanted}", new=wanted, result=result | {"changed": True}
    )


def _notebook_stop(clients, action, waits, progress) -> Outcome:
    return _notebook_switch(clients, action, waits, progress, to_running=False)


def _notebook_start(clients, action, waits, progress) -> Outcome:
    return _notebook_switch(clients, action, waits, progress, to_running=True)


# --- SageMaker endpoints ---------------------------------------------------------------------------------


def _endpoint_delete(clients, action: Action, waits: Waits, progress) -> Outcome:
    sagemaker = clients("sagemaker")
    name = resource_name(action)
    described = sagemaker_api.endpoint_described(sagemaker, name)
    if described is None:
        return Outcome(Action.State.DONE, f"Endpoint {name} does not exist", result={"changed": False})
    config_name = described["EndpointConfigName"]
    sagemaker_api.endpoint(sagemaker, name)  # the config must be readable: it is what brings the endpoint back
    tags = sagemaker_api.tags(sagemaker, described["EndpointArn"])
    result: dict[str, Any] = {"endpoint": name, "endpoint_config": config_name, "tags": tags}
    if described.get("EndpointStatus") != "InService":
        status = described.get("EndpointStatus")
        return Outcome(Action.State.FAILED, f"Endpoint {name} is {status}", error=f"status {status}", result=result)
    if action.dry_run:
        return _dry(f"would delete endpoint {name}, keeping its config {config_name}; SageMaker has no DryRun", result)
    progress(endpoint=name, endpoint_config=config_name, tags=tags)
    sagemaker_api.endpoint_delete(sagemaker, name)
    _wait(
        lambda: "gone" if sagemaker_api.endpoint_described(sagemaker, name) is None else "deleting",
        "gone",
        failing=(),
        timeout=waits.sagemaker_timeout,
        waits=waits,
    )
    return Outcome(
        Action.State.DONE,
        f"Endpoint {name} deleted; its config {config_name} is kept for the recreate",
        new="Deleted",
        result=result | {"changed": True},
    )


def _endpoint_recreate(clients, action: Action, waits: Waits, progress) -> Outcome:
    sagemaker = clients("sagemaker")
    name = resource_name(action)
    config_name = action.parameters.get("endpoint_config", "")
    tags = action.parameters.get("tags", {})
    result: dict[str, Any] = {"endpoint": name, "endpoint_config": config_name}
    if not config_name:
        return Outcome(
            Action.State.FAILED, "No endpoint config recorded by the delete", error="no config", result=result
        )
    if sagemaker_api.endpoint_described(sagemaker, name) is not None:
        return Outcome(Action.State.DONE, f"Endpoint {name} already exists", result=result | {"changed": False})
    if action.dry_run:
        return _dry(f"would recreate endpoint {name} from config {config_name}", result)
    progress(endpoint=name, endpoint_config=config_name)
    sagemaker_api.endpoint_create(sagemaker, name=name, config_name=config_name, tags=tags)
    _wait(
        lambda: sagemaker_api.endpoint_status(sagemaker, name)[0],
        "InService",
        failing=("Failed",),
        timeout=waits.sagemaker_timeout,
        waits=waits,
    )
    return Outcome(
        Action.State.DONE,
        f"Endpoint {name} recreated from {config_name}",
        new="InService",
        result=result | {"changed": True},
    )


# --- Auto Scaling groups and EKS node groups ---------------------------------------------------------------


def _group_sizes(clients, action: Action) -> dict[str, int]:
    if action.resource_type == Resource.Kind.AUTO_SCALING_GROUP:
        group = autoscaling_api.auto_scaling_group(clients("autoscaling"), resource_name(action))
        return {"min": group["MinSize"], "desired": group["DesiredCapacity"], "max": group["MaxSize"]}
    scaling = eks_api.node_group(clients("eks"), cluster=_cluster(action), name=resource_name(action))["scalingConfig"]
    return {"min": scaling["minSize"], "desired": scaling["desiredSize"], "max": scaling["maxSize"]}


def _cluster(action: Action) -> str:
    if action.resource is not None and action.resource.details.get("cluster"):
        return action.resource.details["cluster"]
    return action.resource_arn.split(":nodegroup/", 1)[-1].split("/", 1)[0]  # arn:...:nodegroup/CLUSTER/NAME/ID


def _group_size_set(clients, action: Action, sizes: dict[str, int]) -> None:
    if action.resource_type == Resource.Kind.AUTO_SCALING_GROUP:
        autoscaling_api.auto_scaling_group_size_set(
            clients("autoscaling"), resource_name(action), minimum=sizes["min"], desired=sizes["desired"],
            maximum=sizes["max"],
        )  # fmt: skip
    else:
        eks_api.node_group_size_set(
            clients("eks"), cluster=_cluster(action), name=resource_name(action), minimum=sizes["min"],
            desired=sizes["desired"], maximum=sizes["max"],
        )  # fmt: skip


def _group_scale_to_zero(clients, action: Action, waits: Waits, progress) -> Outcome:
    name = resource_name(action)
    before = _group_sizes(clients, action)
    result: dict[str, Any] = {"group": name, "sizes": before}
    if before["desired"] == 0 and before["min"] == 0:
        return Outcome(Action.State.DONE, f"Group {name} is already at zero", result=result | {"changed": False})
    zero = {"min": 0, "desired": 0, "max": before["max"]}
    if action.dry_run:
        return _dry(f"would scale group {name} from {before} to {zero}; only the reads were made", result)
    progress(group=name, sizes=before)
    _group_size_set(clients, action, zero)
    after = _group_sizes(clients, action)
    if after["desired"] != 0:
        return Outcome(
            Action.State.FAILED, f"Group {name} is {after} after the change", error="not at zero", result=result
        )
    return Outcome(
        Action.State.DONE,
        f"Group {name} scaled {before} -> zero",
        new="scaled to zero",
        result=result | {"changed": True},
    )


def _group_restore(clients, action: Action, waits: Waits, progress) -> Outcome:
    name = resource_name(action)
    sizes = action.parameters.get("sizes")
    if not sizes:
        return Outcome(Action.State.FAILED, "No sizes recorded by the scale to zero", error="no sizes")
    before = _group_sizes(clients, action)
    result: dict[str, Any] = {"group": name, "before": before, "sizes": sizes}
    if before == sizes:
        return Outcome(Action.State.DONE, f"Group {name} already has {sizes}", result=result | {"changed": False})
    if action.dry_run:
        return _dry(f"would restore group {name} to {sizes}", result)
    progress(group=name, before=before, sizes=sizes)
    _group_size_set(clients, action, sizes)
    return Outcome(
        Action.State.DONE, f"Group {name} restored to {sizes}", new="active", result=result | {"changed": True}
    )


STEPS = {
    (Resource.Kind.EC2_INSTANCE, Kind.STOP): _ec2_stop,
    (Resource.Kind.EC2_INSTANCE, Kind.START): _ec2_start,
    (Resource.Kind.SAGEMAKER_NOTEBOOK, Kind.STOP): _notebook_stop,
    (Resource.Kind.SAGEMAKER_NOTEBOOK, Kind.START): _notebook_start,
    (Resource.Kind.SAGEMAKER_ENDPOINT, Kind.DELETE): _endpoint_delete,
    (Resource.Kind.SAGEMAKER_ENDPOINT, Kind.RECREATE): _endpoint_recreate,
    (Resource.Kind.AUTO_SCALING_GROUP, Kind.SCALE_TO_ZERO): _group_scale_to_zero,
    (Resource.Kind.AUTO_SCALING_GROUP, Kind.RESTORE): _group_restore,
    (Resource.Kind.EKS_NODE_GROUP, Kind.SCALE_TO_ZERO): _group_scale_to_zero,
    (Resource.Kind.EKS_NODE_GROUP, Kind.RESTORE): _group_restore,
}


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
