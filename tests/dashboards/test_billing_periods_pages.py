"""Billing periods on the pages: the Overview marks the days still estimated, Reconciliation lists restatements."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from finops.models import BillingPeriod, BillingRestatement
from tests.finops.cost_lines import export_lines


@pytest.fixture
def signed_in(client, viewer):
    client.force_login(viewer)
    return client


def period(**fields) -> BillingPeriod:
    values = {"source": "focus", "billing_account_id": "111111111111", "currency": "USD", "total": Decimal(1), **fields}
    return BillingPeriod.objects.create(**values)


@pytest.mark.django_db
@pytest.mark.clock("2026-12-07T08:00:00Z")
def test_the_overview_says_which_days_are_estimated_and_marks_them_on_the_chart(signed_in):
    export_lines([{"day": date(2026, 11, 20), "cost": "4"}, {"day": date(2026, 12, 3), "cost": "2.5"}])
    period(billing_period_start=date(2026, 11, 1), billing_period_end=date(2026, 12, 1), status="final",
           final_reason="invoice")  # fmt: skip
    period(billing_period_start=date(2026, 12, 1), billing_period_end=date(2027, 1, 1))

    html = signed_in.get("/").content.decode()

    notes = re.findall(r'<p class="muted chart-note estimated-days"[^>]*>(.*?)</p>', html, re.S)
    assert len(notes) == 1
    assert notes[0].startswith("December 1–6 are estimated: the invoice is not final")
    chart = re.search(r'<div id="daily-by-service">(.*?)</section>', html, re.S).group(1)
    assert '"text":"estimated"' in chart.replace(" ", "")
    assert "2026-11-30T12:00:00" in chart and "2026-12-06T12:00:00" in chart


@pytest.mark.django_db
@pytest.mark.clock("2026-12-07T08:00:00Z")
def test_the_overview_marks_nothing_when_every_period_is_final(signed_in):
    export_lines([{"day": date(2026, 11, 20), "cost": "4"}])
    period(billing_period_start=date(2026, 11, 1), billing_period_end=date(2026, 12, 1), status="final",
           final_reason="age")  # fmt: skip

    page = signed_in.get("/")

    assert page.context["summary"].estimated == ()
    assert "are estimated" not in page.content.decode()


@pytest.mark.django_db
def test_reconciliation_lists_each_restatement_with_its_totals_and_lines(signed_in):
    final = period(billing_period_start=date(2026, 10, 1), billing_period_end=date(2026, 11, 1), status="final",
                   final_reason="invoice", currency="EUR")  # fmt: skip
    BillingRestatement.objects.create(
        period=final,
        detected_at=datetime(2026, 11, 9, 6, 30, tzinfo=UTC),
        total_before=Decimal("1200.5"),
        total_after=Decimal("1187.25"),
        lines_added=3,
        lines_removed=5,
    )

    html = signed_in.get("/reconciliation/").content.decode()

    row = re.search(r'<tr data-restatement="\d+">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == [
        "2026-11-09 06:30 UTC",
        "FOCUS",
        "111111111111",
        "October 2026",
        "EUR 1,200.50",
        "EUR 1,187.25",
        "-13.25",
        "3",
        "5",
    ]


@pytest.mark.django_db
def test_reconciliation_says_when_no_period_was_restated(signed_in):
    assert "No final billing period has been restated." in signed_in.get("/reconciliation/").content.decode()
