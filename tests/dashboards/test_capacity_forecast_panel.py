"""The GPU demand forecast panel on the Capacity page, with demand computed from the sandbox's billing and fleet."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from capacity.models import GpuDemandDay, GpuDemandForecast, GpuPeakDay
from capacity.services.demand import gpu_demand_compute
from capacity.services.forecasts import gpu_demand_forecast_refresh
from dashboards.views.capacity import FORECAST_MODEL_LABELS
from tests.dashboards.test_capacity_page import SANDBOX_CLOCK, sandbox_fleet_collect, table_rows, text
from tests.dashboards.test_unit_economics_page import sandbox_billing_import

pytestmark = [pytest.mark.django_db, pytest.mark.clock(SANDBOX_CLOCK)]


@pytest.fixture
def forecast_made(db, settings):
    """The sandbox's billing and fleet, with GPU demand computed and forecast as the daily refresh does."""
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    today = sandbox_fleet_collect().date()
    sandbox_billing_import(today)
    gpu_demand_compute(start=today - timedelta(days=420), end=today)
    gpu_demand_forecast_refresh(horizon_days=180, today=today)
    return today


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def gpu_hours(value: Decimal) -> str:
    return f"{value:,.0f}"


def forecast_sum(forecast: GpuDemandForecast, column: str, start, days: int) -> Decimal:
    end = (start + timedelta(days=days)).isoformat()
    return sum((Decimal(p[column]) for p in forecast.points if start.isoformat() <= p["day"] < end), Decimal(0))


def test_it_shows_the_fleet_forecast_with_its_model_and_backtest_score(forecast_made, viewer_client):
    html = viewer_client.get("/capacity/").content.decode()
    panel = html[html.index('id="capacity-forecast"') :]
    fleet = GpuDemandForecast.objects.filter(group="fleet", metric="gpu_hours").latest("generated_at")
    assert len(fleet.points) == 180
    chart = panel[panel.index('id="gpu-demand-chart"') :]
    assert 'class="plotly-graph-div"' in chart[:400]
    for name in ("95% interval", "80% interval", "Forecast (mean)", "GPU-hours"):
        assert f'"name":"{name}"' in chart
    # The model named in words, its code name in the title
    name = re.search(r'id="forecast-model-name" title="([^"]*)">(.*?)<', panel)
    assert name.group(1) == fleet.model and text(name.group(2)) == FORECAST_MODEL_LABELS[fleet.model]
    assert "_" not in name.group(2)
    mase = fleet.scores.get(fleet.model, {}).get("mase")
    if mase is None:
        assert "no backtest score" in panel
    else:
        assert re.search(r'id="forecast-mase"[^>]*>(.*?)<', panel).group(1) == f"{mase:.2f}"
    if fleet.fallback:
        assert text(re.search(r'id="forecast-fallback">(.*?)</p>', panel, re.S).group(1)) == text(fleet.fallback)
    assert 'id="gpu-peaks-chart"' in panel
    assert GpuPeakDay.objects.filter(source="average").exists()
    assert '"name":"Estimate: average concurrency (no hourly data)"' in panel


def test_it_lists_recent_and_forecast_gpu_hours_per_team(forecast_made, viewer_client):
    today = forecast_made
    html = viewer_client.get("/capacity/").content.decode()
    rows = {row[0]: row[1:] for row in table_rows(html, "gpu-demand-teams")}
    assert {"vision", "speech"} <= set(rows)
    recent_days = GpuDemandDay.objects.filter(day__gte=today - timedelta(days=30), day__lt=today)
    for team in ("vision", "speech"):
        recent = sum((row.gpu_hours for row in recent_days.filter(team=team)), Decimal(0))
        forecast = GpuDemandForecast.objects.filter(group="team", value=team, metric="gpu_hours").latest("generated_at")
        mean, low, high = (forecast_sum(forecast, column, today, 90) for column in ("mean", "lower_80", "upper_80"))
        assert recent > 0 and mean > 0
        assert rows[team] == [gpu_hours(recent), gpu_hours(mean), f"{gpu_hours(low)} – {gpu_hours(high)}"]
    footer = html[html.index('id="gpu-demand-teams"') :]
    footer = footer[footer.index("<tfoot") : footer.index("</tfoot>")]
    fleet = GpuDemandForecast.objects.filter(group="fleet", metric="gpu_hours").latest("generated_at")
    total = sum((row.gpu_hours for row in recent_days), Decimal(0))
    cells = [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", footer, re.S)]
    assert cells[:3] == ["Whole fleet", gpu_hours(total), gpu_hours(forecast_sum(fleet, "mean", today, 90))]


def test_it_returns_the_forecast_panel_to_htmx(forecast_made, viewer_client):
    response = viewer_client.get("/capacity/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="capacity-forecast")
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="capacity-forecast">') and "<html" not in html
    assert 'id="gpu-demand-chart"' in html


def test_it_says_how_demand_is_produced_when_none_exists(db, settings, viewer_client):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    sandbox_fleet_collect()
    html = viewer_client.get("/capacity/").content.decode()
    empty = text(re.search(r'id="forecast-empty">(.*?)</p>', html, re.S).group(1))
    assert empty.startswith("No GPU demand yet.") and "computed daily after billing ingestion" in empty
    assert 'id="gpu-demand-chart"' not in html
    assert 'id="gpu-fleet"' in html, "the rest of the page is still there"


def test_it_shows_the_empty_forecast_panel_without_inventory(viewer_client):
    html = viewer_client.get("/capacity/").content.decode()
    assert "No inventory yet" in html and 'id="forecast-empty"' in html


def plotted_traces(html: str, element_id: str) -> dict[str, dict]:
    """{trace name: trace} of the figure embedded in `element_id`."""
    chart = html[html.index(f'id="{element_id}"') :]
    start = chart.index("Plotly.newPlot(")
    data, _ = json.JSONDecoder().raw_decode(chart[chart.index(",", start) + 1 :].lstrip())
    return {trace["name"]: trace for trace in data}


def test_it_draws_the_fleet_peak_in_whole_gpus_apart_from_the_estimates_and_within_the_inventory(
    forecast_made, viewer_client
):
    html = viewer_client.get("/capacity/").content.decode()
    traces = plotted_traces(html, "gpu-peaks-chart")
    stored = {row.day: row for row in GpuPeakDay.objects.filter(day__gte=forecast_made - timedelta(days=120))}
    hourly = traces["Peak GPUs (hourly data)"]
    estimate = traces["Estimate: average concurrency (no hourly data)"]
    days = [date.fromisoformat(day[:10]) for day in hourly["x"]]
    assert days == sorted(stored) and [day[:10] for day in estimate["x"]] == [day[:10] for day in hourly["x"]]
    for day, peak, guess in zip(days, hourly["y"], estimate["y"], strict=True):
        row = stored[day]
        # One series per kind: a day is drawn in exactly one of them, in whole GPUs.
        assert (peak, guess) == ((row.peak_gpus, None) if row.source == "hourly" else (None, row.peak_gpus))
        assert isinstance(row.peak_gpus, int) and row.peak_gpus <= row.inventory_gpus
    assert any(row.source == "hourly" for row in stored.values())
    highest = max((row for row in stored.values() if row.source == "hourly"), key=lambda row: row.peak_gpus)
    note = text(re.search(r'id="gpu-peaks-note">(.*?)</p>', html, re.S).group(1))
    assert note.startswith(
        f"Highest: {highest.peak_gpus} GPUs running at once on {highest.day:%Y-%m-%d}, "
        f"of {highest.inventory_gpus} in inventory that day."
    )
    estimated = sum(1 for row in stored.values() if row.source == "average")
    assert f"Dotted: {estimated} days without hourly data" in note
