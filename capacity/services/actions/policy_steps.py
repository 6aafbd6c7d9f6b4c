"""The steps of policy actions in AWS: stop and start EC2 instances and notebook instances, delete and recreate
SageMaker endpoints, scale Auto Scaling groups and EKS node groups to zero and back. policy.py runs them.

Each step takes (clients, action, waits, progress) and returns an Outcome; it never raises for a state it can
explain. Decisions:
- Dry run: EC2 StopInstances/StartInstances are called with DryRun=True; elsewhere only the reads are made.
  Recorded as skipped "Dry run: ..." with the would-be result.
- Before each change a step writes what it is about to change (`progress`: the state before, the endpoint config
  and tags, the group sizes); the sweeper (recovery.py) reads it.
- An off step records in `result["changed"]` whether it changed anything; only a changed one is restored, so a
  resource that was already off is never started by the policy.
- EC2: the live tags are checked for the opt-out tag too (the stored ones may be an hour old).
- Endpoints: DeleteEndpoint keeps the EndpointConfig (and its model); the recreate uses the config name and tags the
  delete recorded. Groups: the delete-time sizes (min, desired, max) are recorded and put back; an EKS group keeps
  its maxSize at zero (EKS refuses a maxSize of 0).
"""

from __future__ import annotations

from typing import Any

from capacity.aws import autoscaling as autoscaling_api
from capacity.aws import ec2 as ec2_api
from capacity.aws import eks as eks_api
from capacity.aws import sagemaker as sagemaker_api
from capacity.models import Action, Resource
from capacity.services.actions.names import resource_name
from capacity.services.actions.state import Outcome, Waits, wait_for
from capacity.services.policies.guards import keep_alive

Kind = Action.Kind


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
    wait_for(
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
    wait_for(
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
    wait_for(
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
    wait_for(
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


def group_sizes(clients, action: Action) -> dict[str, int]:
    """The group's sizes now (min, desired, max); the sweeper reads them too."""
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
    before = group_sizes(clients, action)
    result: dict[str, Any] = {"group": name, "sizes": before}
    if before["desired"] == 0 and before["min"] == 0:
        return Outcome(Action.State.DONE, f"Group {name} is already at zero", result=result | {"changed": False})
    zero = {"min": 0, "desired": 0, "max": before["max"]}
    if action.dry_run:
        return _dry(f"would scale group {name} from {before} to {zero}; only the reads were made", result)
    progress(group=name, sizes=before)
    _group_size_set(clients, action, zero)
    after = group_sizes(clients, action)
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
    before = group_sizes(clients, action)
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


# (resource type, action kind) -> its step; a pair not listed fails with "not a step".
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
