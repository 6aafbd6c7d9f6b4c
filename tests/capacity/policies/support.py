"""Helpers for the policy tests: making a policy, running the engine at an instant, reading states back from AWS."""

from __future__ import annotations

from datetime import UTC, datetime

from capacity.models import Action, Policy
from capacity.services.actions.execute import action_execute
from capacity.services.actions.policy import policy_actions_due
from capacity.services.actions.state import Waits
from capacity.services.policies import (
    policies_evaluate,
    policy_create,
)
from tests.capacity.conftest import ML_RESEARCH, client_factory

NO_WAIT = Waits(interval=0, sleep=lambda seconds: None)


BERLIN = "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_policy(user, known, **data) -> Policy:
    values = {
        "name": "dev off-hours",
        "action": "stop_start",
        "schedule": BERLIN,
        "accounts": [known["ml-research"]],
        "tag_filters": {"environment": ["dev"]},
        "dry_run": False,
        "grace_minutes": 30,
        "max_actions_per_run": 50,
    } | data
    return policy_create(user=user, data=values)


def run(now: datetime) -> None:
    """One beat: evaluate every policy, then execute the policy actions that are due."""
    policies_evaluate(now=now)
    for action_id in policy_actions_due(now=now):
        account_id = Action.objects.get(pk=action_id).account.account_id
        action_execute(action_id=action_id, now=now, client_factory=client_factory(account_id), waits=NO_WAIT)


def instance_states(account_id: str = ML_RESEARCH) -> dict[str, str]:
    """{Name tag: state} of every instance, as DescribeInstances reports it."""
    ec2 = client_factory(account_id)("ec2")
    states = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            name = next((tag["Value"] for tag in instance.get("Tags", []) if tag["Key"] == "Name"), "")
            states[name] = instance["State"]["Name"]
    return states


def notebook_status(name: str) -> str:
    sagemaker = client_factory(ML_RESEARCH)("sagemaker")
    return sagemaker.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def dev_running(states: dict[str, str]) -> set[str]:
    return {name for name in ("vision-train-p4d-0", "recsys-train-g5-0", "speech-train-p5-0", "vision-dev-g5-0")
            if states.get(name) == "running"}  # fmt: skip


# --- A simulated week -----------------------------------------------------------------------------------
