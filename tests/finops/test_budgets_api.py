from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import Budget
from finops.services.budgets import budget_create
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines


@pytest.fixture
def operator_api(api_client, operator):
    api_client.force_authenticate(operator)
    return api_client


@pytest.fixture
def recent_spend(db):
    today = date.today()
    export_lines([{"day": today - timedelta(days=n), "cost": "40.5", "tags": {"team": "vision"}} for n in range(1, 41)])
    return TeamFactory(name="Vision", slug="vision", tag_values=["vision"])


def test_it_lets_an_operator_create_edit_and_delete_a_budget(operator_api, recent_spend):
    created = operator_api.post(
        "/api/v1/budgets/",
        {
            "name": "Vision monthly",
            "team": "vision",
            "period": "month",
            "amount": "1000",
            "thresholds": [{"percent": "80", "kind": "actual"}, {"percent": "100", "kind": "forecast"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["team"] == "vision"
    assert body["cost_basis"] == "billed"
    assert {(item["percent"], item["kind"]) for item in body["thresholds"]} == {
        ("80.00", "actual"),
        ("100.00", "forecast"),
    }
    status = body["status"]
    today = date.today()
    assert status["period_start"] == today.replace(day=1).isoformat()
    assert Decimal(status["actual"]) == Decimal("40.5") * (today.day - 1)
    assert status["method"] == "forecast"
    assert Decimal(status["forecast"]) >= Decimal(status["actual"])

    edited = operator_api.patch(f"/api/v1/budgets/{body['id']}/", {"amount": "2500.50"}, format="json")
    assert edited.status_code == 200, edited.content
    assert Decimal(edited.json()["amount"]) == Decimal("2500.50")
    assert len(edited.json()["thresholds"]) == 2

    assert operator_api.delete(f"/api/v1/budgets/{body['id']}/").status_code == 204
    assert not Budget.objects.exists()


def test_it_lets_a_viewer_read_budgets_but_not_change_them(viewer_api, recent_spend):
    budget = budget_create(name="Vision", amount=Decimal("100"), team=recent_spend, thresholds=[{"percent": 50}])
    listed = viewer_api.get("/api/v1/budgets/")
    assert listed.status_code == 200
    [item] = listed.json()["results"]
    assert item["name"] == "Vision"
    assert item["status"]["method"] in ("forecast", "run_rate")
    assert viewer_api.get(f"/api/v1/budgets/{budget.pk}/").status_code == 200
    assert viewer_api.post("/api/v1/budgets/", {"name": "x", "amount": "1"}, format="json").status_code == 403
    assert viewer_api.patch(f"/api/v1/budgets/{budget.pk}/", {"amount": "5"}, format="json").status_code == 403
    assert viewer_api.delete(f"/api/v1/budgets/{budget.pk}/").status_code == 403
    assert Budget.objects.get().amount == Decimal("100")


def test_it_answers_invalid_budgets_with_400_errors(operator_api, db):
    response = operator_api.post(
        "/api/v1/budgets/",
        {
            "name": "Bad",
            "amount": "-5",
            "period": "week",
            "currency": "EURO",
            "team": "nobody",
            "thresholds": [{"percent": "80"}, {"percent": "80"}],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"amount", "period", "currency", "team", "thresholds"} <= set(errors)
    tag = operator_api.post("/api/v1/budgets/", {"name": "Tag", "amount": "5", "tag_key": "env"}, format="json")
    assert tag.status_code == 400
    assert "tag_value" in tag.json()["errors"]
    assert not Budget.objects.exists()
