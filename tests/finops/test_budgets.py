from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from finops.budgets import FORECAST, RUN_RATE, period_bounds, spend_forecast
from finops.models import Alert, Budget, BudgetCrossing
from finops.selectors.budgets import budget_status
from finops.services.alerts import alerts_sync
from finops.services.budgets import budget_alert_specs, budget_create, budget_update
from tests.factories import TeamFactory
from tests.finops.cost_lines import cost_explorer_cells, export_lines

NOW = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)  # a Friday; March's complete days are the 1st to the 19th
OTHER = "333333333333"


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)]


@pytest.fixture
def spend(db):
    """February and March 2026: two teams' SageMaker lines, untagged EC2, another account, and Cost Explorer only
    for days the other account has no export data."""
    lines = []
    for day in days(date(2026, 2, 1), date(2026, 3, 20)):
        lines += [
            {"day": day, "cost": "10.00000000000000000001", "tags": {"team": "vision"}, "usage_type": "Train"},
            {"day": day, "cost": "5.12345678901234567891", "tags": {"team": "nlp", "env": "prod"}},
            {"day": day, "cost": "2.5", "service": "Amazon Elastic Compute Cloud", "tags": {"env": "prod"}},
            {"day": day, "cost": "1.25", "account": OTHER, "tags": {"team": "vision-gpu"}},
        ]
    export_lines(lines)
    # March 1-5 of the other account: only Cost Explorer knows (and its export is missing these days).
    cost_explorer_cells(
        [
            {"day": day, "cost": "7.00000000000000000003", "account": "444444444444"}
            for day in days(date(2026, 3, 1), date(2026, 3, 6))
        ]
    )
    return TeamFactory(name="Vision", slug="vision", tag_values=["vision", "vision-gpu"])


def report_total(api, **params) -> Decimal:
    response = api.get("/api/v1/costs", {"window": "2026-03-01,2026-03-20", **params})
    assert response.status_code == 200, response.content
    return Decimal(response.json()["total"])


def report_items(api, **params) -> dict[str, Decimal]:
    response = api.get("/api/v1/costs", {"window": "2026-03-01,2026-03-20", **params})
    assert response.status_code == 200, response.content
    return {tuple(item["key"].values())[0]: Decimal(item["cost"]) for item in response.json()["items"]}


def test_it_reports_the_same_actual_as_the_reports_api_to_the_last_digit(spend, viewer_api):
    everything = budget_create(name="All", amount=Decimal("100000"))
    one_service = budget_create(
        name="EC2", amount=Decimal("100"), account_id="222222222222", service="Amazon Elastic Compute Cloud"
    )
    team = budget_create(name="Vision", amount=Decimal("500"), team=spend)
    tagged = budget_create(
        name="Prod SageMaker", amount=Decimal("500"), tag_key="env", tag_value="prod", service="Amazon SageMaker"
    )
    effective = budget_create(name="All effective", amount=Decimal("100000"), cost_basis="effective")

    assert budget_status(budget=everything, today=NOW.date()).actual == report_total(viewer_api)
    assert budget_status(budget=effective, today=NOW.date()).actual == report_total(viewer_api, cost_basis="effective")
    assert (
        budget_status(budget=one_service, today=NOW.date()).actual
        == report_total(viewer_api, account="222222222222", service="Amazon Elastic Compute Cloud")
        == Decimal("47.5")
    )
    by_team = report_items(viewer_api, aggregate="tag:team")
    vision = budget_status(budget=team, today=NOW.date()).actual
    assert vision == by_team["vision"] + by_team["vision-gpu"]
    assert vision == Decimal("19") * (Decimal("10.00000000000000000001") + Decimal("1.25"))
    prod = report_items(viewer_api, aggregate="tag:env", service="Amazon SageMaker")["prod"]
    assert budget_status(budget=tagged, today=NOW.date()).actual == prod == 19 * Decimal("5.12345678901234567891")
    # Cost Explorer's days count where no export exists, as in the report.
    assert report_total(viewer_api) - report_total(viewer_api, account=["222222222222", OTHER]) == 5 * Decimal(
        "7.00000000000000000003"
    )


def test_it_names_the_forecast_method(spend):
    long_history = budget_create(name="Vision", amount=Decimal("500"), team=spend)
    status = budget_status(budget=long_history, today=NOW.date())
    assert status.method == FORECAST  # 47 days of history
    assert status.forecast > status.actual
    # Vision spends 11.25 a day, every day: the forecast of the 12 days left (20th to 31st) is about 12 × 11.25.
    assert abs(status.forecast - status.actual - Decimal("135")) < Decimal("1")

    short = budget_status(budget=long_history, today=date(2026, 2, 20))
    assert short.method == RUN_RATE  # 19 days of history
    assert short.forecast == short.actual + 9 * Decimal("11.25")


def test_it_forecasts_by_run_rate_and_holt_winters_without_the_database():
    flat = pd.Series({day: Decimal("10") for day in days(date(2026, 1, 1), date(2026, 1, 11))})
    result = spend_forecast(flat, today=date(2026, 1, 11), period_start=date(2026, 1, 1), period_end=date(2026, 2, 1))
    assert (result.method, result.total) == (RUN_RATE, Decimal("210.00"))
    weekly = pd.Series(
        {day: Decimal(100 if day.weekday() < 5 else 10) for day in days(date(2026, 1, 1), date(2026, 3, 1))}
    )
    result = spend_forecast(weekly, today=date(2026, 3, 1), period_start=date(2026, 3, 1), period_end=date(2026, 4, 1))
    assert result.method == FORECAST
    assert abs(result.total - Decimal(22 * 100 + 9 * 10)) < Decimal("5")
    assert period_bounds("quarter", date(2026, 11, 28)) == (date(2026, 10, 1), date(2027, 1, 1))
    assert period_bounds("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))


def test_it_records_one_crossing_per_threshold_per_period_and_keeps_its_alert_current(spend):
    thresholds = [{"percent": 50, "kind": "actual"}, {"percent": 90, "kind": "forecast"}, {"percent": 100}]
    budget = budget_create(name="Vision", amount=Decimal("300"), team=spend, thresholds=thresholds)
    # 19 days × 11.25 = 213.75: 71% of 300 actual; about 348.75 forecast (116%).
    first = budget_alert_specs(now=NOW)
    again = budget_alert_specs(now=NOW + timedelta(hours=1))
    half = budget.thresholds.get(percent=50)
    ninety = budget.thresholds.get(percent=90)
    assert [spec.key for spec in first["budget_actual"]] == [f"budget:{budget.pk}:{half.pk}:2026-03-01"]
    assert [spec.key for spec in first["budget_forecast"]] == [f"budget:{budget.pk}:{ninety.pk}:2026-03-01"]
    assert first == again
    assert BudgetCrossing.objects.count() == 2
    assert first["budget_forecast"][0].details["method"] == "forecast"
    assert first["budget_actual"][0].team == spend

    opened = alerts_sync(kind="budget_actual", current=first["budget_actual"], now=NOW)["opened"]
    assert alerts_sync(kind="budget_actual", current=again["budget_actual"], now=NOW)["opened"] == []
    assert Alert.objects.filter(kind="budget_actual").count() == 1
    assert Alert.objects.get(pk=opened[0]).state == Alert.State.OPEN


def test_it_clears_the_spec_when_the_period_ends(spend):
    budget = budget_create(name="Vision", amount=Decimal("100"), team=spend, thresholds=[{"percent": 80}])
    specs = budget_alert_specs(now=datetime(2026, 2, 27, 8, tzinfo=UTC))["budget_actual"]
    assert [spec.key for spec in specs] == [f"budget:{budget.pk}:{budget.thresholds.get().pk}:2026-02-01"]
    alerts_sync(kind="budget_actual", current=specs, now=datetime(2026, 2, 27, 8, tzinfo=UTC))
    # March 1st: no complete day of March yet, nothing crossed; February's alert resolves.
    march = budget_alert_specs(now=datetime(2026, 3, 1, 8, tzinfo=UTC))["budget_actual"]
    assert march == []
    resolved = alerts_sync(kind="budget_actual", current=march, now=datetime(2026, 3, 1, 8, tzinfo=UTC))["resolved"]
    assert len(resolved) == 1
    assert Alert.objects.get(pk=resolved[0]).key.endswith(":2026-02-01")
    # March 10th: 9 days × 11.25 = 101.25 ≥ 80: the same threshold notifies again, once, for March.
    tenth = budget_alert_specs(now=datetime(2026, 3, 10, 8, tzinfo=UTC))["budget_actual"]
    assert [spec.key for spec in tenth] == [f"budget:{budget.pk}:{budget.thresholds.get().pk}:2026-03-01"]
    assert BudgetCrossing.objects.count() == 2


def test_it_clears_a_crossing_when_the_budget_is_raised_above_the_spend(spend):
    budget = budget_create(name="Vision", amount=Decimal("200"), team=spend, thresholds=[{"percent": 100}])
    assert len(budget_alert_specs(now=NOW)["budget_actual"]) == 1
    budget_update(budget=budget, amount=Decimal("150"), now=NOW)  # still under the spend: stays
    assert len(budget_alert_specs(now=NOW)["budget_actual"]) == 1
    budget_update(budget=budget, amount=Decimal("1000"), now=NOW)
    assert budget_alert_specs(now=NOW)["budget_actual"] == []
    assert not BudgetCrossing.objects.exists()


def test_it_rejects_a_tag_value_without_a_key(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        budget_create(name="Odd", amount=Decimal("1"), tag_value="prod")
    assert not Budget.objects.exists()


def test_it_notifies_the_teams_webhook_once_per_crossing_per_period_and_resolves_at_period_end(spend):
    from capacity.services.alerts import alerts_evaluate
    from finops.models import Channel
    from tests.webhook_receiver import webhook_receiver

    budget_create(name="Vision", amount=Decimal("100"), team=spend, thresholds=[{"percent": 80}])
    with webhook_receiver() as receiver:
        Channel.objects.create(team=spend, name="vision", webhook_url=receiver.url)
        for hour in range(3):  # the evaluator runs every 15 minutes; three runs in February
            alerts_evaluate(now=datetime(2026, 2, 27, 8 + hour, tzinfo=UTC))
        opened = [text for text in receiver.texts() if text.startswith("Budget Vision")]
        assert len(opened) == 1
        assert opened[0].startswith("Budget Vision: actual spend reached 80% of 100.00 USD")
        alerts_evaluate(now=datetime(2026, 3, 1, 8, tzinfo=UTC))
        budget_texts = [text for text in receiver.texts() if "Budget Vision" in text]
        assert len(budget_texts) == 2
        assert budget_texts[1].startswith("Resolved: Budget Vision: actual spend reached 80%")
