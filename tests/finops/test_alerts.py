from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from finops.models import Alert, Channel, IngestionRun, Notification
from finops.services.alerts import (
    AlertSpec,
    alerts_sync,
    stale_ingestion_alert_specs,
    unallocated_share_alert_specs,
)
from finops.services.billing_import import billing_export_import
from tests.factories import CloudAccountFactory, TeamFactory
from tests.finops.test_billing_import import focus_rows, write_focus
from tests.webhook_receiver import webhook_receiver

NOW = datetime(2026, 1, 9, 6, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


def spec(key: str = "account:1", **kwargs) -> AlertSpec:
    return AlertSpec(key=key, title=kwargs.pop("title", f"Trouble with {key}"), text="Details.", **kwargs)


@pytest.mark.django_db
def test_it_notifies_once_per_opening_and_once_when_the_alert_resolves(receiver):
    team = TeamFactory(name="Vision")
    Channel.objects.create(team=team, name="vision", webhook_url=receiver.url)

    first = alerts_sync(kind="stale_ingestion", current=[spec(team=team)], now=NOW)
    for hours in (1, 2, 3):
        repeat = alerts_sync(
            kind="stale_ingestion", current=[spec(team=team, title="Still stale")], now=NOW + timedelta(hours=hours)
        )
        assert repeat == {"opened": [], "resolved": []}
    alert = Alert.objects.get()
    assert (alert.state, alert.title, alert.last_seen_at) == ("open", "Still stale", NOW + timedelta(hours=3))
    assert receiver.texts() == ["Trouble with account:1: Details."]

    cleared = alerts_sync(kind="stale_ingestion", current=[], now=NOW + timedelta(hours=4))

    alert.refresh_from_db()
    assert first == {"opened": [alert.pk], "resolved": []}
    assert cleared == {"opened": [], "resolved": [alert.pk]}
    assert (alert.state, alert.resolved_at) == ("resolved", NOW + timedelta(hours=4))
    assert receiver.texts() == ["Trouble with account:1: Details.", "Resolved: Still stale: Details."]
    assert list(Notification.objects.order_by("id").values_list("event", "subject", "status")) == [
        ("alert.opened", f"alert:{alert.pk}", "sent"),
        ("alert.resolved", f"alert:{alert.pk}", "sent"),
    ]


@pytest.mark.django_db
def test_it_opens_a_new_alert_when_a_resolved_condition_returns(receiver):
    Channel.objects.create(team=None, name="global", webhook_url=receiver.url)
    alerts_sync(kind="quota_headroom", current=[spec("quota:a")], now=NOW)
    alerts_sync(kind="quota_headroom", current=[], now=NOW + timedelta(hours=1))
    again = alerts_sync(kind="quota_headroom", current=[spec("quota:a")], now=NOW + timedelta(hours=2))

    assert len(again["opened"]) == 1
    assert list(Alert.objects.order_by("id").values_list("state", flat=True)) == ["resolved", "open"]
    assert len(receiver.received) == 3


@pytest.mark.django_db
def test_it_keeps_kinds_apart_and_resolves_only_the_missing_keys():
    alerts_sync(kind="quota_headroom", current=[spec("a"), spec("b")], now=NOW)
    alerts_sync(kind="stale_ingestion", current=[spec("a")], now=NOW)

    result = alerts_sync(kind="quota_headroom", current=[spec("b")], now=NOW)

    assert len(result["resolved"]) == 1
    assert set(Alert.objects.filter(state="open").values_list("kind", "key")) == {
        ("quota_headroom", "b"),
        ("stale_ingestion", "a"),
    }


@pytest.mark.django_db
def test_it_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="Unknown alert kind"):
        alerts_sync(kind="weather", current=[], now=NOW)


@pytest.mark.django_db(transaction=True)
def test_it_opens_one_alert_and_sends_one_message_when_two_workers_sync_at_once(receiver):
    Channel.objects.create(team=None, name="global", webhook_url=receiver.url)
    receiver.delay = 0.5
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(alerts_sync(kind="cost_anomaly", current=[spec("service:EC2")], now=NOW))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(len(result["opened"]) for result in results) == [0, 1]
    assert Alert.objects.count() == 1
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_it_reports_an_enabled_account_without_a_successful_run_for_36_hours():
    fresh, stale, never, disabled = (
        CloudAccountFactory(account_id="111111111111", name="fresh"),
        CloudAccountFactory(account_id="222222222222", name="stale"),
        CloudAccountFactory(account_id="333333333333", name="never"),
        CloudAccountFactory(account_id="444444444444", cost_explorer_enabled=False, exports_enabled=False),
    )
    from finops.models import CloudAccount

    CloudAccount.objects.filter(pk__in=[never.pk, disabled.pk]).update(created_at=NOW - timedelta(days=5))
    IngestionRun.objects.create(account=fresh, source="cost_explorer", status="succeeded", finished_at=NOW)
    IngestionRun.objects.create(
        account=stale, source="cost_explorer", status="succeeded", finished_at=NOW - timedelta(hours=37)
    )
    IngestionRun.objects.create(account=stale, source="cost_explorer", status="failed", finished_at=NOW)

    specs = stale_ingestion_alert_specs(now=NOW)

    assert [(s.key, s.severity) for s in specs] == [
        ("account:222222222222", "warning"),
        ("account:333333333333", "critical"),
    ]
    assert "since 2026-01-07 17:00 UTC" in specs[0].text
    assert "no successful run yet" in specs[1].text


@pytest.mark.django_db
def test_it_gives_a_new_account_time_for_its_first_run(settings):
    settings.COSTPLANE_ALERT_STALE_INGESTION_HOURS = 36
    CloudAccountFactory(account_id="555555555555")  # created now, no runs yet
    assert stale_ingestion_alert_specs() == []


@pytest.mark.django_db
def test_it_alerts_when_the_untagged_share_of_last_week_passes_the_threshold_and_resolves_once_tagged(
    tmp_path, settings
):
    settings.COSTPLANE_ALERT_UNALLOCATED_PERCENT = 20
    rows = focus_rows(days=10)  # one line in three carries no team tag: 33.3%
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))

    [found] = unallocated_share_alert_specs(now=NOW)

    assert found.key == "tag:team"
    assert found.title == "33.3% of last week's cost has no team"
    assert found.details["start"] == "2026-01-02" and found.details["end"] == "2026-01-09"
    assert Decimal(found.details["unallocated"]) == Decimal("8.75")  # 7 days x one $1.25 line
    assert found.amount == Decimal("8.75")
    assert "$8.75 of $26.25" in found.text

    settings.COSTPLANE_ALERT_UNALLOCATED_PERCENT = 34
    assert unallocated_share_alert_specs(now=NOW) == []

    settings.COSTPLANE_ALERT_UNALLOCATED_PERCENT = 20
    for row in rows:
        row["Tags"] = json.dumps({"team": "search"})
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    assert unallocated_share_alert_specs(now=NOW) == []


@pytest.mark.django_db
def test_it_raises_no_unallocated_alert_without_cost_data():
    assert unallocated_share_alert_specs(now=NOW) == []


@pytest.mark.django_db
def test_it_sends_the_resolve_only_to_channels_whose_minimum_the_alert_reached(receiver):
    Channel.objects.create(team=None, name="big-only", webhook_url=receiver.url, min_amount=Decimal("1000"))
    Channel.objects.create(team=None, name="all", email="finops@example.com")
    small = spec("anomaly:1", amount=Decimal("120.00"))

    alerts_sync(kind="cost_anomaly", current=[small], now=NOW)
    alerts_sync(kind="cost_anomaly", current=[], now=NOW + timedelta(days=1))

    assert receiver.received == []
    assert list(Notification.objects.order_by("id").values_list("channel__name", "event")) == [
        ("all", "alert.opened"),
        ("all", "alert.resolved"),
    ]
    assert Alert.objects.get().amount == Decimal("120.00")
