"""The Budgets page's spend forecast in a browser, over the sandbox account's billing and its GetCostForecast."""

from __future__ import annotations

from datetime import date

import pytest

from capacity.services.spend_forecast import spend_forecasts_refresh
from finops.models import CloudAccount
from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID
from tests.e2e.browser import assert_charts_drawn
from tests.e2e.test_overview import sandbox_billing  # noqa: F401 (a fixture)


@pytest.mark.e2e
@pytest.mark.clock("2026-11-18T10:00:00Z")
@pytest.mark.django_db(transaction=True)
def test_it_shows_our_spend_forecast_beside_aws_on_the_budgets_page(sandbox_billing, signed_in_page, live_server):  # noqa: F811
    # The import's accounts have no payer in Costplane; the export lines' billing account is the management account.
    CloudAccount.objects.get_or_create(account_id=MANAGEMENT_ACCOUNT_ID, defaults={"name": "management"})
    (total,) = [row for row in spend_forecasts_refresh(today=date.today()) if row.key == ""]
    assert total.aws_forecast is not None, total.scores.get("aws_forecast_unavailable")

    page = signed_in_page
    page.goto(f"{live_server.url}/budgets/")
    page.wait_for_load_state("networkidle")
    assert_charts_drawn(page, at_least=1)
    names = page.evaluate(
        "Array.from(document.querySelector('#spend-forecast .js-plotly-plot').data, trace => trace.name)"
    )
    assert "Costplane forecast" in names and "AWS forecast" in names
    rows = page.locator("#spend-forecast-table tbody tr")
    assert rows.count() == 7
    assert rows.first.get_attribute("data-month") == "2026-11"
    assert rows.first.locator(".spend-mean").get_attribute("data-exact") == total.points[0]["mean"].rstrip("0").rstrip(
        "."
    )
