"""Off-hours and idle policies against the sandbox fleet in moto: a simulated week, endpoints, groups, and the guards
(opt-out, prod, cap, grace, snooze, dry run). Outcomes are read back through AWS Describe calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from capacity.models import Action, Policy, Price, Resource
from capacity.selectors.policies import policy_actions_upcoming, policy_history, policy_savings
from capacity.services.inventory import inventory_collect
from capacity.services.policies import (
    PolicyForbidden,
    action_snooze,
    policy_evaluate,
    policy_preview,
    policy_update,
)
from finops.models import Channel
from tests.capacity.conftest import ML_PROD, ML_RESEARCH, NOW, REGION, client_factory
from tests.capacity.policies.support import (
    dev_running,
    instance_states,
    make_policy,
    notebook_status,
    run,
    utc,
)
from tests.factories import TeamMembershipFactory

pytestmark = pytest.mark.django_db


def test_it_stops_and_starts_exactly_the_dev_machines_at_berlin_hours_for_a_week(inventoried, operator_user):
    make_policy(operator_user, inventoried, resource_kinds=["ec2_instance", "sagemaker_notebook"])
    research = inventoried["ml-research"]
    tracked = sorted(dev_running(instance_states()))
    assert tracked, "the sandbox has running dev machines at the start"
    others_before = {name: state for name, state in instance_states().items() if name not in tracked}
    prod_before = instance_states(ML_PROD)
    timeline: dict[str, list[tuple[datetime, str]]] = {name: [] for name in [*tracked, "speech-asr-notebook"]}
    moment = NOW
    while moment <= NOW + timedelta(days=7):
        if moment.minute == 30:  # inventory, as the hourly beat does
            inventory_collect(account=research, region=REGION, client_factory=client_factory(ML_RESEARCH), now=moment)
        if moment == utc(2025, 6, 18, 19):  # Wednesday 21:00 in Berlin: someone starts a machine by hand
            client_factory(ML_RESEARCH)("ec2").start_instances(InstanceIds=["i-0da0176204d1fe3d0"])
        run(moment)
        states = instance_states() | {"speech-asr-notebook": notebook_status("speech-asr-notebook")}
        for name, changes in timeline.items():
            if not changes or changes[-1][1] != states[name]:
                changes.append((moment, states[name]))
        moment += timedelta(minutes=30)

    # 19:00 Berlin (CEST) is 17:00 UTC, plus the 30-minute grace period; 07:00 Berlin is 05:00 UTC.
    weekday_cycle = [(utc(2025, 6, 16, 10), "running")]
    for day in (16, 17, 18, 19):
        weekday_cycle += [(utc(2025, 6, day, 17, 30), "stopped"), (utc(2025, 6, day + 1, 5), "running")]
    weekday_cycle += [(utc(2025, 6, 20, 17, 30), "stopped"), (utc(2025, 6, 23, 5), "running")]
    for name in tracked:
        if name == "vision-train-p4d-0":
            continue
        assert timeline[name] == weekday_cycle, name
    # Started by hand on Wednesday evening: left running until Thursday's off transition.
    by_hand = weekday_cycle[:6] + [(utc(2025, 6, 18, 19), "running")] + weekday_cycle[7:]
    assert timeline["vision-train-p4d-0"] == by_hand
    notebook_cycle = [(moment, "InService" if state == "running" else "Stopped") for moment, state in weekday_cycle]
    assert timeline["speech-asr-notebook"] == notebook_cycle
    # Nothing outside the selection changed: untagged research machines and the prod account.
    assert {name: state for name, state in instance_states().items() if name not in tracked} == others_before
    assert instance_states(ML_PROD) == prod_before
    # Every action has its reason; the boundaries were each acted on once.
    actions = Action.objects.filter(policy__name="dev off-hours")
    assert all(action.reason for action in actions)
    assert actions.filter(kind="stop", state="done", resource__name="vision-train-p4d-0").count() == 5


def test_it_deletes_an_endpoint_at_off_hours_and_brings_it_back_with_the_same_config(inventoried, operator_user):
    sagemaker = client_factory(ML_RESEARCH)("sagemaker")
    before = sagemaker.describe_endpoint(EndpointName="resnet-tagger-dev")
    config_before = sagemaker.describe_endpoint_config(EndpointConfigName=before["EndpointConfigName"])
    tags_before = sagemaker.list_tags(ResourceArn=before["EndpointArn"])["Tags"]
    make_policy(
        operator_user, inventoried, name="dev endpoints at night", action="endpoint_delete_recreate",
        resource_kinds=[], schedule="off=(*,19);on=(*,7);tz=Europe/Berlin", grace_minutes=0,
    )  # fmt: skip

    run(utc(2025, 6, 16, 17, 5))  # 19:05 in Berlin

    assert "resnet-tagger-dev" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert sagemaker.describe_endpoint_config(EndpointConfigName=before["EndpointConfigName"])  # kept
    inventory_collect(
        account=inventoried["ml-research"], region=REGION, client_factory=client_factory(ML_RESEARCH),
        now=utc(2025, 6, 16, 18),
    )  # fmt: skip
    assert Resource.objects.get(name="resnet-tagger-dev").gone_at is not None

    run(utc(2025, 6, 17, 5, 5))  # 07:05 in Berlin

    after = sagemaker.describe_endpoint(EndpointName="resnet-tagger-dev")
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == before["EndpointConfigName"]
    config_after = sagemaker.describe_endpoint_config(EndpointConfigName=after["EndpointConfigName"])
    assert config_after["ProductionVariants"] == config_before["ProductionVariants"]
    assert sorted(sagemaker.list_tags(ResourceArn=after["EndpointArn"])["Tags"], key=str) == sorted(
        tags_before, key=str
    )
    kinds = list(Action.objects.filter(policy__name="dev endpoints at night").values_list("kind", "state"))
    assert sorted(kinds) == [("delete", "done"), ("recreate", "done")]


def test_it_scales_groups_to_zero_and_restores_their_sizes(inventoried, operator_user):
    autoscaling = client_factory(ACCOUNT_PLATFORM := inventoried["platform"].account_id)("autoscaling")
    eks = client_factory(ML_PROD)("eks")

    def sizes():
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["gitlab-runners"])["AutoScalingGroups"]
        scaling = eks.describe_nodegroup(clusterName="ml-inference", nodegroupName="recsys-inf2")["nodegroup"]
        return (
            (group[0]["MinSize"], group[0]["DesiredCapacity"], group[0]["MaxSize"]),
            (scaling["scalingConfig"]["minSize"], scaling["scalingConfig"]["desiredSize"],
             scaling["scalingConfig"]["maxSize"]),
        )  # fmt: skip

    before = sizes()
    assert before[0][1] > 0 and before[1][1] > 0
    make_policy(
        operator_user, inventoried, name="groups at night", action="scale_to_zero", resource_kinds=[],
        accounts=[inventoried["platform"], inventoried["ml-prod"]], tag_filters={}, include_prod=True,
        schedule="off=(*,19);on=(*,7);tz=Europe/Berlin", grace_minutes=0,
    )  # fmt: skip

    run(utc(2025, 6, 16, 17, 5))
    assert sizes() == ((0, 0, before[0][2]), (0, 0, before[1][2]))

    run(utc(2025, 6, 17, 5, 5))
    assert sizes() == before
    assert ACCOUNT_PLATFORM


# --- Guards ----------------------------------------------------------------------------------------------


def test_it_never_touches_an_opted_out_machine_or_prod_unless_the_policy_includes_prod(inventoried, operator_user):
    ec2 = client_factory(ML_RESEARCH)("ec2")
    ec2.create_tags(Resources=["i-0da0176204d1fe3d0"], Tags=[{"Key": "costplane:keep-alive", "Value": "true"}])
    inventory_collect(
        account=inventoried["ml-research"], region=REGION, client_factory=client_factory(ML_RESEARCH), now=NOW
    )
    make_policy(
        operator_user, inventoried, name="everything at night", tag_filters={}, resource_kinds=["ec2_instance"],
        accounts=[inventoried["ml-research"], inventoried["ml-prod"]], grace_minutes=0,
    )  # fmt: skip
    prod_before = instance_states(ML_PROD)

    run(utc(2025, 6, 16, 17, 5))

    assert instance_states()["vision-train-p4d-0"] == "running"
    assert instance_states()["recsys-train-g5-0"] == "stopped"
    assert instance_states(ML_PROD) == prod_before == {"recsys-serve-inf2-0": "running"}
    skipped = dict(Action.objects.filter(state="skipped").values_list("resource__name", "reason"))
    assert skipped["vision-train-p4d-0"].startswith("Opt-out")
    assert skipped["recsys-serve-inf2-0"].startswith("Prod guard")
    # Skips are recorded once per boundary, not at every beat.
    run(utc(2025, 6, 16, 17, 10))
    assert Action.objects.filter(state="skipped").count() == 2

    policy = Policy.objects.get(name="everything at night")
    policy_update(policy_id=policy.pk, user=operator_user, data={"include_prod": True})
    run(utc(2025, 6, 17, 17, 5))
    assert instance_states(ML_PROD) == {"recsys-serve-inf2-0": "stopped"}
    assert instance_states()["vision-train-p4d-0"] == "running"  # the opt-out still wins


def test_it_caps_actions_per_run_and_leaves_the_rest_to_the_next_runs(inventoried, operator_user):
    policy = make_policy(
        operator_user, inventoried, resource_kinds=["ec2_instance"], max_actions_per_run=2, tag_filters={}
    )
    running_before = {name for name, state in instance_states().items() if state == "running"}
    assert len(running_before) > 4

    run(utc(2025, 6, 16, 17, 5))
    run(utc(2025, 6, 16, 17, 35))  # the first two stop; the next two are announced

    stopped = {name for name, state in instance_states().items() if state == "stopped"} & running_before
    assert len(stopped) == 2
    capped = Action.objects.filter(policy=policy, capped=True)
    first_capped = set(capped.values_list("resource__name", flat=True))
    assert first_capped == running_before - stopped  # the rest were left for later, each recorded once
    assert all(action.reason == "Cap reached (2 per run): left for the next run." for action in capped)
    policy.refresh_from_db()
    assert policy.last_run["counts"]["capped"] == len(first_capped) - 2
    assert policy.last_run["counts"]["announced"] == 2
    preview = {item["resource"]: item for item in policy_preview(policy=policy, now=utc(2025, 6, 16, 17, 40))}
    waiting = sorted(first_capped - set(Action.objects.filter(policy=policy, capped=False).values_list(
        "resource__name", flat=True)))  # fmt: skip
    assert waiting and all(preview[name]["reason"] != "Already handled for this boundary." for name in waiting)
    assert [preview[name]["would"] for name in waiting[:2]] == ["stop", "stop"]

    moment = utc(2025, 6, 16, 18, 5)
    while moment < utc(2025, 6, 17, 4):  # the same off period (Berlin 19:00-07:00): runs every half hour
        run(moment)
        moment += timedelta(minutes=30)

    assert {name for name, state in instance_states().items() if state == "running"} == set()
    # At most once: each resource got one stop for the boundary, besides the one cap record of the first run.
    stops = Action.objects.filter(policy=policy, kind="stop", capped=False)
    assert sorted(stops.values_list("resource__name", flat=True)) == sorted(running_before)
    assert set(capped.values_list("resource__name", flat=True)) == first_capped
    assert all(list(action.transitions.values_list("from_state", "to_state")) == [("", "skipped")] for action in capped)


def test_it_announces_with_a_grace_period_and_an_approver_can_snooze(
    inventoried, operator_user, teams, django_capture_on_commit_callbacks
):
    Channel.objects.create(team=teams["vision"], name="vision mail", email="vision@example.com")
    Price.objects.create(
        service="ec2", region=REGION, instance_type="p4d.24xlarge", operating_system="Linux", tenancy="Shared",
        hourly_usd=Decimal("32.7726"), fetched_on=NOW.date(),
    )  # fmt: skip
    make_policy(operator_user, inventoried, resource_kinds=["ec2_instance"], grace_minutes=60)
    approver = TeamMembershipFactory(team=teams["vision"]).user
    other_approver = TeamMembershipFactory(team=teams["speech"]).user

    with django_capture_on_commit_callbacks(execute=True):
        policy_evaluate(policy_id=Policy.objects.get().pk, now=utc(2025, 6, 16, 17, 5))

    stop = Action.objects.get(resource__name="vision-train-p4d-0", kind="stop")
    assert (stop.state, stop.run_after) == ("announced", utc(2025, 6, 16, 18, 5))
    assert stop.hourly_saving == Decimal("32.7726") and "Off-hours" in stop.reason
    assert any("vision-train-p4d-0" in message.subject for message in mail.outbox)

    run(utc(2025, 6, 16, 17, 50))  # inside the grace period: nothing stopped yet
    assert dev_running(instance_states()) >= {"vision-train-p4d-0", "recsys-train-g5-0"}

    with pytest.raises(PolicyForbidden):
        action_snooze(action_id=stop.pk, user=other_approver, until=utc(2025, 6, 16, 20), now=utc(2025, 6, 16, 17, 55))
    action_snooze(action_id=stop.pk, user=approver, until=utc(2025, 6, 16, 20), reason="demo at 9pm",
                  now=utc(2025, 6, 16, 17, 55))  # fmt: skip

    run(utc(2025, 6, 16, 18, 5))
    assert instance_states()["vision-train-p4d-0"] == "running"
    assert instance_states()["recsys-train-g5-0"] == "stopped"
    run(utc(2025, 6, 16, 20))
    assert instance_states()["vision-train-p4d-0"] == "stopped"
    upcoming = list(policy_actions_upcoming())
    assert upcoming == [] or all(action.state in ("announced", "planned") for action in upcoming)

    # A snooze past the next on transition skips the boundary at once.
    run(utc(2025, 6, 17, 5))
    # Savings to date: stopped Monday 20:00 to Tuesday 05:00 UTC, 9 hours at the p4d's on-demand price.
    savings = policy_savings(policy=Policy.objects.get(), now=utc(2025, 6, 17, 6))
    assert savings.estimated == (Decimal("32.7726") * 9).quantize(Decimal("0.01"))
    assert savings.measured_monthly is None  # off-hours cycles have no clean before and after
    history = [(row.action.resource.name, row.to_state) for row in policy_history(policy=Policy.objects.get())]
    assert ("vision-train-p4d-0", "done") in history and ("vision-train-p4d-0", "announced") in history
    run(utc(2025, 6, 17, 17, 5))
    assert [action.resource.name for action in policy_actions_upcoming()].count("vision-train-p4d-0") == 1
    tuesday = Action.objects.get(resource__name="vision-train-p4d-0", kind="stop", transition_at=utc(2025, 6, 17, 17))
    skipped = action_snooze(
        action_id=tuesday.pk, user=approver, until=utc(2025, 6, 18, 12), now=utc(2025, 6, 17, 17, 10)
    )
    assert skipped.state == "skipped" and skipped.reason.startswith("Snoozed by")
    run(utc(2025, 6, 17, 18, 30))
    assert instance_states()["vision-train-p4d-0"] == "running"


def test_it_only_rehearses_in_dry_run(inventoried, operator_user):
    make_policy(operator_user, inventoried, resource_kinds=["ec2_instance"], dry_run=True, grace_minutes=0)

    run(utc(2025, 6, 16, 17, 5))

    assert dev_running(instance_states()) >= {"vision-train-p4d-0", "recsys-train-g5-0"}
    stop = Action.objects.get(resource__name="vision-train-p4d-0", kind="stop")
    assert stop.state == "skipped" and stop.dry_run
    assert stop.transitions.last().reason.startswith("Dry run: stop i-0da0176204d1fe3d0 (running) would succeed")
    run(utc(2025, 6, 17, 5, 5))  # nothing was stopped, so nothing is started
    assert not Action.objects.filter(kind="start").exists()


# --- Preview, validation, idle ---------------------------------------------------------------------------
