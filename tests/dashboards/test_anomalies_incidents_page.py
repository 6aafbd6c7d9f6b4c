"""The Anomalies page lists a spike seen along several dimensions once, with those dimensions, as the API does."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from finops.models import CostAnomalyIncident
from finops.services.anomalies import cost_anomalies_detect
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines
from tests.finops.test_anomalies import TODAY, daily_lines


@pytest.fixture
def spiky(db):
    TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    export_lines(daily_lines(date(2026, 1, 1), TODAY - timedelta(days=1), spike_day=date(2026, 3, 28)))
    cost_anomalies_detect(today=TODAY)


def rows(page: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-anomaly="(\d+)"', page)


def test_it_lists_one_spike_once_with_every_dimension_that_saw_it(client, viewer, viewer_api, spiky):
    client.force_login(viewer)
    incident = CostAnomalyIncident.objects.get()
    page = client.get("/anomalies/").content.decode()
    assert rows(page) == [str(incident.pk)]
    seen = re.findall(r'<span class="anomaly-dimension" data-dimension="(\w+)">([^<]+)</span>', page)
    assert seen == [
        ("account", "Account 222222222222"), ("service", "Service Amazon SageMaker"), ("team", "Team vision"),
    ]  # fmt: skip
    api = viewer_api.get("/api/v1/anomalies/").json()["results"]
    assert [str(item["id"]) for item in api] == rows(page)
    assert [item["dimension"] for item in api[0]["dimensions"]] == [dimension for dimension, _ in seen]
    # Filtering by any of its dimensions still lists it once.
    assert rows(client.get("/anomalies/?dimension=team").content.decode()) == [str(incident.pk)]
    assert rows(client.get("/anomalies/?dimension=service").content.decode()) == [str(incident.pk)]

    detail = client.get(
        f"/anomalies/?anomaly={incident.pk}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="anomaly-detail"
    ).content.decode()
    title = re.search(r'<h2 id="anomaly-title">(.*?)</h2>', detail).group(1)
    assert title.startswith("Account 222222222222 · Service Amazon SageMaker · Team vision: +$790")
    assert detail.count("data-anomaly-dimension=") == 3

    # Feedback from the page goes to the whole incident.
    client.post("/anomalies/", {"anomaly": incident.pk, "feedback": "expected"})
    assert {anomaly.feedback for anomaly in incident.anomalies.all()} == {"expected"}
