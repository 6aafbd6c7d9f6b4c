"""The Capacity plan page in a browser over the small sandbox (collected, demand computed and forecast): the plan table
shows a quota row with a crossing date, the capacity-against-demand chart draws a quota-limit line, and a scenario
added in the editor moves that row's crossing earlier."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest

from capacity.selectors.capacity_plan import capacity_plan
from tests.dashboards.test_capacity_plan_page import ML_RESEARCH, P_QUOTA, P_ROW, PLAN_CLOCK, sandbox_plan_collect
from tests.e2e.browser import assert_charts_drawn, tables_overflowing
from tests.factories import UserFactory

TRACE_NAMES = "selector => document.querySelector(selector).data.map(trace => trace.name || '')"


def sign_in_as_operator(page, live_server) -> None:
    UserFactory(username="olga", roles=["operator"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def screenshot(page, tmp_path, name: str, element: str = "") -> None:
    path = tmp_path / f"capacity-plan-{name}.png"
    if element:
        page.locator(element).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    shutil.copy(path, f"/tmp/capacity-plan-{name}.png")  # kept for a person to look at


def row_date(page, css_class: str) -> date:
    return date.fromisoformat(page.locator(f'#plan-table tr[data-quota="{P_ROW}"] time.{css_class}').inner_text())


@pytest.mark.e2e
@pytest.mark.clock(PLAN_CLOCK)
@pytest.mark.django_db(transaction=True)
def test_the_plan_shows_a_crossing_charts_the_quota_line_and_a_scenario_moves_the_crossing_earlier(
    page, live_server, tmp_path, monkeypatch
):
    today = sandbox_plan_collect(monkeypatch)
    (expected,) = [item for item in capacity_plan(today=today).items if (item.account, item.quota_code) == (
        ML_RESEARCH, P_QUOTA)]  # fmt: skip
    assert expected.cross_date_p95 is not None, "the small sandbox's P quota crosses within the horizon"
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in_as_operator(page, live_server)

    page.goto(f"{live_server.url}/capacity/plan/")
    assert_charts_drawn(page, at_least=2)
    assert page.locator("nav.mainnav a.active").inner_text() == "Capacity plan"
    row = page.locator(f'#plan-table tr[data-quota="{P_ROW}"]')
    assert row.count() == 1
    base_crossing = row_date(page, "cross-p95")
    assert base_crossing == expected.cross_date_p95 < today + timedelta(days=180)
    assert row_date(page, "request-by") == expected.request_by
    assert row.locator(".plan-status").inner_text() == expected.status
    assert page.locator("#plan-quota-chart").get_attribute("data-quota") == P_ROW, "the crossing quota is charted"
    traces = page.evaluate(TRACE_NAMES, "#plan-quota-chart .js-plotly-plot")
    assert "Quota limit" in traces and "Median (base)" in traces
    limit_line = page.evaluate(
        "() => document.querySelector('#plan-quota-chart .js-plotly-plot').data"
        ".find(trace => trace.name === 'Quota limit').y.map(Number)"
    )
    assert set(limit_line) == {float(expected.limit)}
    assert page.locator("#plan-forecast-mase").inner_text() != "—"
    assert tables_overflowing(page) == []
    screenshot(page, tmp_path, "base")

    page.click("#plan-new-scenario")
    page.wait_for_selector("#scenario-form")
    page.fill("#id_name", "p5 cluster for vision")
    page.fill("#id_growth_multiplier", "1")
    page.fill("#id_projects-0-team", "vision")
    page.fill("#id_projects-0-instance_type", "p5.48xlarge")
    page.fill("#id_projects-0-region", "us-east-1")
    page.fill("#id_projects-0-gpus", "16")
    page.fill("#id_projects-0-start", (today + timedelta(days=7)).isoformat())
    page.fill("#id_projects-0-months", "3")
    page.fill("#id_projects-0-account", ML_RESEARCH)
    page.click("#plan-add-project")  # a spare row left empty is no project
    assert page.locator("#plan-projects tbody tr").count() == 2, "the filled row and the one added"
    screenshot(page, tmp_path, "editor", "#plan-editor")
    page.click("#scenario-save")
    page.wait_for_url("**/capacity/plan/?scenario=*")
    assert_charts_drawn(page, at_least=2)
    assert "Created scenario p5 cluster for vision" in page.locator(".messages").inner_text()
    assert page.locator("#plan-scenario option:checked").inner_text() == "p5 cluster for vision"

    scenario_crossing = row_date(page, "scenario-cross-p95")
    assert scenario_crossing < base_crossing, "16 more H100s a week from now cross the quota earlier"
    assert scenario_crossing >= today + timedelta(days=7), "not before the project starts"
    assert row_date(page, "cross-p95") == base_crossing, "the base stays beside the scenario"
    traces = page.evaluate(TRACE_NAMES, "#plan-quota-chart .js-plotly-plot")
    assert {"Quota limit", "Median (base)", "Median (p5 cluster for vision)"} <= set(traces)
    assert "Median (p5 cluster for vision)" in page.evaluate(TRACE_NAMES, "#plan-forecast-chart .js-plotly-plot")
    assert tables_overflowing(page) == []
    screenshot(page, tmp_path, "scenario")
    screenshot(page, tmp_path, "scenario-forecast", "#plan-forecast-panel")
    screenshot(page, tmp_path, "scenario-quota", "#plan-quota-panel")
