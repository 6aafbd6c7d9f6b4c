"""Editing policies: validation (PolicyInputError names the field) and the operators' create, update, delete."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from capacity.models import Action, Policy, Resource
from capacity.schedules import ScheduleError, parse_schedule
from finops.models import CloudAccount
from finops.roles import user_is_operator

Kind = Action.Kind
ACTOR = "policy"
KINDS_FOR_ACTION: dict[str, tuple[str, ...]] = {
    Policy.Action.STOP_START: (Resource.Kind.EC2_INSTANCE, Resource.Kind.SAGEMAKER_NOTEBOOK),
    Policy.Action.ENDPOINT_DELETE_RECREATE: (Resource.Kind.SAGEMAKER_ENDPOINT,),
    Policy.Action.SCALE_TO_ZERO: (Resource.Kind.AUTO_SCALING_GROUP, Resource.Kind.EKS_NODE_GROUP),
}
OFF_ON: dict[str, tuple[str, str]] = {
    Policy.Action.STOP_START: (Kind.STOP, Kind.START),
    Policy.Action.ENDPOINT_DELETE_RECREATE: (Kind.DELETE, Kind.RECREATE),
    Policy.Action.SCALE_TO_ZERO: (Kind.SCALE_TO_ZERO, Kind.RESTORE),
}
WOULD = {Kind.STOP: "stop", Kind.START: "start", Kind.DELETE: "delete", Kind.RECREATE: "recreate",
         Kind.SCALE_TO_ZERO: "scale", Kind.RESTORE: "restore"}  # fmt: skip
RUNNING = {
    Resource.Kind.EC2_INSTANCE: ("running", "pending"),
    Resource.Kind.SAGEMAKER_NOTEBOOK: ("InService", "Pending"),
    Resource.Kind.SAGEMAKER_ENDPOINT: ("InService", "Updating", "Creating"),
}
IDLE_LOOKBACK_HOURS = 24 * 14
EDITABLE = (
    "name", "description", "enabled", "dry_run", "resource_kinds", "accounts", "regions", "tag_filters",
    "include_prod", "action", "trigger", "schedule", "schedule_tag_key", "idle_hours", "idle_gpu_percent",
    "idle_cpu_percent", "grace_minutes", "max_actions_per_run",
)  # fmt: skip


class PolicyForbidden(Exception):
    """The user may not do this (edit policies: operators; snooze: the owning team's approvers or admins)."""


class PolicyInputError(ValueError):
    """Bad input; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class ActionStateError(Exception):
    """The action's state does not allow the command."""


# --- Editing ---------------------------------------------------------------------------------------------


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise PolicyInputError(name, "Give a list of non-empty strings.")
    return [item.strip() for item in value]


def policy_validate(*, data: dict[str, Any], instance: Policy | None = None) -> dict[str, Any]:
    """The cleaned values of `data` merged over `instance`'s; raises PolicyInputError naming the first bad field."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise PolicyInputError(sorted(unknown)[0], "Not a policy field.")
    current: dict[str, Any] = {}
    if instance is not None:
        current = {name: getattr(instance, name) for name in EDITABLE if name != "accounts"}
        current["accounts"] = list(instance.accounts.all())
    else:
        defaults = Policy()
        current = {name: getattr(defaults, name) for name in EDITABLE if name != "accounts"} | {"accounts": []}
    values = current | data
    name = str(values.get("name") or "").strip()
    if not name:
        raise PolicyInputError("name", "A policy needs a name.")
    if Policy.objects.filter(name=name).exclude(pk=getattr(instance, "pk", None)).exists():
        raise PolicyInputError("name", f"A policy named '{name}' exists already.")
    values["name"] = name
    if values.get("action") not in Policy.Action.values:
        raise PolicyInputError("action", f"Choose one of {', '.join(Policy.Action.values)}.")
    if values.get("trigger") not in Policy.Trigger.values:
        raise PolicyInputError("trigger", f"Choose one of {', '.join(Policy.Trigger.values)}.")
    fitting = KINDS_FOR_ACTION[values["action"]]
    kinds = _string_list(values.get("resource_kinds") or [], "resource_kinds")
    wrong = [kind for kind in kinds if kind not in fitting]
    if wrong:
        raise PolicyInputError(
            "resource_kinds", f"{', '.join(wrong)}: {values['action']} acts on {', '.join(fitting)} only."
        )
    values["resource_kinds"] = kinds
    values["regions"] = _string_list(values.get("regions") or [], "regions")
    tag_filters = values.get("tag_filters") or {}
    if not isinstance(tag_filters, dict):
        raise PolicyInputError("tag_filters", 'Give an object of tag key -> list of values, e.g. {"team": ["vision"]}.')
    values["tag_filters"] = {
        str(key): _string_list(tag_values if isinstance(tag_values, list) else [tag_values], "tag_filters")
        for key, tag_values in tag_filters.items()
    }
    accounts = values.get("accounts") or []
    if not all(isinstance(account, CloudAccount) for account in accounts):
        raise PolicyInputError("accounts", "Give accounts Costplane knows.")
    values["schedule"] = " ".join(str(values.get("schedule") or "").split())
    values["schedule_tag_key"] = str(values.get("schedule_tag_key") or "").strip()
    if values["trigger"] == Policy.Trigger.SCHEDULE:
        if values["schedule"]:
            try:
                parse_schedule(values["schedule"])
            except ScheduleError as error:
                raise PolicyInputError("schedule", str(error)) from None
        elif not values["schedule_tag_key"]:
            raise PolicyInputError("schedule", "Give a schedule, or a tag key to read each resource's schedule from.")
    else:
        hours = values.get("idle_hours")
        if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= IDLE_LOOKBACK_HOURS:
            raise PolicyInputError("idle_hours", f"An idle rule needs idle_hours between 1 and {IDLE_LOOKBACK_HOURS}.")
        if values["action"] == Policy.Action.ENDPOINT_DELETE_RECREATE and values["schedule"]:
            raise PolicyInputError("schedule", "An idle policy has no schedule.")
        for percent in ("idle_gpu_percent", "idle_cpu_percent"):
            if values.get(percent) is not None:
                try:
                    values[percent] = Decimal(str(values[percent]))
                except InvalidOperation:
                    raise PolicyInputError(percent, "Give a percentage.") from None
                if not 0 <= values[percent] <= 100:
                    raise PolicyInputError(percent, "Give a percentage between 0 and 100.")
        needs_gpu = values["action"] == Policy.Action.SCALE_TO_ZERO or (
            values["action"] == Policy.Action.STOP_START and Resource.Kind.EC2_INSTANCE in (kinds or fitting)
        )
        if needs_gpu and values.get("idle_gpu_percent") is None:
            raise PolicyInputError("idle_gpu_percent", "Say under which GPU utilisation (%) a machine counts as idle.")
        if Resource.Kind.SAGEMAKER_NOTEBOOK in (kinds or fitting) and values["action"] == Policy.Action.STOP_START:
            if values.get("idle_cpu_percent") is None:
                raise PolicyInputError("idle_cpu_percent", "Say under which CPU utilisation (%) a notebook is idle.")
    for number, minimum in (("grace_minutes", 0), ("max_actions_per_run", 1)):
        value = values.get(number)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise PolicyInputError(number, f"Give a whole number of at least {minimum}.")
    for flag in ("enabled", "dry_run", "include_prod"):
        if not isinstance(values.get(flag), bool):
            raise PolicyInputError(flag, "Give true or false.")
    return values


def _policy_save(policy: Policy, values: dict[str, Any]) -> Policy:
    for name in EDITABLE:
        if name != "accounts":
            setattr(policy, name, values[name])
    policy.save()
    policy.accounts.set(values["accounts"])
    return policy


@transaction.atomic
def policy_create(*, user: AbstractBaseUser, data: dict[str, Any]) -> Policy:
    """Create a policy (operators and admins); it starts in dry run unless `data` says otherwise."""
    if not user_is_operator(user):
        raise PolicyForbidden("Only operators edit policies.")
    values = policy_validate(data=data)
    return _policy_save(Policy(created_by=user, updated_by=user), values)


@transaction.atomic
def policy_update(*, policy_id: int, user: AbstractBaseUser, data: dict[str, Any]) -> Policy:
    """Change some of a policy's fields (operators and admins)."""
    if not user_is_operator(user):
        raise PolicyForbidden("Only operators edit policies.")
    policy = Policy.objects.select_for_update().get(pk=policy_id)
    values = policy_validate(data=data, instance=policy)
    policy.updated_by = user
    return _policy_save(policy, values)


@transaction.atomic
def policy_delete(*, policy_id: int, user: AbstractBaseUser) -> None:
    """Delete a policy that never made an action; one with history is disabled instead (PolicyInputError)."""
    if not user_is_operator(user):
        raise PolicyForbidden("Only operators edit policies.")
    policy = Policy.objects.select_for_update().get(pk=policy_id)
    if policy.actions.exists():
        raise PolicyInputError("policy", "This policy has actions (its audit trail): disable it instead of deleting.")
    policy.delete()
