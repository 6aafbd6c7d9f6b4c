"""Unit costs and idle GPU cost on the sandbox: billing imported, fleet inventoried, metrics collected."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.capacity.conftest import TODAY

WINDOW = f"{TODAY - timedelta(days=14)},{TODAY}"


@pytest.mark.django_db
def test_it_reports_cost_per_thousand_predictions_and_training_cost_per_model_version(billed_and_collected, viewer_api):
    body = viewer_api.get("/api/v1/unit-costs/", {"window": WINDOW, "aggregate": "resource"}).json()
    items = {item["key"]["resource"]: item for item in body["items"]}
    assert sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"]) > 0
    served = [item for name, item in items.items() if ":endpoint/" in name and item["predictions"]]
    assert served, "the busy endpoints served predictions"
    for item in served:
        # Only the cost of endpoint-days with Invocations data is divided: days without data say nothing.
        assert Decimal(0) < Decimal(item["cost_with_predictions"]) <= Decimal(item["cost"])
        expected = (Decimal(item["cost_with_predictions"]) * 1000 / Decimal(item["predictions"])).quantize(
            Decimal("1e-10")
        )
        assert Decimal(item["cost_per_1000_predictions"]) == expected
    unknown = [item for name, item in items.items() if ":endpoint/" in name and item["predictions"] is None]
    assert unknown and all(item["cost_per_1000_predictions"] is None for item in unknown), "no data stays unknown"
    by_version = viewer_api.get(
        "/api/v1/unit-costs/",
        {"window": f"{TODAY - timedelta(days=400)},{TODAY}", "aggregate": "tag:model,tag:model_version"},
    ).json()
    assert Decimal(by_version["training_total"]) > 0
    assert any(Decimal(item["training_cost"]) > 0 for item in by_version["items"])


@pytest.mark.django_db
def test_it_reports_idle_gpu_cost_inside_the_owning_teams_cost(billed_and_collected, viewer_api):
    body = viewer_api.get("/api/v1/allocations/", {"window": WINDOW, "aggregate": "tag:team"}).json()
    items = {item["key"]["tag:team"]: item for item in body["items"]}
    assert sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"])
    idle = {team: Decimal(item["idle_cost"]) for team, item in items.items()}
    assert sum(idle.values()) > 0
    assert all(Decimal(0) <= idle[team] <= Decimal(items[team]["cost"]) for team in items)
    csv_lines = viewer_api.get("/api/v1/allocations/", {"window": WINDOW, "aggregate": "tag:team", "format": "csv"})
    assert csv_lines.content.decode().splitlines()[0] == "tag:team,period,cost,shared_cost,idle_cost"


def test_the_schema_documents_the_cost_that_cost_per_thousand_divides():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    response = schema["paths"]["/api/v1/unit-costs/"]["get"]["responses"]["200"]["content"]["application/json"]
    envelope = components[response["schema"]["$ref"].rsplit("/", 1)[-1]]
    item = components[envelope["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]]
    assert {"cost", "cost_with_predictions", "predictions", "cost_per_1000_predictions", "training_cost"} <= set(
        item["required"]
    )
    assert "cost_with_predictions x 1000 / predictions" in item["properties"]["cost_with_predictions"]["description"]
    assert item["properties"]["predictions"]["nullable"] is True
    assert "training_total" in envelope["properties"]
