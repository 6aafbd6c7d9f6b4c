"""The Overview page reads /api/v1/costs' reader: the same numbers, and the same refusal to add currencies."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finops.models import CostRecord
from tests.finops.cost_lines import cost_explorer_cells, export_lines

OTHER = "333333333333"


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
    html = page.content.decode()
    assert "holds EUR, USD; choose one with currency=" in html
    assert "summary" not in page.context
    # The page offers the choice, and a chosen currency shows only its rows.
    assert re.search(r'<select id="overview-currency" name="currency"', html)
    assert page.context["currencies"] == ("EUR", "USD")
    euro = signed_in.get("/", {"currency": "EUR"})
    assert euro.context["summary"].currency == "EUR"
    assert euro.context["summary"].daily_by_service["cost"].sum() == Decimal(7)


def _cells(html: str, row_kind: str) -> list[str]:
    row = re.search(rf'<tr data-kind="{row_kind}">(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def _text(html: str, element_id: str) -> str:
    block = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>\s*</div>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


@pytest.mark.django_db
@pytest.mark.clock("2026-12-03T10:00:00Z")
def test_it_compares_usage_with_the_same_complete_days_last_month_and_shows_fees_apart(signed_in, viewer_api):
    nov, dec = date(2026, 11, 1), date(2026, 12, 1)
    export_lines(
        [
            {"day": nov, "cost": "100"},
            {"day": nov, "cost": "5000", "service": "Tax", "category": "tax"},
            # Support billed as usage by some exports: its service name makes it a fee.
            {"day": nov, "cost": "2000", "service": "AWS Support (Business)"},
            {"day": nov + timedelta(days=1), "cost": "100"},
            {"day": nov + timedelta(days=2), "cost": "999"},  # November 3: not one of December's complete days
            {"day": dec, "cost": "110"},
            {"day": dec, "cost": "50", "service": "Tax", "category": "tax"},
            {"day": dec + timedelta(days=1), "cost": "115"},
            {"day": dec + timedelta(days=1), "cost": "-20", "category": "credit"},
            {"day": dec + timedelta(days=2), "cost": "1000"},  # today: not a complete day
        ]
    )
    # An account known only to Cost Explorer: its fees are recognised by service name.
    cost_explorer_cells(
        [
            {"day": nov, "cost": "40", "account": OTHER, "service": "Amazon Elastic Compute Cloud - Compute"},
            {"day": nov, "cost": "300", "account": OTHER, "service": "Tax"},
            {"day": dec, "cost": "44", "account": OTHER, "service": "Amazon Elastic Compute Cloud - Compute"},
            {"day": dec + timedelta(days=1), "cost": "24", "account": OTHER,
             "service": "Savings Plans for AWS Compute usage"},
        ]
    )  # fmt: skip
    html = signed_in.get("/").content.decode()
    summary = signed_in.get("/").context["summary"]
    assert (summary.current.usage, summary.previous.usage) == (Decimal(269), Decimal(240))
    assert (summary.current.fees, summary.previous.fees) == (Decimal(74), Decimal(7300))
    assert (summary.current.credits, summary.previous.credits) == (Decimal(-20), Decimal(0))
    api = viewer_api.get("/api/v1/costs/", {"window": "mtd"}).json()
    assert summary.month_to_date == Decimal(api["total"]) == Decimal(323)
    same_days = viewer_api.get("/api/v1/costs/", {"window": "2026-11-01,2026-11-03"}).json()
    assert summary.last_month_same_days == Decimal(same_days["total"]) == Decimal(7540)
    assert _text(html, "kpi-mtd") == "Usage, December 1–2 (2 complete days) $269.00"
    assert _text(html, "kpi-last-month") == "Usage, the same days last month: November 1–2 $240.00"
    assert _text(html, "kpi-change") == "Change in usage +12.1%"
    assert _cells(html, "usage") == ["Usage", "$269.00", "$240.00", "+12.1%"]
    assert _cells(html, "fee") == [
        "One-time and monthly fees (tax, support, purchases, commitment fees)", "$74.00", "$7,300.00", "-99.0%"
    ]  # fmt: skip
    assert _cells(html, "credit") == ["Credits and refunds", "-$20.00", "$0.00", "—"]
    assert _cells(html, "total") == ["All charges (billed cost)", "$323.00", "$7,540.00", ""]
    movers = html[html.index('id="movers"') :]
    movers = movers[: movers.index("</table>")]
    assert "Tax" not in movers and "Savings Plans" not in movers, "movers compare usage only"
    assert "November 26 – December 2" in movers and "November 19–25" in movers


@pytest.mark.django_db
@pytest.mark.clock("2026-12-01T08:00:00Z")
def test_it_says_so_when_the_month_has_no_complete_day_yet(signed_in):
    export_lines(
        [
            {"day": date(2026, 11, 30), "cost": "10"},
            {"day": date(2026, 12, 1), "cost": "7000", "service": "Tax", "category": "tax"},
        ]
    )
    page = signed_in.get("/")
    html = page.content.decode()
    summary = page.context["summary"]
    assert summary.this_month.days == 0 and summary.month_to_date == 0
    assert summary.usage_change_percent is None
    assert _text(html, "kpi-mtd") == "Usage, December: no complete day yet $0.00"
    assert _text(html, "kpi-change") == "Change in usage —"
    assert "No complete day of December yet" in html
