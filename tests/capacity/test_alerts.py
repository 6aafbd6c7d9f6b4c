from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from capacity.models import Action, Recommendation, ServiceQuota
from capacity.services.alerts import action_failed_alert_specs, alerts_evaluate, quota_headroom_alert_specs
from capacity.tasks import alerts_evaluate as alerts_evaluate_task
from finops.models import Alert, Channel, IngestionRun, Notification
from tests.factories import CloudAccountFactory, TeamFactory
from tests.webhook_receiver import webhook_receiver

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/ranker"


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def account(db):
    account = CloudAccountFactory(account_id="111111111111", name="ml-prod")
    # Fresh billing, so only the alerts a test builds show up.
    IngestionRun.objects.create(account=account, source="cost_explorer", status="succeeded", finished_at=NOW)
    return account


def make_action(account, team=None, *, state: str, at: datetime = NOW, arn: str = ARN, **fields) -> Action:
    recommendation = Recommendation.objects.create(
        source="costplane",
        kind="rightsize",
        state="approved",
        account=account,
        region="us-east-1",
        resource_type="SageMakerEndpoint",
        resource_arn=f"{arn}#{Recommendation.objects.count()}",
        team=team,
        first_seen=at,
        last_seen=at,
    )
    return Action.objects.create(
        recommendation=recommendation,
        kind="rightsize",
        state=state,
        account=account,
        region="us-east-1",
        resource_type="SageMakerEndpoint",
        resource_arn=arn,
        team=team,
        created_at=at,
        **fields,
    )


def make_quota(account, *, value: str, usage: str | None, code: str = "L-417A185B") -> ServiceQuota:
    return ServiceQuota.objects.create(
        account=account,
        region="us-east-1",
        service_code="ec2",
        quota_code=code,
        name="Running On-Demand P instances",
        value=Decimal(value),
        unit="None",
        usage=None if usage is None else Decimal(usage),
        adjustable=True,
        fetched_at=NOW,
    )


@pytest.mark.django_db
def test_it_alerts_a_failed_action_to_its_team_once_and_resolves_when_a_later_action_succeeds(account, receiver):
    team = TeamFactory(name="Ranking")
    Channel.objects.create(team=team, name="ranking", webhook_url=receiver.url)
    failed = make_action(
        account, team, state="failed", old_configuration="ml.g5.2xlarge", error="UpdateEndpoint: ResourceLimitExceeded"
    )

    for minutes in (0, 15, 30):
        alerts_evaluate(now=NOW + timedelta(minutes=minutes))

    alert = Alert.objects.get(kind="action_failed")
    assert (alert.key, alert.team, alert.state) == (f"action:{failed.pk}", team, "open")
    assert alert.title.startswith(f"Action #{failed.pk} failed")
    assert receiver.texts() == [f"{alert.title}: UpdateEndpoint: ResourceLimitExceeded"]

    make_action(account, team, state="done", at=NOW + timedelta(days=1))
    alerts_evaluate(now=NOW + timedelta(days=1, minutes=15))

    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert len(receiver.received) == 2 and receiver.texts()[1].startswith("Resolved: ")


@pytest.mark.django_db
def test_it_resolves_a_rolled_back_action_once_acknowledged_and_never_reopens_it(
    account, receiver, api_client, operator
):
    Channel.objects.create(team=None, name="ops", webhook_url=receiver.url)
    make_action(account, state="rolled_back", error="InService check timed out; rolled back to ml.g5.2xlarge")
    alerts_evaluate(now=NOW)
    alert = Alert.objects.get(kind="action_failed")

    api_client.force_authenticate(operator)
    response = api_client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "otto"
    alerts_evaluate(now=NOW + timedelta(minutes=15))
    alerts_evaluate(now=NOW + timedelta(minutes=30))

    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert Alert.objects.filter(kind="action_failed").count() == 1
    assert [body["text"].split(":")[0] for body in receiver.received] == [
        alert.title.split(":")[0],
        "Resolved",
    ]


@pytest.mark.django_db
def test_it_lets_only_operators_and_the_teams_approvers_acknowledge(account, api_client, viewer):
    make_action(account, state="failed")
    alerts_evaluate(now=NOW)
    alert = Alert.objects.get(kind="action_failed")
    api_client.force_authenticate(viewer)
    assert api_client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.django_db
def test_it_reports_quotas_with_less_headroom_than_the_threshold(account, settings):
    settings.COSTPLANE_ALERT_QUOTA_HEADROOM_PERCENT = 10
    make_quota(account, value="192", usage="184", code="L-417A185B")  # 4.2% left
    make_quota(account, value="96", usage="80", code="L-DB2E81BA")  # 16.7% left
    make_quota(account, value="64", usage=None, code="L-1945791B")  # usage unknown: never guessed
    make_quota(account, value="8", usage="8", code="L-FULL")
    make_quota(account, value="64", usage="292", code="L-OVER")  # running past the quota: said plainly

    specs = quota_headroom_alert_specs(now=NOW)

    assert [(spec.key, spec.severity) for spec in specs] == [
        ("quota:111111111111:us-east-1:ec2:L-417A185B", "warning"),
        ("quota:111111111111:us-east-1:ec2:L-FULL", "critical"),
        ("quota:111111111111:us-east-1:ec2:L-OVER", "critical"),
    ]
    assert specs[0].title == "Running On-Demand P instances: 4.2% left in us-east-1"
    assert specs[1].title == "Running On-Demand P instances: 0.0% left in us-east-1"
    assert specs[2].title == "Running On-Demand P instances: over the quota in us-east-1"
    assert "uses 292 of 64" in specs[2].text
    assert "uses 184 of 192 (alerting under 10% left)" in specs[0].text


@pytest.mark.django_db
def test_it_resolves_a_quota_alert_when_headroom_returns_and_emails_the_global_channel(account):
    Channel.objects.create(team=None, name="capacity", email="capacity@example.com", events=["alert.opened"])
    quota = make_quota(account, value="192", usage="190")
    alerts_evaluate(now=NOW)
    quota.usage = Decimal("96")
    quota.save()
    result = alerts_evaluate(now=NOW + timedelta(minutes=15))

    assert len(result["quota_headroom"]["resolved"]) == 1
    assert [message.subject for message in mail.outbox] == [
        "[Costplane] Running On-Demand P instances: 1.0% left in us-east-1"
    ]  # the channel asked for openings only
    assert Notification.objects.get().event == "alert.opened"


@pytest.mark.django_db
def test_it_runs_every_source_from_the_task(account, settings):
    settings.COSTPLANE_ALERT_STALE_INGESTION_HOURS = 36
    IngestionRun.objects.all().delete()
    from finops.models import CloudAccount

    CloudAccount.objects.filter(pk=account.pk).update(created_at=NOW - timedelta(days=3))
    make_action(account, state="failed")
    make_quota(account, value="10", usage="10")

    alerts_evaluate_task.apply()

    assert set(Alert.objects.filter(state="open").values_list("kind", flat=True)) >= {
        "stale_ingestion",
        "action_failed",
        "quota_headroom",
    }


@pytest.mark.django_db
def test_it_lists_failed_actions_with_their_error_and_skips_acknowledged_ones(account):
    first = make_action(account, state="failed", error="boom")
    second = make_action(account, state="rolled_back", arn=ARN + "-b")
    Alert.objects.create(
        kind="action_failed",
        key=f"action:{second.pk}",
        title="t",
        opened_at=NOW,
        last_seen_at=NOW,
        acknowledged_at=NOW,
    )
    assert [spec.key for spec in action_failed_alert_specs(now=NOW)] == [f"action:{first.pk}"]


@pytest.mark.django_db
def test_it_syncs_the_other_sources_when_one_fails_and_then_fails_the_run(account):
    from capacity.services.alerts import AlertSourcesFailed
    from finops.models import AllocationRulesVersion

    # Rules the parser refuses (stored before validation existed, say): the unallocated source cannot read them.
    AllocationRulesVersion.objects.create(
        number=1, document={"shared_costs": [{"key": "team", "match": {"service": ["Support"]}}]}
    )
    make_quota(account, value="10", usage="10")

    with pytest.raises(AlertSourcesFailed, match="unallocated_share"):
        alerts_evaluate(now=NOW)

    assert list(Alert.objects.values_list("kind", flat=True)) == ["quota_headroom"]


@pytest.mark.django_db
def test_it_evaluates_alerts_from_the_command_line(account):
    from io import StringIO

    from django.core.management import call_command

    make_quota(account, value="10", usage="10")
    out = StringIO()
    call_command("evaluate_alerts", stdout=out)
    alert = Alert.objects.get(kind="quota_headroom")
    assert f"quota_headroom: opened [{alert.pk}], resolved -" in out.getvalue()


def test_it_schedules_evaluation_and_retries_on_the_compute_queue():
    from config.celery import app
    from config.schedules import BEAT_SCHEDULE

    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"capacity.tasks.alerts_evaluate", "finops.tasks.notifications_retry"} <= tasks
    router = app.amqp.router
    assert router.route({}, "capacity.tasks.alerts_evaluate")["queue"].name == "compute"
    assert router.route({}, "finops.tasks.notifications_retry")["queue"].name == "compute"
