"""The Unit economics page in a browser with the sandbox's billing, fleet and invocations loaded."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from tests.dashboards.test_capacity_page import SANDBOX_CLOCK, sandbox_fleet_collect
from tests.dashboards.test_unit_economics_page import sandbox_billing_import
from tests.e2e.browser import assert_charts_drawn


@pytest.fixture
def sandbox_loaded(settings):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    sandbox_billing_import(sandbox_fleet_collect().date())


@pytest.mark.e2e
@pytest.mark.clock(SANDBOX_CLOCK)
@pytest.mark.django_db(transaction=True)
def test_it_charts_cost_per_thousand_predictions_and_switches_grouping(
    sandbox_loaded, signed_in_page, live_server, tmp_path
):
    page = signed_in_page
    page.goto(f"{live_server.url}/unit-economics/")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#training-cost-table")
    assert_charts_drawn(page, at_least=2)
    page.screenshot(path=str(tmp_path / "unit-economics.png"), full_page=True)

    bars = page.evaluate("document.querySelector('#unit-cost-chart .js-plotly-plot').data")
    assert len(bars) >= 1 and len(bars[0]["y"]) >= 1
    lines = page.evaluate("document.querySelector('#unit-daily-chart .js-plotly-plot').data.length")
    assert lines >= 1
    api = page.request.get(live_server.url + page.locator("#api-link").get_attribute("href")).json()
    expected = Decimal(api["total"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert page.locator("#unit-serving-total").inner_text() == f"${expected:,}"
    assert page.locator("#unit-cost-table tbody tr").count() == len(api["items"])

    page.select_option("#id_group", "resource")
    page.wait_for_url("**group=resource**")
    page.wait_for_load_state("networkidle")
    assert page.locator("#unit-cost-table th").first.inner_text() == "Endpoint or training job"
    assert page.locator("#unit-cost-table td:has-text('unknown')").count() >= 1, "no data shows as unknown"
    assert page.locator("#training-cost-table").count() == 1, "the report was swapped, not the page"
    assert_charts_drawn(page, at_least=1)
    page.screenshot(path=str(tmp_path / "unit-economics-endpoints.png"), full_page=True)
