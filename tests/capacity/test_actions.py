"""Executing actions (capacity/services/actions/: state.py, resize.py, resize_ec2.py) against the sandbox fleet in
moto: EC2 and SageMaker endpoint resizes, rollback, dry run, the maintenance window, at most once, the kill switch;
due actions and their tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from capacity import tasks
from capacity.models import Action, ActionTransition, Recommendation, TeamSettings
from capacity.services.actions.execute import action_execute
from capacity.services.actions.resize import actions_due
from capacity.services.actions.state import Waits
from capacity.services.approvals import recommendation_approve
from config.celery import app
from config.schedules import BEAT_SCHEDULE
from tests.capacity.conftest import ML_PROD, ML_RESEARCH, REGION, client_factory
from tests.factories import TeamMembershipFactory

pytestmark = pytest.mark.django_db

BERLIN_SUNDAY = "Sun 02:00-04:00 Europe/Berlin"
IN_WINDOW = datetime(2025, 6, 15, 0, 30, tzinfo=UTC)  # Sunday 02:30 CEST
OUTSIDE = datetime(2025, 6, 16, 10, tzinfo=UTC)  # Monday noon in Berlin
INSTANCE = "i-0da0176204d1fe3d0"  # p4d.24xlarge in ml-research, team vision
INSTANCE_ARN = f"arn:aws:ec2:{REGION}:{ML_RESEARCH}:instance/{INSTANCE}"
ENDPOINT = "two-tower-staging"  # ml.g5.12xlarge in ml-prod
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ML_PROD}:endpoint/{ENDPOINT}"
NO_WAIT = Waits(interval=0, sleep=lambda seconds: None)


@pytest.fixture
def vision(teams):
    TeamSettings.objects.create(team=teams["vision"], maintenance_window=BERLIN_SUNDAY)
    return teams["vision"]


def planned(
    account, team, *, resource_type="Ec2Instance", arn=INSTANCE_ARN, current="p4d.24xlarge", target="g5.12xlarge"
) -> Action:
    recommendation = Recommendation.objects.create(
        source=Recommendation.Source.COSTPLANE,
        kind=Recommendation.Kind.RIGHTSIZE,
        account=account,
        region=REGION,
        resource_type=resource_type,
        resource_arn=arn,
        team=team,
        current_configuration=current,
        recommended_configuration=target,
        monthly_savings=Decimal("9000"),
        first_seen=OUTSIDE - timedelta(days=3),
        last_seen=OUTSIDE - timedelta(days=3),
    )
    approver = TeamMembershipFactory(team=team).user
    return recommendation_approve(recommendation_id=recommendation.pk, user=approver, now=OUTSIDE - timedelta(days=2))


def ec2_instance(account_id: str = ML_RESEARCH, instance_id: str = INSTANCE) -> dict:
    ec2 = client_factory(account_id)("ec2")
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def moves(action: Action) -> list[tuple[str, str, str]]:
    return [(row.from_state, row.to_state, row.actor) for row in action.transitions.order_by("at", "id")]


def live(accounts, name="ml-research"):
    account = accounts[name]
    account.dry_run = False
    account.save()
    return account


class Wrapped:
    """A boto3 client whose named operations are replaced; everything else goes to the real (moto) client."""

    def __init__(self, client, **replaced):
        self._client, self._replaced = client, replaced

    def __getattr__(self, name):
        if name in self._replaced:
            return lambda **params: self._replaced[name](self._client, **params)
        return getattr(self._client, name)


def wrapping(account_id: str, service: str, **replaced):
    base = client_factory(account_id)
    return lambda name: Wrapped(base(name), **replaced) if name == service else base(name)


def refused(operation: str, code: str = "InsufficientInstanceCapacity") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "There is no capacity."}}, operation)


# --- EC2 -------------------------------------------------------------------------------------------------


def test_it_resizes_an_instance_in_the_window(fleet, accounts, vision):
    action = planned(live(accounts), vision)

    action = action_execute(
        action_id=action.pk, now=IN_WINDOW, client_factory=client_factory(ML_RESEARCH), waits=NO_WAIT
    )

    instance = ec2_instance()
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("g5.12xlarge", "running")
    assert action.state == Action.State.DONE and not action.dry_run
    assert (action.old_configuration, action.new_configuration) == ("p4d.24xlarge", "g5.12xlarge")
    assert action.executed_at == IN_WINDOW and action.error == ""
    assert action.result["steps"] == ["stop", "stopped", "modify g5.12xlarge", "start", "running"]
    assert moves(action) == [
        ("", "planned", action.transitions.first().actor),
        ("planned", "running", "system"),
        ("running", "done", "system"),
    ]
    assert "p4d.24xlarge -> g5.12xlarge" in action.transitions.last().reason


def test_a_failed_resize_puts_the_old_type_back(fleet, accounts, vision):
    action = planned(live(accounts), vision)
    failures = []

    def modify(client, **params):
        if params["InstanceType"]["Value"] == "g5.12xlarge" and not failures:
            failures.append(params)
            raise refused("ModifyInstanceAttribute")
        return client.modify_instance_attribute(**params)

    action = action_execute(
        action_id=action.pk,
        now=IN_WINDOW,
        client_factory=wrapping(ML_RESEARCH, "ec2", modify_instance_attribute=modify),
        waits=NO_WAIT,
    )

    instance = ec2_instance()
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("p4d.24xlarge", "running")
    assert action.state == Action.State.ROLLED_BACK
    assert "InsufficientInstanceCapacity" in action.error
    assert action.old_configuration == "p4d.24xlarge" and action.new_configuration == ""
    assert [step for step in action.result["steps"] if not step.startswith("failed")] == [
        "stop",
        "stopped",
        "start",
        "running",
    ]
    assert moves(action)[1:] == [("planned", "running", "system"), ("running", "rolled_back", "system")]


def test_a_failure_after_the_type_changed_modifies_it_back(fleet, accounts, vision):
    """The start on the new type fails (no capacity): stop, old type, start."""
    action = planned(live(accounts), vision)

    def start(client, **params):
        if ec2_instance()["InstanceType"] == "g5.12xlarge":
            raise refused("StartInstances")
        return client.start_instances(**params)

    action = action_execute(
        action_id=action.pk,
        now=IN_WINDOW,
        client_factory=wrapping(ML_RESEARCH, "ec2", start_instances=start),
        waits=NO_WAIT,
    )

    instance = ec2_instance()
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("p4d.24xlarge", "running")
    assert action.state == Action.State.ROLLED_BACK
    assert "modify p4d.24xlarge" in action.result["steps"]


def test_a_failed_rollback_is_recorded_as_failed(fleet, accounts, vision):
    action = planned(live(accounts), vision)

    def modify(client, **params):
        raise (
            refused("ModifyInstanceAttribute", "UnauthorizedOperation")
            if params["InstanceType"]["Value"] == "p4d.24xlarge"
            else client.modify_instance_attribute(**params)
        )

    def start(client, **params):
        raise refused("StartInstances")

    action = action_execute(
        action_id=action.pk,
        now=IN_WINDOW,
        client_factory=wrapping(ML_RESEARCH, "ec2", modify_instance_attribute=modify, start_instances=start),
        waits=NO_WAIT,
    )

    assert action.state == Action.State.FAILED
    assert "rollback" in action.error and "UnauthorizedOperation" in action.error


def test_a_dry_run_account_calls_ec2_with_dry_run_and_changes_nothing(fleet, accounts, vision):
    action = planned(accounts["ml-research"], vision)  # accounts start in dry run
    calls = []

    def modify(client, **params):
        calls.append(params)
        return client.modify_instance_attribute(**params)

    action = action_execute(
        action_id=action.pk,
        now=IN_WINDOW,
        client_factory=wrapping(ML_RESEARCH, "ec2", modify_instance_attribute=modify),
        waits=NO_WAIT,
    )

    instance = ec2_instance()
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("p4d.24xlarge", "running")
    assert calls == [{"InstanceId": INSTANCE, "InstanceType": {"Value": "g5.12xlarge"}, "DryRun": True}]
    assert action.state == Action.State.SKIPPED and action.dry_run
    assert action.result["dry_run"] is True and action.result["would_succeed"] is True
    assert {answer["code"] for answer in action.result["calls"].values()} == {"DryRunOperation"}
    assert (
        action.transitions.last().reason.startswith("Dry run:") and "would succeed" in action.transitions.last().reason
    )
    assert action.old_configuration == "p4d.24xlarge" and action.new_configuration == ""


def test_a_dry_run_records_what_aws_would_refuse(fleet, accounts, vision):
    action = planned(accounts["ml-research"], vision)

    def stop(client, **params):
        raise refused("StopInstances", "UnauthorizedOperation")

    action = action_execute(
        action_id=action.pk, now=IN_WINDOW, client_factory=wrapping(ML_RESEARCH, "ec2", stop_instances=stop)
    )

    assert action.state == Action.State.SKIPPED
    assert action.result["would_succeed"] is False
    assert action.result["calls"]["StopInstances"]["code"] == "UnauthorizedOperation"
    assert "would fail: StopInstances (UnauthorizedOperation)" in action.transitions.last().reason


def never_called(service):
    pytest.fail(f"AWS ({service}) was called")


def test_outside_the_window_it_is_announced_and_nothing_runs(fleet, accounts, vision):
    action = planned(live(accounts), vision)

    action = action_execute(action_id=action.pk, now=OUTSIDE, client_factory=never_called)
    again = action_execute(action_id=action.pk, now=OUTSIDE + timedelta(minutes=5), client_factory=never_called)

    assert ec2_instance()["InstanceType"] == "p4d.24xlarge"
    assert again.state == Action.State.ANNOUNCED
    assert again.next_window_at == datetime(2025, 6, 22, 0, tzinfo=UTC)  # next Sunday 02:00 CEST
    assert moves(again)[1:] == [("planned", "announced", "system")]
    assert "Sun 02:00-04:00 Europe/Berlin" in again.transitions.last().reason


def test_a_team_without_a_window_never_runs(fleet, accounts, teams):
    action = planned(live(accounts), teams["speech"])

    action = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=never_called)

    assert action.state == Action.State.PLANNED and action.transitions.count() == 1


def test_an_action_runs_at_most_once(fleet, accounts, vision):
    action = planned(live(accounts), vision)
    action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=client_factory(ML_RESEARCH), waits=NO_WAIT)
    transitions = ActionTransition.objects.filter(action=action).count()

    again = action_execute(action_id=action.pk, now=IN_WINDOW + timedelta(minutes=5), client_factory=never_called)

    assert again.state == Action.State.DONE
    assert ActionTransition.objects.filter(action=action).count() == transitions


def test_a_running_action_is_not_started_again(fleet, accounts, vision):
    """A redelivered task, or a second worker, finds the action running and leaves it."""
    action = planned(live(accounts), vision)
    Action.objects.filter(pk=action.pk).update(state=Action.State.RUNNING)

    again = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=never_called)

    assert again.state == Action.State.RUNNING


def test_the_kill_switch_skips_real_aws_actions_without_calling_aws(fleet, accounts, vision, settings):
    settings.COSTPLANE_AWS = "aws"
    settings.COSTPLANE_ACTIONS_ENABLED = False
    action = planned(live(accounts), vision)

    action = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=never_called)

    assert action.state == Action.State.SKIPPED
    assert "COSTPLANE_ACTIONS_ENABLED" in action.transitions.last().reason
    assert ec2_instance()["InstanceType"] == "p4d.24xlarge"


def test_real_aws_with_actions_enabled_runs(fleet, accounts, vision, settings):
    settings.COSTPLANE_AWS = "aws"
    settings.COSTPLANE_ACTIONS_ENABLED = True
    action = planned(live(accounts), vision)

    action = action_execute(
        action_id=action.pk, now=IN_WINDOW, client_factory=client_factory(ML_RESEARCH), waits=NO_WAIT
    )

    assert action.state == Action.State.DONE


def test_unsupported_actions_are_skipped_with_the_reason(fleet, accounts, vision):
    action = planned(live(accounts), vision, resource_type="EbsVolume", arn="arn:aws:ec2:us-east-1:1:volume/vol-1")

    action = action_execute(action_id=action.pk, now=IN_WINDOW, client_factory=never_called)

    assert action.state == Action.State.SKIPPED and "Not executable here" in action.transitions.last().reason


# --- Due actions and tasks -------------------------------------------------------------------------------


def test_due_actions_are_those_whose_window_is_open(fleet, accounts, vision, teams):
    TeamSettings.objects.create(team=teams["speech"], maintenance_window="Mon-Fri 09:00-17:00 UTC")
    sunday = planned(live(accounts), vision)
    weekday = planned(
        accounts["ml-research"], teams["speech"], arn=f"arn:aws:ec2:{REGION}:{ML_RESEARCH}:instance/i-0556ef45241401909"
    )
    no_window = planned(
        accounts["ml-research"], teams["recsys"], arn=f"arn:aws:ec2:{REGION}:{ML_RESEARCH}:instance/i-0479c82ac239c0e0d"
    )

    assert actions_due(now=OUTSIDE) == [weekday.pk]
    sunday.refresh_from_db()
    no_window.refresh_from_db()
    assert sunday.state == Action.State.ANNOUNCED and no_window.state == Action.State.PLANNED
    assert actions_due(now=IN_WINDOW) == [sunday.pk]
    TeamSettings.objects.filter(team=teams["speech"]).update(maintenance_window="Someday 09:00-17:00 UTC")
    assert actions_due(now=OUTSIDE) == []  # an unreadable window counts as none, the others still run
    weekday = action_execute(action_id=weekday.pk, now=OUTSIDE, client_factory=never_called)
    assert weekday.state == Action.State.ANNOUNCED  # announced on Sunday, and left as it was


def test_the_tasks_route_to_the_actions_queue_and_run_every_five_minutes(fleet, accounts, vision, monkeypatch):
    assert app.amqp.router.route({}, "capacity.tasks.action_execute_task")["queue"].name == "actions"
    assert app.amqp.router.route({}, "capacity.tasks.actions_due")["queue"].name == "actions"
    assert app.amqp.router.route({}, "capacity.tasks.realised_savings_measure")["queue"].name == "compute"
    schedule = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert schedule["capacity.tasks.actions_due"].minute == set(range(0, 60, 5))
    assert "capacity.tasks.realised_savings_measure" in schedule

    action = planned(live(accounts), vision)
    queued = []
    monkeypatch.setattr(tasks.action_execute_task, "delay", queued.append)
    monkeypatch.setattr("capacity.services.actions.resize.timezone.now", lambda: IN_WINDOW)
    assert tasks.actions_due() == [action.pk]
    assert queued == [action.pk]
