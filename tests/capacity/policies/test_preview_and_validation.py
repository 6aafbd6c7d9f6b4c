"""Policies: the preview, validation naming the field, idle detection, one evaluator at a time, the schedules and
the kill switch."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from capacity.models import Action, Policy, Resource, UtilisationHour
from capacity.services.actions.execute import action_execute
from capacity.services.actions.policy import policy_actions_due
from capacity.services.policies import (
    PolicyForbidden,
    PolicyInputError,
    policy_create,
    policy_evaluate,
    policy_preview,
)
from tests.capacity.conftest import NOW, REGION
from tests.capacity.policies.support import (
    BERLIN,
    dev_running,
    instance_states,
    make_policy,
    utc,
)

pytestmark = pytest.mark.django_db


def test_it_previews_without_acting_and_names_a_bad_schedule_tag(inventoried, operator_user):
    Resource.objects.filter(name="recsys-train-g5-0").update(
        tags={"environment": "dev", "costplane:schedule": "off=(M-F,19);tz=Mars/Olympus"}
    )
    policy = make_policy(operator_user, inventoried, resource_kinds=["ec2_instance"], schedule="")

    items = {item["resource"]: item for item in policy_preview(policy=policy, now=utc(2025, 6, 16, 17, 5))}

    assert not Action.objects.exists()
    bad = items["recsys-train-g5-0"]
    assert bad["would"] == "skip"
    assert "Resource recsys-train-g5-0: tag costplane:schedule: 'Mars/Olympus'" in bad["error"]
    assert items["vision-train-p4d-0"]["would"] == "none"  # untagged: the policy has no schedule for it
    result = policy_evaluate(policy_id=policy.pk, now=utc(2025, 6, 16, 17, 5))
    assert result["errors"] == [bad["error"]]
    assert Policy.objects.get().last_run["errors"] == [bad["error"]]
    assert dev_running(instance_states()) >= {"recsys-train-g5-0"}


def test_it_validates_policies_naming_the_field(accounts, operator_user, viewer):
    with pytest.raises(PolicyInputError) as caught:
        policy_create(user=operator_user, data={"name": "x", "action": "stop_start", "schedule": "off=(M-F,29)"})
    assert caught.value.field == "schedule" and "not a time of day" in str(caught.value)
    with pytest.raises(PolicyInputError) as caught:
        policy_create(
            user=operator_user,
            data={"name": "x", "action": "scale_to_zero", "resource_kinds": ["ec2_instance"], "schedule": BERLIN},
        )
    assert caught.value.field == "resource_kinds"
    with pytest.raises(PolicyInputError) as caught:
        policy_create(user=operator_user, data={"name": "x", "action": "endpoint_delete_recreate", "trigger": "idle"})
    assert caught.value.field == "idle_hours"
    with pytest.raises(PolicyForbidden):
        policy_create(user=viewer, data={"name": "x", "action": "stop_start", "schedule": BERLIN})
    policy = policy_create(user=operator_user, data={"name": "x", "action": "stop_start", "schedule": BERLIN})
    assert policy.dry_run and policy.enabled and policy.grace_minutes == 30


def test_it_finds_an_idle_endpoint_only_when_every_hour_has_zero_invocations(accounts, operator_user):
    resource = Resource.objects.create(
        account=accounts["ml-research"], region=REGION, kind="sagemaker_endpoint", resource_id="arn:endpoint/quiet",
        name="quiet", state="InService", tags={"environment": "dev"}, first_seen=NOW, last_seen=NOW,
    )  # fmt: skip
    for hours_ago in range(1, 7):
        UtilisationHour.objects.create(
            resource=resource, metric="invocations", variant="AllTraffic", hour=NOW - timedelta(hours=hours_ago),
            total=Decimal(0), average=Decimal(0),
        )  # fmt: skip
    policy = policy_create(
        user=operator_user,
        data={"name": "idle endpoints", "action": "endpoint_delete_recreate", "trigger": "idle", "idle_hours": 6},
    )
    (item,) = policy_preview(policy=policy, now=NOW)
    assert (item["would"], item["transition_at"]) == ("delete", NOW - timedelta(hours=6))

    # An hour without data is unknown, not zero: the streak is broken.
    UtilisationHour.objects.filter(hour=NOW - timedelta(hours=3)).update(total=None, average=None)
    (item,) = policy_preview(policy=policy, now=NOW)
    assert item["would"] == "none" and "Idle for 2 of the 6 hours" in item["reason"]


@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_evaluator_act_on_a_policy_at_a_time(operator_user):
    import threading

    from django.db import connection, transaction

    policy = policy_create(user=operator_user, data={"name": "locked", "action": "stop_start", "schedule": BERLIN})
    holding, done = threading.Event(), threading.Event()

    def other_beat():
        with transaction.atomic():
            Policy.objects.select_for_update().get(pk=policy.pk)
            holding.set()
            done.wait(10)
        connection.close()

    thread = threading.Thread(target=other_beat)
    thread.start()
    try:
        assert holding.wait(10)
        assert policy_evaluate(policy_id=policy.pk, now=NOW) == {"skipped_locked": True}
    finally:
        done.set()
        thread.join()
    assert policy_evaluate(policy_id=policy.pk, now=NOW)["announced"] == 0
    assert Policy.objects.get().last_evaluated_at == NOW


def test_it_schedules_policies_and_the_lease_sweeper_every_five_minutes_on_the_right_queues():
    from capacity import tasks
    from config.celery import app
    from config.schedules import BEAT_SCHEDULE

    by_task = {entry["task"]: entry for entry in BEAT_SCHEDULE.values()}
    for name in ("capacity.tasks.policies_run", "capacity.tasks.leases_sweep"):
        assert by_task[name]["schedule"].minute == set(range(0, 60, 5))
    router = app.amqp.router
    assert router.route({}, tasks.policies_run.name)["queue"].name == "compute"
    assert router.route({}, tasks.leases_sweep.name)["queue"].name == "compute"
    assert router.route({}, tasks.action_execute_task.name)["queue"].name == "actions"


def test_it_skips_policy_actions_against_real_aws_while_the_kill_switch_is_off(accounts, operator_user, settings):
    settings.COSTPLANE_AWS, settings.COSTPLANE_ACTIONS_ENABLED = "aws", False
    research = accounts["ml-research"]
    research.dry_run = False
    research.save()
    Resource.objects.create(
        account=research, region=REGION, kind="ec2_instance", resource_id="i-0abc", name="real-box", state="running",
        tags={"environment": "dev"}, first_seen=NOW, last_seen=NOW,
    )  # fmt: skip
    policy = make_policy(operator_user, accounts, grace_minutes=0)
    policy_evaluate(policy_id=policy.pk, now=utc(2025, 6, 16, 17, 5))
    (action_id,) = policy_actions_due(now=utc(2025, 6, 16, 17, 5))

    action = action_execute(action_id=action_id, now=utc(2025, 6, 16, 17, 5))  # no client: AWS is never called

    assert action.state == "skipped"
    assert "COSTPLANE_ACTIONS_ENABLED is false" in action.transitions.last().reason
