"""The Alerts page in a browser: open alerts first (critical on top), resolved ones, channels and what was sent;
an operator acknowledges a failed action, and its alert resolves at the next evaluation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.services.alerts import alerts_evaluate
from finops.models import Alert, Channel, CloudAccount, IngestionRun, Notification
from tests.capacity.test_alerts import make_action, make_quota
from tests.factories import CloudAccountFactory, TeamFactory, UserFactory
from tests.webhook_receiver import webhook_receiver


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def alerts_seed(db, receiver):
    now = timezone.now()
    team = TeamFactory(name="Ranking", slug="ranking")
    Channel.objects.create(team=team, name="ranking-oncall", webhook_url=receiver.url)
    Channel.objects.create(team=None, name="finops-mail", email="finops@example.com", events=["alert.opened"])
    Channel.objects.create(team=None, name="broken-hook", webhook_url="http://127.0.0.1:9/down")
    prod = CloudAccountFactory(account_id="111111111111", name="ml-prod")
    IngestionRun.objects.create(account=prod, source="cost_explorer", status="succeeded", finished_at=now)
    research = CloudAccountFactory(account_id="222222222222", name="ml-research")
    CloudAccount.objects.filter(pk=research.pk).update(created_at=now - timedelta(days=4))
    failed = make_action(prod, team, state="failed", at=now, error="UpdateEndpoint: ResourceLimitExceeded")
    make_quota(prod, value="192", usage="190")
    alerts_evaluate(now=now - timedelta(hours=1))
    # One that cleared: a quota that had no headroom an hour ago and has now.
    quota = make_quota(prod, value="96", usage="96", code="L-DB2E81BA")
    alerts_evaluate(now=now - timedelta(minutes=30))
    quota.usage = 10
    quota.save()
    alerts_evaluate(now=now)
    return {"failed": failed, "team": team}


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_alerts_channels_and_notifications_and_acknowledges_a_failed_action(
    alerts_seed, page, live_server, receiver, tmp_path
):
    UserFactory(username="otto", roles=["operator"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "otto")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.click("nav.mainnav >> text=Alerts")
    page.wait_for_url(f"{live_server.url}/alerts/")
    nav = page.locator("nav.mainnav a").all_inner_texts()
    assert nav.index("Alerts") < nav.index("Accounts")
    assert page.locator("#open-count").inner_text() == "3"
    open_rows = page.locator("#open-alerts tbody tr")
    assert open_rows.count() == 3
    # Critical first: ml-research has never been ingested.
    assert "No billing data for ml-research" in open_rows.nth(0).inner_text()
    assert "Critical" in open_rows.nth(0).inner_text()
    failed = alerts_seed["failed"]
    action_row = page.locator(f"#open-alerts tr#alert-{Alert.objects.get(kind='action_failed').pk}")
    assert f"Action #{failed.pk} failed" in action_row.inner_text()
    assert "UpdateEndpoint: ResourceLimitExceeded" in action_row.inner_text()
    assert "Ranking" in action_row.inner_text()
    resolved_rows = page.locator("#resolved-alerts tbody tr")
    assert resolved_rows.count() == 1 and "Running On-Demand P instances" in resolved_rows.nth(0).inner_text()
    channels = page.locator("#channels-table tbody").inner_text()
    assert "ranking-oncall" in channels and "All teams (global)" in channels and "finops@example.com" in channels
    statuses = page.locator("#notifications-table tbody tr").evaluate_all("rows => rows.map(row => row.dataset.status)")
    assert statuses.count("failed") == Notification.objects.filter(status="failed").count() > 0
    assert "failed" in page.locator("#failed-count").inner_text()
    page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)

    action_row.locator("button:has-text('Acknowledge')").click()
    page.wait_for_selector("ul.messages li:has-text('Acknowledged')")
    assert (
        "Acknowledged by otto"
        in page.locator(f"#open-alerts tr#alert-{action_row.get_attribute('id')[6:]}").inner_text()
    )

    alerts_evaluate(now=timezone.now() + timedelta(minutes=15))
    page.reload()
    assert page.locator("#open-count").inner_text() == "2"
    assert f"Action #{failed.pk} failed" in page.locator("#resolved-alerts tbody").inner_text()
    # The team's webhook heard the opening and the resolve of its action's alert, once each.
    assert [text.split(":")[0] for text in receiver.texts()] == [f"Action #{failed.pk} failed", "Resolved"]
