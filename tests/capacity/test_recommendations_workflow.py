"""Approving, rejecting and snoozing recommendations, through the services and the API, with their audit rows."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from capacity.models import Action, ActionTransition, Recommendation, RecommendationTransition, Resource
from capacity.services.approvals import (
    RecommendationForbidden,
    RecommendationStateError,
    recommendation_approve,
    recommendation_reject,
    recommendations_wake,
)
from capacity.services.recommendations import Proposal, recommendations_announce, recommendations_store
from finops.models import Channel, Notification
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 16, 10, tzinfo=UTC)
ARN = "arn:aws:ec2:us-east-1:481516234202:instance/i-0gpu"


@pytest.fixture
def account():
    return CloudAccountFactory(account_id="481516234202", name="ml-prod")


@pytest.fixture
def vision():
    return TeamFactory(name="Vision", slug="vision", tag_values=["vision"])


@pytest.fixture
def approver(vision):
    return TeamMembershipFactory(team=vision, user=UserFactory(username="val")).user


def proposal(arn: str = ARN, savings: str = "1234.56", **fields) -> Proposal:
    return Proposal(
        **{
            "kind": Recommendation.Kind.RIGHTSIZE,
            "resource_type": "Ec2Instance",
            "resource_arn": arn,
            "finding": "Overprovisioned",
            "reason_codes": ["GPUOverprovisioned"],
            "current_configuration": "p4d.24xlarge",
            "recommended_configuration": "g5.12xlarge",
            "monthly_savings": Decimal(savings),
            "resource_ids": ("i-0gpu",),
            "tags": {"team": "vision"},
            **fields,
        }
    )


def store(account, proposals, now=NOW):
    return recommendations_store(
        source=Recommendation.Source.COMPUTE_OPTIMIZER,
        account=account,
        region="us-east-1",
        resource_types=["Ec2Instance"],
        proposals=proposals,
        now=now,
    )


@pytest.fixture
def recommendation(account, vision):
    Resource.objects.create(
        account=account, region="us-east-1", kind="ec2_instance", resource_id="i-0gpu", name="vision-trainer",
        instance_type="p4d.24xlarge", team=vision, first_seen=NOW, last_seen=NOW,
    )  # fmt: skip
    store(account, [proposal()])
    return Recommendation.objects.get()


def test_it_stores_a_recommendation_open_with_its_team_resource_and_a_creation_row(recommendation):
    assert recommendation.state == "open"
    assert recommendation.team.slug == "vision"
    assert recommendation.resource.name == "vision-trainer"
    assert recommendation.monthly_savings == Decimal("1234.56")
    assert list(recommendation.transitions.values_list("from_state", "to_state", "actor")) == [
        ("", "open", "compute_optimizer ingestion")
    ]


def test_it_refreshes_in_place_then_expires_what_stops_appearing(account, recommendation):
    counts = store(account, [proposal(savings="99")], now=NOW + timedelta(hours=1))
    assert counts["created"] == 0 and counts["updated"] == 1
    recommendation.refresh_from_db()
    assert recommendation.monthly_savings == Decimal("99")
    assert store(account, [], now=NOW + timedelta(hours=2))["expired"] == 1
    recommendation.refresh_from_db()
    assert recommendation.state == "expired"
    assert recommendation.transitions.last().reason == "No longer recommended by the source."
    # It comes back later: a new recommendation, the expired one stays as history.
    store(account, [proposal()], now=NOW + timedelta(hours=3))
    assert list(Recommendation.objects.order_by("id").values_list("state", flat=True)) == ["expired", "open"]


def test_it_keeps_a_rejected_recommendation_rejected_when_it_is_seen_again(account, recommendation, approver):
    recommendation_reject(recommendation_id=recommendation.pk, user=approver, reason="needed for a launch")
    store(account, [proposal()], now=NOW + timedelta(hours=1))
    store(account, [], now=NOW + timedelta(hours=2))
    assert list(Recommendation.objects.values_list("state", flat=True)) == ["rejected"]


def test_an_approval_plans_one_action_with_audit_rows(recommendation, approver):
    action = recommendation_approve(recommendation_id=recommendation.pk, user=approver, reason="go", now=NOW)
    assert action.state == "planned" and action.dry_run
    assert action.parameters["target"] == "g5.12xlarge"
    assert list(RecommendationTransition.objects.filter(to_state="approved").values_list("actor", "reason")) == [
        ("val", "go")
    ]
    assert ActionTransition.objects.get().to_state == "planned"
    with pytest.raises(RecommendationStateError):
        recommendation_approve(recommendation_id=recommendation.pk, user=approver)
    assert Action.objects.count() == 1


def test_approving_one_of_a_resources_alternatives_rejects_the_others_so_one_change_is_planned(
    account, recommendation, approver
):
    """Compute Optimizer's right-size and Costplane's own for the same instance are alternatives: approving one
    supersedes the other (audited), and the other can then not be approved into a second action."""
    recommendations_store(
        source=Recommendation.Source.COSTPLANE, account=account, region="us-east-1", resource_types=["Ec2Instance"],
        proposals=[proposal(recommended_configuration="g6e.12xlarge", savings="900")], now=NOW,
    )  # fmt: skip
    other = Recommendation.objects.get(source=Recommendation.Source.COSTPLANE)
    unrelated = store(account, [proposal(), proposal(arn=ARN + "-other")]) and Recommendation.objects.get(
        resource_arn=ARN + "-other"
    )
    recommendation_approve(recommendation_id=recommendation.pk, user=approver, now=NOW)
    other.refresh_from_db()
    unrelated.refresh_from_db()
    assert (other.state, unrelated.state) == ("rejected", "open")
    assert other.transitions.last().actor == "costplane"
    assert f"recommendation {recommendation.pk}" in other.transitions.last().reason
    with pytest.raises(RecommendationStateError):
        recommendation_approve(recommendation_id=other.pk, user=approver)
    assert Action.objects.filter(resource_arn=ARN).count() == 1


def test_two_racing_approvals_give_one_action(recommendation, approver, transactional_db):
    errors: list[Exception] = []
    barrier = threading.Barrier(2)

    def approve():
        from django.db import connection

        barrier.wait()
        try:
            recommendation_approve(recommendation_id=recommendation.pk, user=approver)
        except RecommendationStateError as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 1
    assert Action.objects.count() == 1


def test_an_operator_or_another_teams_approver_may_not_decide(recommendation, operator):
    speech_approver = TeamMembershipFactory(team=TeamFactory(slug="speech"), user=UserFactory(username="sam")).user
    for user in (operator, speech_approver):
        with pytest.raises(RecommendationForbidden):
            recommendation_approve(recommendation_id=recommendation.pk, user=user)
    assert not RecommendationTransition.objects.filter(to_state="approved").exists()


def test_a_snooze_ends_on_its_date(api_client, recommendation, admin_user):
    api_client.force_authenticate(admin_user)
    until = (date.today() + timedelta(days=7)).isoformat()
    response = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/snooze", {"until": until}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "snoozed" and response.json()["snoozed_until"] == until
    assert recommendations_wake(today=date.today() + timedelta(days=6)) == 0
    assert recommendations_wake(today=date.today() + timedelta(days=7)) == 1
    recommendation.refresh_from_db()
    assert recommendation.state == "open" and recommendation.snoozed_until is None


def test_the_api_lists_filters_and_approves(api_client, recommendation, approver, viewer):
    api_client.force_authenticate(viewer)
    listed = api_client.get(
        "/api/v1/recommendations/", {"state": "open", "team": "vision", "source": "compute_optimizer"}
    )
    assert listed.status_code == 200
    assert [item["resource_arn"] for item in listed.json()["results"]] == [ARN]
    assert listed.json()["results"][0]["monthly_savings"].startswith("1234.56")
    assert api_client.get("/api/v1/recommendations/", {"team": "speech"}).json()["count"] == 0
    assert api_client.post(f"/api/v1/recommendations/{recommendation.pk}/approve", {}).status_code == 403

    api_client.force_authenticate(approver)
    approved = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/approve", {"reason": "ok"}, format="json")
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved" and approved.json()["action_id"]
    again = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/approve", {}, format="json")
    assert again.status_code == 409
    assert "state" in again.json()["errors"]

    actions = api_client.get("/api/v1/actions/").json()
    assert [(item["state"], item["recommendation"]) for item in actions["results"]] == [("planned", recommendation.pk)]


def test_the_api_refuses_operators_and_bad_input(api_client, recommendation, operator, approver):
    api_client.force_authenticate(operator)
    refused = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/reject", {}, format="json")
    assert refused.status_code == 403 and "errors" in refused.json()
    api_client.force_authenticate(approver)
    bad = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/snooze", {"until": "soon"}, format="json")
    assert bad.status_code == 400 and "until" in bad.json()["errors"]
    no_reason = api_client.post(f"/api/v1/recommendations/{recommendation.pk}/reject", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    past = api_client.post(
        f"/api/v1/recommendations/{recommendation.pk}/snooze", {"until": "2020-01-01"}, format="json"
    )
    assert past.status_code == 400 and "until" in past.json()["errors"]
    assert api_client.post("/api/v1/recommendations/999999/approve", {}, format="json").status_code == 404
    recommendation.refresh_from_db()
    assert recommendation.state == "open"


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Webhook.received
    server.shutdown()
    server.server_close()


def test_it_announces_each_big_recommendation_once_to_the_team_webhook(account, vision, webhook):
    url, received = webhook
    channel = Channel.objects.create(team=vision, name="vision-slack", webhook_url=url, min_amount=Decimal("100"))
    counts = store(account, [proposal(), proposal(arn=ARN + "-small", savings="5", resource_ids=())])
    assert recommendations_announce(recommendation_ids=counts["created_ids"], now=NOW) == 1
    assert recommendations_announce(now=NOW) == 0  # already announced
    assert len(received) == 1
    assert "p4d.24xlarge → g5.12xlarge" in received[0]["text"] and "$1,234.56" in received[0]["text"]
    assert received[0]["blocks"][0]["type"] == "section"
    notification = Notification.objects.get()
    assert (notification.channel, notification.status, notification.response_status) == (channel, "sent", 200)
    assert (notification.event, notification.subject) == (
        "recommendation.new",
        f"recommendation:{counts['created_ids'][0]}",
    )


def test_it_emails_the_team_when_its_channel_has_an_address(account, vision):
    Channel.objects.create(team=vision, name="vision-mail", email="vision@example.com", min_amount=Decimal("100"))
    Channel.objects.create(team=None, name="finops-mail", email="finops@example.com", events=["alert.opened"])
    store(account, [proposal()])
    assert recommendations_announce(now=NOW) == 1
    assert recommendations_announce(now=NOW) == 0
    assert [message.to for message in mail.outbox] == [["vision@example.com"]]
    assert "p4d.24xlarge → g5.12xlarge" in mail.outbox[0].body
    assert mail.outbox[0].subject.startswith("[Costplane] Recommendation #")


def test_it_records_a_failed_announcement_and_retries_it(account, vision):
    Channel.objects.create(team=vision, name="closed", webhook_url="http://127.0.0.1:9/closed")
    store(account, [proposal()])
    assert recommendations_announce(now=NOW) == 0
    failed = Notification.objects.get()
    assert failed.status == "failed" and failed.error
    recommendations_announce(now=NOW)
    failed.refresh_from_db()
    assert (Notification.objects.count(), failed.status, failed.attempts) == (1, "failed", 2)


def test_the_list_puts_the_biggest_savings_first_and_unknown_savings_last(api_client, account, viewer):
    store(account, [proposal(arn=ARN + "-a", savings="10"), proposal(arn=ARN + "-b", monthly_savings=None)])
    store(account, [proposal(arn=ARN + "-c", savings="500")], now=NOW)  # another pass of the same scope
    recommendations_store(
        source=Recommendation.Source.COSTPLANE, account=account, region="us-east-1",
        resource_types=["Ec2Instance"], proposals=[proposal(arn=ARN + "-d", savings="20")], now=NOW,
    )  # fmt: skip
    api_client.force_authenticate(viewer)
    items = api_client.get("/api/v1/recommendations/", {"state": "open"}).json()["results"]
    assert [item["resource_arn"][-2:] for item in items] == ["-c", "-d"]
    everything = api_client.get("/api/v1/recommendations/", {"limit": 10}).json()["results"]
    assert [item["resource_arn"][-2:] for item in everything] == ["-c", "-d", "-a", "-b"]


def test_the_schedule_runs_registered_recommendation_tasks_on_the_right_queues():
    from capacity import tasks
    from config.celery import app
    from config.schedules import BEAT_SCHEDULE

    scheduled = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    for name in ("compute_optimizer_ingest_all", "gpu_rightsizing_compute", "recommendations_snoozes_end"):
        assert f"capacity.tasks.{name}" in scheduled
        assert getattr(tasks, name).name in app.tasks
    assert app.amqp.router.route({}, "capacity.tasks.compute_optimizer_ingest")["queue"].name == "ingest"
