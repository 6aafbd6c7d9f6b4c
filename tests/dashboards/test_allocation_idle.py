"""Idle GPU cost on the Allocation page, on the small sandbox (billing imported, fleet and GPU metrics collected):
per team, with its share of the team's cost, as /api/v1/allocations reports it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from dashboards.templatetags.costplane import money
from sandbox.catalogue import ACCOUNT_IDS
from tests.capacity.conftest import TODAY, accounts, billed_and_collected, fleet, teams  # noqa: F401 (fixtures)
from tests.dashboards.test_allocation_periods_and_filters import table_cells

pytestmark = pytest.mark.django_db
START, END = TODAY - timedelta(days=14), TODAY


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def test_it_shows_each_teams_idle_gpu_cost_and_its_share_as_the_api_reports_them(
    billed_and_collected,  # noqa: F811
    viewer_client,
    viewer_api,
):
    body = viewer_api.get(
        "/api/v1/allocations/", {"window": f"{START},{END}", "aggregate": "tag:team", "cost_basis": "billed"}
    ).json()
    api = {item["key"]["tag:team"]: item for item in body["items"]}
    idle_total = sum(Decimal(item["idle_cost"]) for item in api.values())
    assert idle_total > 0, "the sandbox's GPUs sit partly idle"

    html = viewer_client.get(
        "/allocation/", {"window": "custom", "start": str(START), "end": str(END), "key": "tag:team"}
    ).content.decode()
    header, *body_rows, footer = table_cells(html, "allocation-table")
    assert header == ["Team", "Cost", "Shared", "Share of total", "Idle GPU", "Idle share"]
    rows = {row[0]: row for row in body_rows}
    assert set(rows) == {"Unallocated" if team == "__unallocated__" else team for team in api}
    teams_with_idle = 0
    for team, item in api.items():
        row = rows["Unallocated" if team == "__unallocated__" else team]
        cost, idle = Decimal(item["cost"]), Decimal(item["idle_cost"])
        assert row[1] == money(cost)
        assert row[4] == money(idle)
        assert row[5] == f"{idle / cost * 100:.1f}%"
        teams_with_idle += idle > 0
    assert teams_with_idle >= 2
    assert footer[4] == money(idle_total)
    assert footer[5] == f"{idle_total / Decimal(body['total']) * 100:.1f}%"
    summary = re.search(r'id="allocation-idle-total" title="[^"]*" data-exact="([^"]+)"', html).group(1)
    # The API gives money at most 20 fractional digits (each item rounded half-even); the page keeps the exact sum.
    assert abs(Decimal(summary) - idle_total) < Decimal("1e-18")
    # The per-week table carries the idle part too, and its weeks add up to the same total.
    weeks = table_cells(html, "allocation-periods")
    assert weeks[-1][4] == money(idle_total)


def test_allocating_by_account_names_the_sandbox_accounts_beside_their_ids(
    billed_and_collected,  # noqa: F811
    viewer_client,
):
    html = viewer_client.get(
        "/allocation/", {"window": "custom", "start": str(START), "end": str(END), "key": "account"}
    ).content.decode()
    labels = [row[0] for row in table_cells(html, "allocation-table")[1:-1]]
    assert f"ml-prod {ACCOUNT_IDS['ml-prod']}" in labels
    assert all(re.fullmatch(r"\S+ \d{12}", label) for label in labels), labels
