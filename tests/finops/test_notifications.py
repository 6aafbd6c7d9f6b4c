from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError

from finops.models import Channel, Notification
from finops.services.notifications import Message, notifications_retry, notify
from tests.factories import TeamFactory
from tests.webhook_receiver import webhook_receiver

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MESSAGE = Message(title="GPU quota almost used", text="p5 vCPUs: 184 of 192.", fields={"Account": "123"}, url="")


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


@pytest.mark.django_db
def test_it_posts_a_slack_compatible_message_to_the_team_and_global_webhooks_once(receiver):
    team, other = TeamFactory(name="Vision"), TeamFactory(name="Search")
    Channel.objects.create(team=team, name="vision-alerts", webhook_url=receiver.url)
    Channel.objects.create(team=None, name="finops", webhook_url=receiver.url + "?global")
    Channel.objects.create(team=other, name="search-alerts", webhook_url=receiver.url + "?other")

    first = notify(event="alert.opened", subject="alert:1", message=MESSAGE, team=team, now=NOW)
    again = notify(event="alert.opened", subject="alert:1", message=MESSAGE, team=team, now=NOW)

    assert len(first) == 2 and again == []
    assert receiver.texts() == ["GPU quota almost used: p5 vCPUs: 184 of 192."] * 2
    body = receiver.received[0]
    assert body["blocks"][0]["text"]["text"] == "*GPU quota almost used*\np5 vCPUs: 184 of 192."
    assert body["blocks"][1]["fields"] == [{"type": "mrkdwn", "text": "*Account*\n123"}]
    assert {(n.channel.name, n.status, n.response_status, n.sent_at) for n in first} == {
        ("vision-alerts", "sent", 200, NOW),
        ("finops", "sent", 200, NOW),
    }


@pytest.mark.django_db
def test_it_sends_a_teamless_event_only_to_global_channels(receiver):
    Channel.objects.create(team=TeamFactory(), name="team", webhook_url=receiver.url + "?team")
    Channel.objects.create(team=None, name="global", webhook_url=receiver.url)

    sent = notify(event="alert.opened", subject="alert:2", message=MESSAGE, team=None, now=NOW)

    assert [n.channel.name for n in sent] == ["global"]


@pytest.mark.django_db
def test_it_respects_the_channel_event_list_the_minimum_amount_and_disabled_channels(receiver):
    team = TeamFactory()
    Channel.objects.create(team=team, name="only-resolves", webhook_url=receiver.url, events=["alert.resolved"])
    Channel.objects.create(team=team, name="big-savings", webhook_url=receiver.url, min_amount=Decimal("500"))
    Channel.objects.create(team=team, name="off", webhook_url=receiver.url, enabled=False)
    Channel.objects.create(team=team, name="everything", webhook_url=receiver.url)

    small = notify(
        event="recommendation.new", subject="recommendation:5", message=MESSAGE, team=team, amount=Decimal("499.99")
    )
    large = notify(
        event="recommendation.new", subject="recommendation:6", message=MESSAGE, team=team, amount=Decimal("500")
    )

    assert [n.channel.name for n in small] == ["everything"]
    assert sorted(n.channel.name for n in large) == ["big-savings", "everything"]


@pytest.mark.django_db
def test_it_emails_channels_with_an_address():
    team = TeamFactory(name="Vision")
    Channel.objects.create(team=team, name="mail", email="vision-oncall@example.com")

    [notification] = notify(
        event="alert.opened",
        subject="alert:3",
        message=Message(title="Budget 80% used", text="Vision: $8,000 of $10,000.", url="https://costplane/alerts/"),
        team=team,
        now=NOW,
    )

    assert notification.medium == "email" and notification.status == "sent"
    [email] = mail.outbox
    assert email.to == ["vision-oncall@example.com"]
    assert email.subject == "[Costplane] Budget 80% used"
    assert "Vision: $8,000 of $10,000." in email.body and "https://costplane/alerts/" in email.body


@pytest.mark.django_db
def test_it_sends_to_both_the_webhook_and_the_address_of_one_channel(receiver):
    Channel.objects.create(team=None, name="both", webhook_url=receiver.url, email="finops@example.com")

    sent = notify(event="alert.opened", subject="alert:4", message=MESSAGE, team=None, now=NOW)

    assert sorted(n.medium for n in sent) == ["email", "webhook"]
    assert len(receiver.received) == 1 and len(mail.outbox) == 1


@pytest.mark.django_db
def test_it_records_a_failed_send_without_raising_and_retries_it_until_sent(receiver, caplog):
    Channel.objects.create(team=None, name="flaky", webhook_url=receiver.url)
    receiver.status = 500

    [failed] = notify(event="alert.opened", subject="alert:7", message=MESSAGE, team=None, now=NOW)

    assert (failed.status, failed.response_status, failed.attempts, failed.sent_at) == ("failed", 500, 1, None)
    assert "HTTP 500" in failed.error
    assert "failed: HTTP 500" in caplog.text
    assert notifications_retry(now=NOW + timedelta(minutes=10)) == 0
    failed.refresh_from_db()
    assert failed.attempts == 2 and failed.status == "failed"

    receiver.status = 200
    later = NOW + timedelta(minutes=20)
    assert notifications_retry(now=later) == 1

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.response_status, failed.error, failed.sent_at) == (
        "sent",
        3,
        200,
        "",
        later,
    )
    assert receiver.texts() == ["GPU quota almost used: p5 vCPUs: 184 of 192."]
    assert notifications_retry(now=later) == 0
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_it_gives_up_retrying_after_the_maximum_attempts(receiver):
    Channel.objects.create(team=None, name="dead", webhook_url="http://127.0.0.1:9/unreachable")
    [failed] = notify(event="alert.opened", subject="alert:8", message=MESSAGE, team=None, now=NOW)
    assert failed.status == "failed" and failed.response_status is None and failed.error

    for _ in range(5):
        notifications_retry(max_attempts=3, now=NOW)

    failed.refresh_from_db()
    assert failed.attempts == 3 and failed.status == "failed"


@pytest.mark.django_db
def test_it_sends_a_failed_message_again_in_place_when_notified_again(receiver):
    Channel.objects.create(team=None, name="flaky", webhook_url=receiver.url)
    receiver.status = 503
    notify(event="alert.opened", subject="alert:9", message=MESSAGE, team=None, now=NOW)
    receiver.status = 200

    [notification] = notify(event="alert.opened", subject="alert:9", message=MESSAGE, team=None, now=NOW)

    assert (notification.status, notification.attempts) == ("sent", 2)
    assert Notification.objects.count() == 1 and len(receiver.received) == 1


@pytest.mark.django_db
def test_it_refuses_a_channel_without_a_webhook_or_an_address():
    with pytest.raises(IntegrityError):
        Channel.objects.create(team=None, name="nowhere")


@pytest.mark.django_db(transaction=True)
def test_it_sends_one_message_when_two_workers_notify_the_same_subject_at_once(receiver):
    import threading

    from django.db import connection

    Channel.objects.create(team=None, name="global", webhook_url=receiver.url)
    receiver.delay = 0.5  # the first send is still in flight when the second worker looks
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            notify(event="action.announced", subject="action:9", message=MESSAGE, team=None, now=NOW)
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
    assert len(receiver.received) == 1
    assert Notification.objects.filter(status="sent").count() == 1
