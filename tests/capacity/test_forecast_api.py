"""GET /api/v1/forecasts/gpu-demand: stored forecasts sliced, others forecast on the spot, bad parameters named."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from capacity.models import CapacityScenario, GpuDemandDay, GpuDemandForecast, GpuGroupPeakDay, GpuPeakDay
from capacity.selectors.demand import demand_series
from capacity.services.forecasts import forecast_store

pytestmark = pytest.mark.django_db
DAYS = 120


@pytest.fixture
def demand(db):
    """120 days of a weekly cycle for two teams on two GPU families, and the stored fleet forecast."""
    today = timezone.now().date()
    rng = np.random.default_rng(7)
    now = timezone.now()
    for offset in range(DAYS, 0, -1):
        day = today - timedelta(days=offset)
        weekday = day.weekday() < 5
        for team, family, base in (("vision", "p4d", 160), ("speech", "g5", 40)):
            hours = Decimal(str(round(base * (1.5 if weekday else 1.0) + rng.normal(0, 4), 2)))
            GpuDemandDay.objects.create(
                day=day, team=team, gpu_model="A100" if family == "p4d" else "A10G", instance_family=family,
                region="us-east-1", gpu_hours=hours, peak_gpus=int(hours / 24) + 1, peak_source="average",
                computed_at=now,
            )  # fmt: skip
            GpuGroupPeakDay.objects.create(
                group="team", value=team, day=day, peak_gpus=int(hours / 24) + 1, source="average", computed_at=now
            )
        GpuPeakDay.objects.create(day=day, peak_gpus=10, source="average", inventory_gpus=16, computed_at=now)
    series = demand_series(group="fleet", metric="gpu_hours", end=today)
    stored = forecast_store(group="fleet", value="", metric="gpu_hours", series=series, horizon_days=180)
    return today, stored


def test_it_answers_the_stored_fleet_forecast_with_history_and_scores(demand, viewer_api):
    today, stored = demand
    body = viewer_api.get("/api/v1/forecasts/gpu-demand", {"horizon": 90}).json()
    assert (body["group"], body["value"], body["metric"], body["levels"]) == ("fleet", "", "gpu_hours", [80, 95])
    assert body["model"] == stored.model and body["generated_at"] is not None
    assert len(body["forecast"]) == 90 and body["forecast"][0]["day"] == today.isoformat()
    first = body["forecast"][0]
    assert set(first) == {"day", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
    assert Decimal(first["mean"]) == Decimal(stored.points[0]["mean"])
    for row in body["forecast"]:
        values = [Decimal(row[name]) for name in ("lower_95", "lower_80", "mean", "upper_80", "upper_95")]
        assert values == sorted(values)
    assert len(body["history"]) == DAYS and body["history"][-1]["day"] == (today - timedelta(days=1)).isoformat()
    history_total = sum(Decimal(point["value"]) for point in body["history"])
    assert history_total == sum(row.gpu_hours for row in GpuDemandDay.objects.all())
    assert body["scores"]["mase"] is not None and body["scores"]["snaive_mase"] is not None


def test_other_levels_a_longer_horizon_or_an_unstored_series_are_forecast_on_the_spot(demand, viewer_api):
    body = viewer_api.get("/api/v1/forecasts/gpu-demand", {"levels": "50,99", "horizon": 200}).json()
    assert len(body["forecast"]) == 200 and {"lower_50", "upper_99"} <= set(body["forecast"][0])
    for row in body["forecast"]:
        assert (
            Decimal(row["lower_99"]) <= Decimal(row["lower_50"]) <= Decimal(row["upper_50"]) <= Decimal(row["upper_99"])
        )
    team = viewer_api.get(
        "/api/v1/forecasts/gpu-demand", {"group": "team", "value": "speech", "metric": "peak_gpus", "horizon": 30}
    ).json()
    assert team["value"] == "speech" and len(team["forecast"]) == 30 and team["model"]
    assert GpuDemandForecast.objects.count() == 1, "on-the-spot forecasts are not stored"


def test_a_scenario_layers_on_the_forecast(demand, viewer_api):
    today, stored = demand
    scenario = CapacityScenario.objects.create(name="double", growth_multiplier=Decimal(2))
    body = viewer_api.get("/api/v1/forecasts/gpu-demand", {"horizon": 10, "scenario": scenario.pk}).json()
    assert body["scenario"] == scenario.pk
    for row, point in zip(body["forecast"], stored.points, strict=False):
        assert Decimal(row["mean"]) == Decimal(point["mean"]) * 2


def test_the_forecast_as_csv(demand, viewer_api):
    response = viewer_api.get("/api/v1/forecasts/gpu-demand", {"horizon": 7, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 7 and list(rows[0]) == ["day", "mean", "lower_80", "upper_80", "lower_95", "upper_95"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"group": "cluster"}, "group"),
        ({"group": "team", "value": "nobody"}, "value"),
        ({"group": "team"}, "value"),
        ({"value": "vision"}, "value"),
        ({"metric": "dollars"}, "metric"),
        ({"horizon": "367"}, "horizon"),
        ({"horizon": "0"}, "horizon"),
        ({"horizon": "ten"}, "horizon"),
        ({"levels": "0"}, "levels"),
        ({"levels": "80,100"}, "levels"),
        ({"levels": "high"}, "levels"),
        ({"scenario": "999"}, "scenario"),
        ({"window": "30d"}, "window"),
    ],
)
def test_a_bad_parameter_gets_400_naming_it(demand, viewer_api, params, named):
    response = viewer_api.get("/api/v1/forecasts/gpu-demand", params)
    assert response.status_code == 400
    assert named in response.json()["errors"], response.json()


def test_the_anonymous_are_refused_and_only_operators_queue_a_recompute(demand, api_client, viewer, operator):
    assert api_client.get("/api/v1/forecasts/gpu-demand").status_code in (401, 403)
    assert api_client.get("/api/v1/capacity-scenarios/").status_code in (401, 403)
    api_client.force_authenticate(viewer)
    assert api_client.post("/api/v1/forecasts/gpu-demand/refresh").status_code == 403


def test_the_schema_names_each_planning_response(admin_user, api_client):
    api_client.force_authenticate(admin_user)
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    def reference(path: str, method: str = "get", code: str = "200") -> str:
        return schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]["$ref"]

    assert reference("/api/v1/forecasts/gpu-demand/") == "#/components/schemas/GpuDemandForecast"
    assert reference("/api/v1/capacity-plan/") == "#/components/schemas/CapacityPlan"
    assert reference("/api/v1/capacity-scenarios/{id}/") == "#/components/schemas/CapacityScenario"
    assert reference("/api/v1/capacity-scenarios/", "post", "201") == "#/components/schemas/CapacityScenario"
    plan_item = schema["components"]["schemas"]["PlanItem"]["properties"]
    assert {"limit", "headroom_now", "cross_date_p95", "request_by", "status"} <= set(plan_item)
    parameters = {p["name"] for p in schema["paths"]["/api/v1/forecasts/gpu-demand/"]["get"]["parameters"]}
    assert {"group", "value", "metric", "horizon", "levels"} <= parameters
