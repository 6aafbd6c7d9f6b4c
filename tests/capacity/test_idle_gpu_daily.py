"""Idle GPU cost per day (issue 16, item 3): the table equals idle_costs over the billing lines and GPU hours after
imports, re-imports and collections, and /api/v1/allocations by team reads it instead of the billing lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from capacity.models import IdleGpuCostDaily, Resource, UtilisationHour
from capacity.selectors.metering import gpu_hours_frame, gpu_resource_ids
from capacity.selectors.reports import idle_lines_frame
from finops.allocation.engine import idle_costs
from finops.models import CostRecord
from finops.reports import money_sum, report_query_parse
from finops.selectors.allocations import resource_lines_frame
from tests.capacity.conftest import TODAY, accounts, billed_and_collected, fleet, teams  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
WINDOW = f"{TODAY - timedelta(days=30)},{TODAY + timedelta(days=1)}"


def query(basis: str = "billed", step: str = "day"):
    return report_query_parse({"window": [WINDOW], "cost_basis": [basis], "step": [step]}, today=TODAY)


def idle_from_the_lines(basis: str) -> dict:
    """The idle part of every GPU line, straight from the lines and hours (the computation the table stores)."""
    q = query(basis)
    ids = gpu_resource_ids()
    lines = resource_lines_frame(query=q, resource_ids=ids)
    hours = gpu_hours_frame(resource_ids=ids, start=q.start, end=q.end + timedelta(days=2))
    lines = lines.assign(cost=idle_costs(lines, hours))
    return _by_day_and_resource(lines)


def idle_from_the_table(basis: str) -> dict:
    return _by_day_and_resource(idle_lines_frame(query=query(basis)))


def _by_day_and_resource(frame) -> dict:
    sums: dict = {}
    for period, resource, cost in zip(frame["period"], frame["resource"], frame["cost"], strict=True):
        sums.setdefault((period, resource), []).append(cost)
    return {key: money_sum(values) for key, values in sums.items() if money_sum(values) != 0}


def assert_close(table: dict, lines: dict) -> None:
    """Equal keys, and amounts equal to the 20 fractional digits the table stores: idle cost divides a line's cost
    by its hours, so each stored row is rounded (half-even) once; a day of a machine sums a few such rows."""
    assert set(table) == set(lines)
    off = {key: table[key] - lines[key] for key in lines if abs(table[key] - lines[key]) > Decimal("1e-19")}
    assert not off


@pytest.mark.parametrize("basis", ["billed", "effective", "list"])
def test_the_table_equals_idle_cost_from_the_lines_and_hours(billed_and_collected, basis):  # noqa: F811
    from_lines = idle_from_the_lines(basis)

    assert from_lines, "the sandbox's GPUs sit partly idle"
    assert_close(idle_from_the_table(basis), from_lines)


def test_storing_gpu_hours_and_restating_lines_rebuild_it(billed_and_collected):  # noqa: F811
    before = idle_from_the_table("billed")
    # Every known GPU hour of one machine goes to 100%: its idle cost disappears.
    busy = (
        UtilisationHour.objects.filter(metric=UtilisationHour.Metric.GPU, average__lt=100)
        .values_list("resource_id", flat=True)
        .first()
    )
    resource = Resource.objects.get(pk=busy)
    hours = list(UtilisationHour.objects.filter(resource=resource, metric=UtilisationHour.Metric.GPU))
    for hour in hours:
        hour.average = Decimal(100)
    UtilisationHour.objects.bulk_create(
        hours,
        update_conflicts=True,
        unique_fields=["resource", "metric", "variant", "hour"],
        update_fields=["average"],
    )
    after_hours = idle_from_the_table("billed")
    assert all(key[1] != resource.resource_id for key in after_hours)
    assert any(key[1] == resource.resource_id for key in before)
    assert_close(after_hours, idle_from_the_lines("billed"))

    # A restatement of the lines (an ORM write rebuilds the scope as an import does) doubles another machine's cost.
    other = next(key[1] for key in after_hours)
    CostRecord.objects.filter(resource_id=other).update(billed_cost=Decimal(2) * Decimal("1.5"))
    assert_close(idle_from_the_table("billed"), idle_from_the_lines("billed"))


def test_allocations_by_team_read_the_idle_table_and_no_billing_lines(billed_and_collected, viewer_api):  # noqa: F811
    with CaptureQueriesContext(connection) as queries:
        response = viewer_api.get("/api/v1/allocations", {"window": WINDOW, "aggregate": "tag:team"})
    assert response.status_code == 200
    sql = " ".join(item["sql"] for item in queries.captured_queries)
    assert "finops_costrecord" not in sql
    assert "capacity_idlegpucostdaily" in sql
    idle = sum(Decimal(item["idle_cost"]) for item in response.json()["items"])
    assert idle > 0
    assert IdleGpuCostDaily.objects.exists()


def test_retention_drops_idle_rows_with_their_month(billed_and_collected, settings):  # noqa: F811
    from finops.services.billing_retention import billing_retention_apply

    assert IdleGpuCostDaily.objects.exists()
    billing_retention_apply(today=(datetime.now(UTC) + timedelta(days=800)).date(), months=1)

    assert not IdleGpuCostDaily.objects.exists()
