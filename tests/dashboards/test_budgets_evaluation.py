"""A budget is evaluated when it is saved, and the Budgets page lists the same crossed thresholds as the API."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from finops.models import Budget, BudgetCrossing
from finops.services.budgets import budget_create
from tests.factories import TeamFactory
from tests.finops.cost_lines import export_lines


@pytest.fixture
def recent_spend(db):
    """40.5 USD a day for the last 40 days: any month's forecast is at least 28 × 40.5, far past a 100 USD budget."""
    today = date.today()
    export_lines([{"day": today - timedelta(days=n), "cost": "40.5", "tags": {"team": "vision"}} for n in range(1, 41)])
    return TeamFactory(name="Vision", slug="vision", tag_values=["vision"])


def crossed_on_page(client, budget: Budget) -> list[int]:
    """The threshold ids in the budget's "Thresholds crossed" cell of the Budgets page."""
    page = client.get("/budgets/").content.decode()
    row = re.search(rf'<tr data-budget="{budget.pk}">.*?</tr>', page, re.S)
    assert row is not None, page
    cell = re.search(r'<td class="budget-crossed">(.*?)</td>', row.group(0), re.S).group(1)
    return [int(pk) for pk in re.findall(r'data-threshold="(\d+)"', cell)]


def crossed_in_api(api, budget: Budget) -> tuple[list[int], dict[int, bool]]:
    body = api.get(f"/api/v1/budgets/{budget.pk}/").json()["status"]
    return body["thresholds_crossed"], {item["threshold"]: item["reached"] for item in body["thresholds"]}


def test_it_shows_the_thresholds_crossed_right_after_a_budget_is_added_on_the_page(
    client, api_client, operator, recent_spend, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    api_client.force_authenticate(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/budgets/",
            {"name": "Vision", "amount": "100", "period": "month", "cost_basis": "billed", "team": "vision",
             "thresholds": "100% forecast, 5000% forecast"},
        )  # fmt: skip
    assert response.status_code == 302
    budget = Budget.objects.get()
    reached = budget.thresholds.get(percent=100)
    far = budget.thresholds.get(percent=5000)
    # Evaluated in the same request: the crossing is recorded, not left to the next 15-minute evaluation.
    assert list(BudgetCrossing.objects.values_list("threshold", flat=True)) == [reached.pk]
    assert crossed_on_page(client, budget) == [reached.pk]
    crossed, reached_by_id = crossed_in_api(api_client, budget)
    assert crossed == [reached.pk]
    assert reached_by_id == {reached.pk: True, far.pk: False}
    page = client.get("/budgets/").content.decode()
    assert re.search(r"100% of forecast \([^)]*\), crossed \d{4}-\d\d-\d\d \d\d:\d\d UTC", page)


def test_it_records_the_crossing_when_the_api_creates_or_raises_a_budget(
    transactional_db, api_client, operator, client, recent_spend
):
    # Real commits, as in production: the evaluation runs when the service's transaction commits, before the
    # API answers, so the answer already carries the recorded crossing.
    api_client.force_authenticate(operator)
    client.force_login(operator)
    created = api_client.post(
        "/api/v1/budgets/",
        {"name": "Vision", "team": "vision", "amount": "100", "thresholds": [{"percent": "90", "kind": "forecast"}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    budget = Budget.objects.get()
    threshold = budget.thresholds.get()
    status = created.json()["status"]
    assert status["thresholds_crossed"] == [threshold.pk]
    assert status["thresholds"][0]["crossed_at"] is not None
    assert crossed_on_page(client, budget) == [threshold.pk]
    # Raised far above the forecast: the crossing goes at once, on the page and in the API alike.
    raised = api_client.patch(f"/api/v1/budgets/{budget.pk}/", {"amount": "10000000"}, format="json")
    assert raised.status_code == 200, raised.content
    assert raised.json()["status"]["thresholds_crossed"] == []
    assert not BudgetCrossing.objects.exists()
    assert crossed_on_page(client, budget) == []
    assert crossed_in_api(api_client, budget)[0] == []


def test_it_agrees_with_the_api_on_a_threshold_reached_before_any_evaluation_recorded_it(
    client, api_client, viewer, recent_spend
):
    # Saved where no commit hook runs (the test's transaction never commits): nothing recorded, still reached.
    budget = budget_create(
        name="Vision", amount=Decimal("100"), team=recent_spend, thresholds=[{"percent": 100, "kind": "forecast"}]
    )
    assert not BudgetCrossing.objects.exists()
    client.force_login(viewer)
    api_client.force_authenticate(viewer)
    threshold = budget.thresholds.get()
    assert crossed_on_page(client, budget) == [threshold.pk]
    assert crossed_in_api(api_client, budget) == ([threshold.pk], {threshold.pk: True})
