from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import CostAnomaly, CostAnomalyIncident
from finops.services.budgets import budget_create
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def anomaly(db):
    export_lines(
        [{"day": date(2026, 3, 28) - timedelta(days=n), "cost": "30", "usage_type": "Train"} for n in range(30)]
    )
    incident = CostAnomalyIncident.objects.create(day=date(2026, 3, 28), impact=Decimal("790"))
    return CostAnomaly.objects.create(
        dimension="service", value="Amazon SageMaker", day=date(2026, 3, 28), expected=Decimal("30"),
        actual=Decimal("820"), impact=Decimal("790"), score=52.7, incident=incident,
        contributors={"usage_types": [{"usage_type": "Train:ml.p5", "actual": "700", "expected": "0", "change": "700"}],
                      "resources": []},
    )  # fmt: skip


def test_it_shows_an_empty_budgets_page_that_says_how_to_start(viewer_client, client, operator):
    response = viewer_client.get("/budgets/")
    assert response.status_code == 200
    assert "No budgets yet" in response.content.decode()
    assert "Operators create them on this page or with POST /api/v1/budgets." in response.content.decode()
    client.force_login(operator)
    page = client.get("/budgets/").content.decode()
    assert "Add one with the form below, or with POST /api/v1/budgets." in page and 'id="budget-add"' in page


def test_it_writes_one_day_and_several_days_in_the_same_date_format(viewer_client, anomaly):
    CostAnomaly.objects.create(
        dimension="team", value="vision", day=date(2026, 3, 20), end_day=date(2026, 3, 22), expected=Decimal("30"),
        actual=Decimal("90"), impact=Decimal("150"), score=9.1,
        incident=CostAnomalyIncident.objects.create(day=date(2026, 3, 20), end_day=date(2026, 3, 22), impact=150),
    )  # fmt: skip
    page = viewer_client.get("/anomalies/").content.decode()
    days = re.findall(r"<tr[^>]*data-anomaly[^>]*>\s*<td[^>]*>([^<]*)</td>", page)
    assert days == ["March 28, 2026", "March 20, 2026 – March 22, 2026"], "not 2026-03-20 – 2026-03-22"


def test_it_lists_a_budget_with_its_actual_and_method(viewer_client):
    team = TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    today = date.today()
    export_lines([{"day": today - timedelta(days=n), "cost": "10", "tags": {"team": "vision"}} for n in range(1, 8)])
    budget_create(name="Vision monthly", amount=Decimal("1000"), team=team)
    page = viewer_client.get("/budgets/").content.decode()
    assert "Vision monthly" in page and "team Vision" in page
    actual = Decimal(10) * min(7, today.day - 1)
    assert f'data-exact="{actual.normalize():f}"' in page
    assert "(run rate)" in page


def test_it_takes_feedback_from_a_viewer_with_a_plain_form_and_with_htmx(viewer_client, viewer, anomaly):
    response = viewer_client.post("/anomalies/", {"anomaly": anomaly.incident_id, "feedback": "real"})
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert (anomaly.feedback, anomaly.feedback_by) == ("real", viewer)
    fragment = viewer_client.post(
        "/anomalies/", {"anomaly": anomaly.incident_id, "feedback": "not_anomaly"}, HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert "Saved: Not an anomaly, by vera" in body and "<html" not in body
    anomaly.refresh_from_db()
    assert anomaly.feedback == "not_anomaly"


def test_it_shows_the_detail_fragment_and_refuses_users_without_a_role(client, viewer_client, nobody, anomaly):
    detail = viewer_client.get(
        f"/anomalies/?anomaly={anomaly.incident_id}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="anomaly-detail"
    )
    assert detail.status_code == 200
    assert "Train:ml.p5" in detail.content.decode()
    assert viewer_client.get("/anomalies/?anomaly=nope").status_code == 404
    client.force_login(nobody)
    assert client.get("/anomalies/").status_code == 403
    assert client.post("/anomalies/", {"anomaly": anomaly.incident_id, "feedback": "real"}).status_code == 403
    anomaly.refresh_from_db()
    assert anomaly.feedback == ""


def test_it_lets_an_operator_add_a_budget_from_the_page(client, operator, viewer):
    from finops.models import Budget

    TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    client.force_login(operator)
    assert "Add a budget" in client.get("/budgets/").content.decode()
    response = client.post(
        "/budgets/",
        {
            "name": "Vision prod", "amount": "1200", "period": "quarter", "cost_basis": "effective",
            "team": "vision", "tag": "environment=prod", "thresholds": "50 actual, 90% forecast, 100",
        },
    )  # fmt: skip
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.team.slug, budget.tag_key, budget.tag_value, budget.period) == (
        "vision",
        "environment",
        "prod",
        "quarter",
    )
    assert sorted((t.percent, t.kind) for t in budget.thresholds.all()) == [
        (Decimal(50), "actual"), (Decimal(90), "forecast"), (Decimal(100), "actual"),
    ]  # fmt: skip
    bad = client.post("/budgets/", {"name": "Bad", "amount": "0", "period": "month", "cost_basis": "billed",
                                    "tag": "prod", "thresholds": "lots"})  # fmt: skip
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "Write the tag as KEY=VALUE." in page and "is not a threshold" in page
    assert Budget.objects.count() == 1

    client.force_login(viewer)
    assert "Add a budget" not in client.get("/budgets/").content.decode()
    refused = client.post("/budgets/", {"name": "Mine", "amount": "5", "period": "month", "cost_basis": "billed"})
    assert refused.status_code == 403
    assert Budget.objects.count() == 1
