"""Billing periods (ARCHITECTURE.md, "Currencies and billing periods"): estimated until the source says final,
final by invoice or by age, restatements of final periods recorded once and alerted once."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from finops.models import Alert, BillingPeriod, BillingRestatement, Channel, Notification
from finops.services.alerts import alert_acknowledge
from finops.services.billing_import import billing_export_import
from finops.services.billing_periods import billing_periods_finalise_by_age, billing_restatement_alerts_sync
from tests.finops.test_billing_import import FOCUS_HEADER, LEGACY, focus_rows, write_focus

FOCUS_1_2_HEADER = [*FOCUS_HEADER, "InvoiceId", "InvoiceIssuerName", "ProviderName"]


def write_focus_1_2(path: Path, rows: list[dict], invoice_id: str | None) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FOCUS_1_2_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "InvoiceId": invoice_id or "", "InvoiceIssuerName": "AWS", "ProviderName": "AWS"})
    return path


def legacy_cur_with_invoice(path: Path, invoice_id: str) -> Path:
    with LEGACY.open(newline="") as source, path.open("w", newline="") as target:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, "bill/InvoiceId": invoice_id})
    return path


def the_period() -> BillingPeriod:
    return BillingPeriod.objects.get()


@pytest.mark.django_db
@pytest.mark.clock("2026-01-20T08:00:00Z")
def test_it_keeps_a_focus_1_0_period_estimated_until_it_is_old_enough(tmp_path):
    billing_export_import(location=str(write_focus(tmp_path / "jan.csv", focus_rows(days=10, per_day=3))))

    period = the_period()
    assert (period.source, period.billing_account_id) == ("focus", "111111111111")
    assert (period.billing_period_start.isoformat(), period.billing_period_end.isoformat()) == (
        "2026-01-01",
        "2026-02-01",
    )
    assert (period.status, period.final_reason, period.invoice_ids, period.rules_version) == (
        "estimated",
        None,
        [],
        None,
    )
    assert (period.total, period.currency, period.lines, period.final_by_age) == (Decimal("37.5"), "USD", 30, True)


@pytest.mark.django_db
@pytest.mark.clock("2026-01-20T08:00:00Z")
def test_it_makes_a_focus_1_0_period_final_by_age_fifteen_days_after_it_ends(tmp_path, settings):
    path = write_focus(tmp_path / "jan.csv", focus_rows(days=3, per_day=1))
    billing_export_import(location=str(path))
    assert the_period().status == "estimated"

    assert billing_periods_finalise_by_age(now=datetime(2026, 2, 15, 23, 59, tzinfo=UTC)) == []
    assert the_period().status == "estimated"
    finalised = billing_periods_finalise_by_age(now=datetime(2026, 2, 16, 0, 20, tzinfo=UTC))

    period = the_period()
    assert [item.pk for item in finalised] == [period.pk]
    assert (period.status, period.final_reason, period.finalised_at) == (
        "final",
        "age",
        datetime(2026, 2, 16, 0, 20, tzinfo=UTC),
    )
    assert period.rules_version is None  # no rules were ever published: the first ones will apply


@pytest.mark.django_db
@pytest.mark.clock("2026-03-01T08:00:00Z")
def test_it_makes_an_old_focus_1_0_period_final_by_age_on_import_with_the_setting_s_days(tmp_path, settings):
    settings.COSTPLANE_BILLING_FINAL_AFTER_DAYS = 40
    billing_export_import(location=str(write_focus(tmp_path / "jan.csv", focus_rows(days=3, per_day=1))))
    assert the_period().status == "estimated"  # 28 days after the end, under 40

    settings.COSTPLANE_BILLING_FINAL_AFTER_DAYS = 28
    billing_export_import(location=str(write_focus(tmp_path / "jan.csv", focus_rows(days=3, per_day=1))))
    assert (the_period().status, the_period().final_reason) == ("final", "age")


@pytest.mark.django_db
@pytest.mark.clock("2026-01-20T08:00:00Z")
def test_it_makes_a_focus_1_2_period_final_by_its_invoice_id_and_keeps_one_without_it_estimated(tmp_path):
    billing_export_import(location=str(write_focus_1_2(tmp_path / "a.csv", focus_rows(days=2), invoice_id=None)))
    period = the_period()
    assert (period.status, period.final_by_age) == ("estimated", False)
    assert billing_periods_finalise_by_age(now=datetime(2027, 1, 1, tzinfo=UTC)) == []  # 1.2 waits for the invoice

    billing_export_import(location=str(write_focus_1_2(tmp_path / "b.csv", focus_rows(days=2), invoice_id="INV-7")))

    period = the_period()
    assert (period.status, period.final_reason, period.invoice_ids) == ("final", "invoice", ["INV-7"])
    assert BillingRestatement.objects.count() == 0  # estimated → final is no restatement


@pytest.mark.django_db
def test_it_makes_a_cur_period_final_when_bill_invoice_id_is_filled(tmp_path):
    billing_export_import(location=str(LEGACY))
    period = the_period()
    assert (period.source, period.billing_account_id, period.status) == ("cur_legacy", "123412340534", "estimated")
    assert period.final_by_age is False  # CUR says final by its invoice id, never by age

    billing_export_import(location=str(legacy_cur_with_invoice(tmp_path / "cur.csv", "2024-11-INV-1")))

    period = the_period()
    assert (period.status, period.final_reason, period.invoice_ids) == ("final", "invoice", ["2024-11-INV-1"])
    assert period.total == Decimal("1.68230869740")
    assert period.lines == 1281


@pytest.fixture
def channel(transactional_db):
    return Channel.objects.create(team=None, name="finance", email="finance@example.com")


# Transactional: each import commits (and drops its staging table) as it does outside tests, and the alert opens
# when the import commits.
@pytest.mark.django_db(transaction=True)
@pytest.mark.clock("2026-02-10T08:00:00Z")
def test_it_records_one_restatement_of_a_final_period_and_alerts_once(tmp_path, channel):
    rows = focus_rows(days=4, per_day=2, cost="2.5")
    billing_export_import(location=str(write_focus_1_2(tmp_path / "v1.csv", rows, invoice_id="INV-1")))
    assert (the_period().status, the_period().total) == ("final", Decimal("20.0"))

    revised = [dict(row) for row in rows]
    revised[0]["BilledCost"] = "3.0000000000000000001"  # one line changed
    del revised[-1]  # one line removed
    revised.append({**rows[0], "ResourceId": "i-new", "BilledCost": "0.25"})  # one line added
    for _ in range(2):  # the second delivery is identical: nothing changes, nothing more is sent
        billing_export_import(location=str(write_focus_1_2(tmp_path / "v2.csv", revised, invoice_id="INV-1")))

    restatement = BillingRestatement.objects.get()
    assert restatement.period == the_period()
    assert (restatement.total_before, restatement.total_after) == (
        Decimal("20.0"),
        Decimal("18.2500000000000000001"),
    )
    assert (restatement.lines_added, restatement.lines_removed) == (2, 2)
    assert the_period().total == Decimal("18.2500000000000000001")
    alert = Alert.objects.get(kind="billing_restatement")
    assert (alert.state, alert.key) == ("open", f"restatement:{restatement.pk}")
    assert "total 20 → 18.2500000000000000001 USD, 2 line(s) added and 2 removed" in alert.text
    assert Notification.objects.filter(event="alert.opened", subject=f"alert:{alert.pk}").count() == 1

    alert_acknowledge(alert=alert, user=None)
    billing_restatement_alerts_sync()
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert billing_restatement_alerts_sync() == {"opened": [], "resolved": []}  # never reopens


@pytest.mark.django_db
@pytest.mark.clock("2026-02-10T08:00:00Z")
def test_it_records_no_restatement_for_an_identical_delivery_of_a_final_period(tmp_path):
    path = write_focus_1_2(tmp_path / "v1.csv", focus_rows(days=2), invoice_id="INV-1")
    billing_export_import(location=str(path))
    billing_export_import(location=str(path))
    assert BillingRestatement.objects.count() == 0
    assert Alert.objects.count() == 0
