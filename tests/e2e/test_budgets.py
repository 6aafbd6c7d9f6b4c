"""The Budgets page in a browser, over the sandbox account's billing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboards.templatetags.costplane import money
from finops.models import Team
from finops.selectors.budgets import budget_status
from finops.services.budgets import budget_alert_specs, budget_create
from tests.e2e.browser import assert_charts_drawn
from tests.e2e.test_overview import sandbox_billing  # noqa: F401 (a fixture)


# Mid-month and mid-quarter: on the first day of a month the monthly budget has no complete day of spend yet.
@pytest.mark.e2e
@pytest.mark.clock("2026-11-18T10:00:00Z")
@pytest.mark.django_db(transaction=True)
def test_it_shows_each_budgets_actual_forecast_and_burn_down(sandbox_billing, signed_in_page, live_server, tmp_path):  # noqa: F811
    team = Team.objects.create(name="Vision", slug="vision", tag_values=["vision"])
    everything = budget_create(name="All spend", amount=Decimal("1000000"), thresholds=[{"percent": 80}])
    vision = budget_create(
        name="Vision", amount=Decimal("1"), team=team, period="quarter",
        thresholds=[{"percent": 50, "kind": "actual"}, {"percent": 100, "kind": "forecast"}],
    )  # fmt: skip
    budget_alert_specs(now=timezone.now())
    today = date.today()
    expected = {budget.pk: budget_status(budget=budget, today=today) for budget in (everything, vision)}
    assert expected[everything.pk].actual > 0

    page = signed_in_page
    page.goto(f"{live_server.url}/budgets/")
    page.wait_for_load_state("networkidle")
    assert_charts_drawn(page, at_least=2)
    page.screenshot(path=str(tmp_path / "budgets.png"), full_page=True)
    assert page.locator("nav.mainnav a.active").inner_text() == "Budgets"
    for budget in (everything, vision):
        row = page.locator(f'#budgets-table tr[data-budget="{budget.pk}"]')
        status = expected[budget.pk]
        assert row.locator(".budget-actual").inner_text() == money(status.actual)
        assert row.locator(".budget-actual").get_attribute("data-exact") == format(status.actual.normalize(), "f")
        assert money(status.forecast) in row.locator(".budget-forecast").inner_text()
        method = "run rate" if status.method == "run_rate" else "forecast"
        assert row.locator(".budget-method").inner_text() == f"({method})"
        names = page.evaluate(
            f"Array.from(document.querySelector('#budget-{budget.pk} .js-plotly-plot').data, trace => trace.name)"
        )
        assert names == ["Actual", "Forecast", "Budget"] or (
            names == ["Actual", "Budget"] and status.forecast_daily.empty
        )
    assert page.locator(f'#budgets-table tr[data-budget="{everything.pk}"] .budget-crossed').inner_text() == "none"
    crossed = page.locator(f'#budgets-table tr[data-budget="{vision.pk}"] .budget-crossed').inner_text()
    assert "100% forecast" in crossed  # a 1 USD budget: the forecast is past it from the period's first day
    assert ("50% actual" in crossed) == (expected[vision.pk].actual >= Decimal("0.5"))
