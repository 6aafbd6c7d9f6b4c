from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finops.models import CostAnomaly, CostAnomalyIncident
from tests.factories import UserFactory


def alone(anomaly: CostAnomaly) -> CostAnomalyIncident:
    """The anomaly as an incident of its own, as the detection stores one that no other dimension saw."""
    anomaly.incident = CostAnomalyIncident.objects.create(
        source=anomaly.source, day=anomaly.day, end_day=anomaly.end_day, impact=anomaly.impact
    )
    anomaly.save(update_fields=["incident"])
    return anomaly.incident


@pytest.fixture
def anomalies(db):
    ours = CostAnomaly.objects.create(
        dimension="service",
        value="Amazon SageMaker",
        day=date(2026, 3, 28),
        expected=Decimal("30"),
        actual=Decimal("820.5"),
        impact=Decimal("790.5"),
        score=52.7,
        contributors={
            "usage_types": [{"usage_type": "Train:ml.p5", "actual": "700", "expected": "0", "change": "700"}]
        },
    )
    theirs = CostAnomaly.objects.create(
        source="aws", dimension="service", value="Amazon SageMaker", day=date(2026, 3, 27), expected=Decimal("10"),
        actual=Decimal("110"), impact=Decimal("100"), score=0.8, external_id="abc",
    )  # fmt: skip
    older = CostAnomaly.objects.create(
        dimension="team", value="vision", day=date(2026, 2, 1), expected=Decimal("1"), actual=Decimal("61"),
        impact=Decimal("60"), score=9.0,
    )  # fmt: skip
    return alone(ours), alone(theirs), alone(older)


def test_it_lists_ours_and_aws_anomalies_newest_first_with_filters(viewer_api, anomalies):
    ours, theirs, older = anomalies
    body = viewer_api.get("/api/v1/anomalies/").json()
    assert [item["id"] for item in body["results"]] == [ours.pk, theirs.pk, older.pk]
    assert body["results"][0]["impact"] == "790.50000000000000000000"
    assert body["results"][0]["contributors"]["usage_types"][0]["usage_type"] == "Train:ml.p5"
    assert [i["id"] for i in viewer_api.get("/api/v1/anomalies/", {"source": "aws"}).json()["results"]] == [theirs.pk]
    assert [i["id"] for i in viewer_api.get("/api/v1/anomalies/", {"dimension": "team"}).json()["results"]] == [
        older.pk
    ]
    window = viewer_api.get("/api/v1/anomalies/", {"day_from": "2026-03-01", "min_impact": "200"}).json()
    assert [item["id"] for item in window["results"]] == [ours.pk]
    assert viewer_api.get("/api/v1/anomalies/", {"day_from": "yesterday"}).status_code == 400


def test_it_records_feedback_from_any_viewer_with_who_and_when(viewer_api, viewer, anomalies):
    ours = anomalies[0]
    response = viewer_api.post(f"/api/v1/anomalies/{ours.pk}/feedback", {"feedback": "expected"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["feedback"] == "expected"
    assert response.json()["feedback_by"] == "vera"
    anomaly = ours.anomalies.get()
    assert (anomaly.feedback, anomaly.feedback_by, anomaly.feedback_at is not None) == ("expected", viewer, True)
    given = viewer_api.get("/api/v1/anomalies/", {"has_feedback": "true"}).json()["results"]
    assert [item["id"] for item in given] == [ours.pk]
    waiting = viewer_api.get("/api/v1/anomalies/", {"has_feedback": "false"}).json()["results"]
    assert ours.pk not in [item["id"] for item in waiting] and len(waiting) == 2
    bad = viewer_api.post(f"/api/v1/anomalies/{ours.pk}/feedback", {"feedback": "meh"}, format="json")
    assert bad.status_code == 400 and "feedback" in bad.json()["errors"]
    assert viewer_api.post("/api/v1/anomalies/999999/feedback", {"feedback": "real"}, format="json").status_code == 404


def test_it_refuses_feedback_from_users_without_a_role(api_client, anomalies):
    api_client.force_authenticate(UserFactory(username="nemo"))
    response = api_client.post(f"/api/v1/anomalies/{anomalies[0].pk}/feedback", {"feedback": "real"}, format="json")
    assert response.status_code == 403
    assert api_client.get("/api/v1/anomalies/").status_code == 403
    assert anomalies[0].anomalies.get().feedback == ""
