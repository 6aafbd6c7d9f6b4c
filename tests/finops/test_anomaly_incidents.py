"""One spike seen along several dimensions is one incident: grouped by the detection (and, for rows stored before,
by the migration), listed once by the API, and alerted once through the notification channels."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps

from finops.anomalies import incident_groups, incident_impact
from finops.models import Alert, Channel, CostAnomaly, CostAnomalyIncident, Notification
from finops.services.anomalies import cost_anomalies_detect
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines
from tests.finops.test_anomalies import TODAY, daily_lines
from tests.webhook_receiver import webhook_receiver

SPIKE = date(2026, 3, 28)
NOW = datetime(2026, 3, 30, 6, tzinfo=UTC)


def item(day: date, impact: str, **resources: str) -> dict:
    return {
        "day": day,
        "impact": Decimal(impact),
        "resources": {name: Decimal(rise) for name, rise in resources.items()},
    }


def test_it_groups_the_anomalies_of_a_day_and_the_next_that_share_most_of_their_rise():
    day = date(2026, 3, 28)
    anomalies = [
        item(day, "790", job_runaway="700", job_a="90"),  # team vision
        item(day, "805", job_runaway="700", job_a="90", endpoint_b="15"),  # its service
        item(day, "300", notebook="300"),  # another team's spike, other resources
        item(day + timedelta(days=1), "700", job_runaway="700"),  # the job still running the next day
        item(day + timedelta(days=3), "700", job_runaway="700"),  # the same job two days after that: news again
        item(day, "100", job_a="40", other="60"),  # shares 40 of 100 with the first: under half
        item(day, "60"),  # no resources named (Cost Explorer data): alone
    ]
    groups = incident_groups(anomalies)
    assert groups == [[1, 0, 3], [2], [4], [5], [6]]
    # Its impact: each day's largest view (805 on the 28th, 700 on the 29th), never the views added.
    assert incident_impact([anomalies[position] for position in groups[0]]) == Decimal(1505)


@pytest.fixture
def spiky(db):
    TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    TeamFactory(name="NLP", slug="nlp", tag_values=["nlp"])
    export_lines(daily_lines(date(2026, 1, 1), TODAY - timedelta(days=1), spike_day=SPIKE))


def test_it_lists_one_incident_with_the_dimensions_that_saw_it(spiky, viewer_api):
    cost_anomalies_detect(today=TODAY, now=NOW)
    assert CostAnomaly.objects.count() == 3
    body = viewer_api.get("/api/v1/anomalies/").json()
    assert body["count"] == 1
    (incident,) = body["results"]
    assert incident["id"] == CostAnomalyIncident.objects.get().pk
    assert (incident["day"], incident["impact"]) == ("2026-03-28", "790.00000000000000000000")
    assert [(seen["dimension"], seen["value"]) for seen in incident["dimensions"]] == [
        ("account", "222222222222"), ("service", "Amazon SageMaker"), ("team", "vision"),
    ]  # fmt: skip
    assert {seen["impact"] for seen in incident["dimensions"]} == {"790.00000000000000000000"}
    # Filters match any dimension that saw it; the incident is still listed once.
    for dimension in ("team", "service", "account"):
        found = viewer_api.get("/api/v1/anomalies/", {"dimension": dimension}).json()["results"]
        assert [result["id"] for result in found] == [incident["id"]]
    assert viewer_api.get("/api/v1/anomalies/", {"value": "nlp"}).json()["count"] == 0
    # Feedback on the incident reaches all three.
    response = viewer_api.post(f"/api/v1/anomalies/{incident['id']}/feedback", {"feedback": "real"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["feedback"] == "real"
    assert set(CostAnomaly.objects.values_list("feedback", flat=True)) == {"real"}


def test_it_opens_one_alert_per_incident_through_the_channels_and_never_a_second(
    spiky, settings, django_capture_on_commit_callbacks
):
    settings.COSTPLANE_ANOMALY_ALERT_MIN_IMPACT = 500
    with webhook_receiver() as receiver:
        channel = Channel.objects.create(name="finops", webhook_url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            cost_anomalies_detect(today=TODAY, now=NOW)
        incident = CostAnomalyIncident.objects.get()
        alert = Alert.objects.get(kind=Alert.Kind.COST_ANOMALY)
        assert (alert.key, alert.state, alert.amount, alert.team.slug) == (
            f"incident:{incident.pk}", "open", Decimal(790), "vision",
        )  # fmt: skip
        assert alert.title == (
            "Cost anomaly: account 222222222222, service Amazon SageMaker and team vision spent 790.00 USD more "
            "than usual on 2026-03-28"
        )
        assert receiver.texts() == [f"{alert.title}: {alert.text}"]
        assert list(Notification.objects.values_list("channel", "event", "subject", "status")) == [
            (channel.pk, "alert.opened", f"alert:{alert.pk}", "sent")
        ]
        # The detection runs again (AWS revised the days, or the next morning's run): the same incident, no new alert.
        for hours in (1, 2):
            with django_capture_on_commit_callbacks(execute=True):
                cost_anomalies_detect(today=TODAY, now=NOW + timedelta(hours=hours))
        assert list(CostAnomalyIncident.objects.values_list("pk", flat=True)) == [incident.pk]
        assert Alert.objects.filter(kind=Alert.Kind.COST_ANOMALY).count() == 1
        assert len(receiver.texts()) == 1


def test_it_leaves_incidents_under_the_alert_threshold_to_the_page(spiky, settings, django_capture_on_commit_callbacks):
    settings.COSTPLANE_ANOMALY_ALERT_MIN_IMPACT = 1000
    with django_capture_on_commit_callbacks(execute=True):
        stored = cost_anomalies_detect(today=TODAY, now=NOW)
    assert stored
    assert not Alert.objects.filter(kind=Alert.Kind.COST_ANOMALY).exists()


def test_the_migration_groups_the_anomalies_stored_before_and_keeps_one_open_alert(db):
    grouping = importlib.import_module("finops.migrations.0008_cost_anomaly_incidents")
    shared = {"resources": [{"resource": "job-runaway", "actual": "700", "expected": "0", "change": "700"}]}
    team, service = (
        CostAnomaly.objects.create(
            dimension=dimension,
            value=value,
            day=SPIKE,
            expected=Decimal(30),
            actual=Decimal(impact) + 30,
            impact=Decimal(impact),
            score=50.0,
            contributors=shared,
        )  # fmt: skip
        for dimension, value, impact in (("team", "vision", "700"), ("service", "Amazon SageMaker", "705"))
    )
    alone = CostAnomaly.objects.create(
        source="aws", dimension="service", value="Amazon EC2", day=SPIKE, expected=Decimal(1), actual=Decimal(101),
        impact=Decimal(100), score=0.9, external_id="abc",
    )  # fmt: skip
    for anomaly in (team, service):
        Alert.objects.create(
            kind="cost_anomaly", key=f"anomaly:{anomaly.pk}", title="t", opened_at=NOW, last_seen_at=NOW
        )
    grouping.group_anomalies(apps, None)
    for anomaly in (team, service, alone):
        anomaly.refresh_from_db()
    assert team.incident_id == service.incident_id != alone.incident_id
    assert team.incident.impact == Decimal(705) and team.incident.lead == service
    assert list(Alert.objects.filter(state="open").values_list("key", flat=True)) == [f"incident:{team.incident_id}"]
    assert Alert.objects.filter(state="resolved").count() == 1
