"""The Allocation page with the sandbox account's billing loaded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboards.templatetags.costplane import money
from tests.e2e.browser import assert_charts_drawn
from tests.e2e.test_overview import sandbox_billing  # noqa: F401 (a fixture)

PARAMS = "window=30d&aggregate=tag%3Ateam&step=week&cost_basis=billed"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_allocates_the_sandbox_by_team_with_a_chart_a_table_and_tag_coverage(
    sandbox_billing,  # noqa: F811
    signed_in_page,
    live_server,
    tmp_path,
):
    page = signed_in_page
    page.goto(f"{live_server.url}/allocation/")
    page.wait_for_selector("#coverage-chart .js-plotly-plot", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert_charts_drawn(page, at_least=2)
    page.screenshot(path=str(tmp_path / "allocation.png"), full_page=True)

    traces = page.evaluate("document.querySelector('#allocation-chart .js-plotly-plot').data.length")
    assert traces >= 1
    labels = page.locator("#allocation-table tbody tr td:first-child").all_inner_texts()
    assert {"vision", "speech", "recsys", "Unallocated"} <= set(labels)
    assert labels[-1] == "Unallocated"

    api = page.request.get(f"{live_server.url}/api/v1/allocations?{PARAMS}")
    assert api.status == 200
    total = Decimal(api.json()["total"])
    assert page.locator("#allocation-table tfoot td").nth(1).inner_text() == money(total)
    assert page.locator("#allocation-total").inner_text() == money(total)
    csv_link = page.locator("#download-csv").get_attribute("href")
    assert csv_link == f"/api/v1/allocations?{PARAMS}&format=csv"

    assert page.locator("#coverage-summary").inner_text().endswith("does not.")
    coverage_traces = page.evaluate("document.querySelector('#coverage-chart .js-plotly-plot').data.length")
    assert coverage_traces == 1
    assert page.locator("#untagged-resources tbody tr").count() >= 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_switches_the_key_with_htmx_and_keeps_the_url(
    sandbox_billing,  # noqa: F811
    signed_in_page,
    live_server,
    tmp_path,
):
    page = signed_in_page
    page.goto(f"{live_server.url}/allocation/")
    page.wait_for_selector("#allocation-table")
    with page.expect_response(lambda response: "key=service" in response.url):
        page.select_option("#id_key", "service")
    page.wait_for_selector("#allocation-table th:has-text('Service')")
    page.wait_for_load_state("networkidle")
    assert "key=service" in page.url
    assert page.locator("#allocation-table tbody tr").count() >= 2
    assert page.locator("#tag-coverage-panel").count() == 0
    assert_charts_drawn(page, at_least=1)
    page.screenshot(path=str(tmp_path / "allocation-by-service.png"), full_page=True)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_lets_an_operator_publish_a_shared_cost_rule_from_the_page(
    sandbox_billing,  # noqa: F811
    page,
    live_server,
    tmp_path,
):
    from tests.factories import UserFactory

    UserFactory(username="otto", roles=["operator"])
    page.goto(f"{live_server.url}/accounts/login/?next=/allocation/")
    page.fill("#id_username", "otto")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_selector("#rules-form")

    page.fill("#id_document", '{"shared_costs": [{"key": "team", "match": {}}]}')
    page.click("#rules-form button[type=submit]")
    page.wait_for_selector("#rules-errors li")  # the answer, not the page before it (a busy machine answers late)
    errors = page.locator("#rules-errors li").all_inner_texts()
    assert "shared_costs[0].key: Split across a tag key, for example tag:team." in errors
    assert "shared_costs[0].match: A filter needs at least one condition." in errors
    page.screenshot(path=str(tmp_path / "allocation-rules-errors.png"), full_page=True)

    page.fill(
        "#id_document",
        '{"shared_costs": [{"name": "Support", "match": {"service": ["AWS Support (Business)"]}, "key": "tag:team"}]}',
    )
    page.fill("#id_comment", "Share AWS Support by team")
    page.click("#rules-form button[type=submit]")
    page.wait_for_selector("#coverage-chart .js-plotly-plot", timeout=30_000)
    assert page.locator(".messages").inner_text() == "Published allocation rules version 1."
    assert page.locator("#rules-version").inner_text() == "1"
    shared = page.locator("#allocation-table tfoot td").nth(2).inner_text()
    assert shared not in ("$0.00", "")
    page.locator("#rules-history summary").first.click()
    assert "Share AWS Support by team" in page.locator("#rules-history").inner_text()
    assert_charts_drawn(page, at_least=1)
    page.screenshot(path=str(tmp_path / "allocation-rules-published.png"), full_page=True)
