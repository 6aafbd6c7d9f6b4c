"""The Capacity page in a browser with the small sandbox fleet collected: fleet table, then a resource's chart."""

from __future__ import annotations

import pytest

from capacity.models import Resource
from tests.dashboards.test_capacity_page import SANDBOX_CLOCK, sandbox_fleet_collect
from tests.e2e.browser import assert_charts_drawn


@pytest.mark.e2e
@pytest.mark.clock(SANDBOX_CLOCK)
@pytest.mark.django_db(transaction=True)
def test_it_shows_the_fleet_and_charts_a_gpu_resource_after_a_click(signed_in_page, live_server, tmp_path):
    sandbox_fleet_collect()
    page = signed_in_page
    page.goto(f"{live_server.url}/capacity/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#gpu-fleet tbody tr").count() >= 5
    assert page.locator("#kpi-gpus .value").inner_text().isdigit()
    assert page.locator("#resource-detail .js-plotly-plot").count() == 0

    p4d = Resource.objects.get(name="vision-train-p4d-0")
    page.click(f'#capacity-resources-table tr[data-resource="{p4d.pk}"] td:nth-child(2)')
    page.wait_for_selector("#resource-detail .js-plotly-plot")
    page.wait_for_load_state("networkidle")
    assert page.locator("#resource-detail-name").inner_text() == "vision-train-p4d-0"
    assert_charts_drawn(page, at_least=1)
    traces = page.evaluate("document.querySelector('#resource-detail .js-plotly-plot').data.map(t => t.name)")
    assert traces == ["GPU", "GPU memory", "CPU"]
    assert "selected" in (page.locator(f'tr[data-resource="{p4d.pk}"]').get_attribute("class") or "")

    page.select_option("#filter-gpu", "true")
    page.wait_for_url("**gpu=true**")
    page.wait_for_load_state("networkidle")
    gpus = page.locator("#capacity-resources-table tbody tr td:nth-child(6)").all_inner_texts()
    assert gpus and "—" not in gpus, "GPUs only"
    assert page.locator("#gpu-fleet").count() == 1, "the panel was swapped, not the page"
    assert_charts_drawn(page, at_least=1)
    page.screenshot(path=str(tmp_path / "capacity.png"), full_page=True)

    endpoint = Resource.objects.get(name="resnet-tagger-prod")
    page.click(f'#capacity-resources-table tr[data-resource="{endpoint.pk}"] td:nth-child(2)')
    page.wait_for_selector("#resource-detail-name:has-text('resnet-tagger-prod')")
    page.wait_for_selector("#resource-detail .js-plotly-plot")
    assert_charts_drawn(page, at_least=1)
    traces = page.evaluate("document.querySelector('#resource-detail .js-plotly-plot').data.map(t => t.name)")
    assert {"Invocations (primary)", "Invocations (canary)", "GPU (primary)"} <= set(traces)
    page.locator("#resource-detail-panel").screenshot(path=str(tmp_path / "capacity-endpoint.png"))
