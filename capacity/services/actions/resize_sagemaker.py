"""SageMaker endpoint resize: the driver a right-sizing action of a `sagemaker_endpoint` runs (resize.py chooses it).

- Resize: a new EndpointConfig `<old config>-costplane<action id>` copying the old one with the variants of the old
  type moved to the new type, UpdateEndpoint, wait InService and check the endpoint uses the new config. On
  failure, UpdateEndpoint back to the old config (unless AWS already rolled back itself) -> `rolled_back`. The old
  config is kept (it is the rollback target).
- Before the update it records both config names (`parameters["progress"]`), which the lease sweeper reads.
- Dry run: SageMaker has no DryRun, so only the reads are made and the would-be EndpointConfig is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from capacity.aws import sagemaker as sagemaker_api
from capacity.models import Action
from capacity.services.actions.state import Outcome, StepError, Waits, rollback_failed_outcome, wait_for

logger = logging.getLogger(__name__)


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


def sagemaker_dry_run(sagemaker: Any, name: str, current: str, target: str, suffix: str) -> Outcome:
    """The reads of the resize and the EndpointConfig it would create; changes nothing."""
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


def sagemaker_resize(
    sagemaker: Any,
    name: str,
    current: str,
    target: str,
    suffix: str,
    waits: Waits,
    progress: Callable[..., None] = lambda **facts: None,
) -> Outcome:
    """Move endpoint `name` to `target` through a new EndpointConfig, back to the old one on failure."""
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
        wait_for(
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
            wait_for(
                lambda: "settled" if status() in ("InService", "Failed", "OutOfService") else "busy",
                "settled",
                failing=(),
                timeout=waits.sagemaker_timeout,
                waits=waits,
            )
            if sagemaker_api.endpoint(sagemaker, name)["EndpointConfigName"] != old_config_name:
                sagemaker_api.endpoint_update(sagemaker, name=name, config_name=old_config_name)
                steps.append(f"update endpoint back to {old_config_name}")
                wait_for(status, "InService", failing=("Failed",), timeout=waits.sagemaker_timeout, waits=waits)
                steps.append("InService")
        except Exception as rollback_error:
            return rollback_failed_outcome(failure, rollback_error, steps=steps, result=result, old=old)
        result["steps"] = steps
        return Outcome(
            Action.State.ROLLED_BACK,
            f"Resize to {target} failed ({failure}); endpoint {name} is on {old_config_name} ({old}) again",
            old=old,
            error=failure,
            result=result,
        )
