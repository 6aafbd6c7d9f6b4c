"""Money strings of the machine-aware reports on the sandbox: idle GPU cost and cost per 1,000 predictions are
computed (divisions), so they are where more than the stored 20 fractional digits would show."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from capacity.selectors.reports import allocation_report
from finops.reports import money_round, money_sum
from tests.capacity.conftest import TODAY

pytestmark = pytest.mark.django_db
WINDOW = f"{TODAY - timedelta(days=14)},{TODAY}"


def fractional_digits(text: str) -> int:
    return len(text.partition(".")[2])


def test_idle_gpu_cost_leaves_the_api_at_twenty_places_and_items_still_sum_to_total(billed_and_collected, viewer_api):
    params = {"window": WINDOW, "aggregate": "tag:team", "step": "day"}
    exact = allocation_report(params={name: [value] for name, value in params.items()}, today=TODAY).items
    # Idle cost is computed (a line's cost over its hours, times the unused share) and stored per day at the
    # rollup's 20 fractional digits (capacity.models.IdleGpuCostDaily), each row rounded half-even once.
    assert any(value != 0 for value in exact["idle_cost"]), "the sandbox computes idle cost"
    assert all(value.as_tuple().exponent >= -20 for value in exact["idle_cost"])
    body = viewer_api.get("/api/v1/allocations/", params).json()
    strings = [body["total"], *(item[name] for item in body["items"] for name in ("cost", "shared_cost", "idle_cost"))]
    assert all(fractional_digits(text) <= 20 for text in strings)
    assert money_sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"])
    by_key = {(item["key"]["tag:team"], item["period"]): item for item in body["items"]}
    for record in exact.to_dict("records"):
        item = by_key[(record["tag:team"], record["period"].isoformat())]
        assert Decimal(item["idle_cost"]) == money_round(record["idle_cost"])
        assert Decimal(item["cost"]) == record["cost"], "stored figures leave as stored"


def test_unit_costs_money_and_per_thousand_figures_carry_at_most_twenty_fractional_digits(
    billed_and_collected, viewer_api
):
    body = viewer_api.get("/api/v1/unit-costs/", {"window": WINDOW, "aggregate": "resource", "step": "day"}).json()
    assert body["items"]
    for item in body["items"]:
        for name in body["money_fields"]:
            assert item[name] is None or fractional_digits(item[name]) <= 20, (name, item[name])
    assert money_sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"])
    assert money_sum(Decimal(item["training_cost"]) for item in body["items"]) == Decimal(body["training_total"])
