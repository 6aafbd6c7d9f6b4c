"""The Overview page reads /api/v1/costs' reader: the same numbers, and the same refusal to add currencies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finops.models import CostRecord
from tests.finops.cost_lines import export_lines


@pytest.fixture
def signed_in(client, viewer):
    client.force_login(viewer)
    return client


@pytest.mark.django_db
def test_it_shows_the_same_month_to_date_as_the_costs_api(signed_in, viewer_api):
    today = timezone.now().date()
    export_lines(
        [{"day": today - timedelta(days=3), "cost": "10.25"}, {"day": today - timedelta(days=1), "cost": "2.5"}]
    )
    page = signed_in.get("/")
    assert page.status_code == 200
    summary = page.context["summary"]
    api = viewer_api.get("/api/v1/costs/", {"window": f"{today.replace(day=1)},{today}"}).json()
    assert summary.month_to_date == Decimal(api["total"])
    assert sum(summary.daily_by_service["cost"]) == Decimal("12.75")


@pytest.mark.django_db
def test_it_names_the_currencies_instead_of_adding_them(signed_in):
    today = timezone.now().date()
    export_lines([{"day": today - timedelta(days=2), "cost": "10"}, {"day": today - timedelta(days=1), "cost": "7"}])
    CostRecord.objects.filter(billed_cost=Decimal(7)).update(billing_currency="EUR")
    page = signed_in.get("/")
    assert page.status_code == 200
    assert "several currencies (EUR, USD)" in page.content.decode()
    assert "summary" not in page.context
