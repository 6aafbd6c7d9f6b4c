"""Channel editing rules (finops.services.channels): operators any channel, a team's approvers their team's
channels only, everyone else none; what a channel may be; the test message to one channel."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail

from finops.models import Channel, Notification
from finops.services.channels import (
    TEST_EVENT,
    ChannelForbidden,
    ChannelInputError,
    channel_create,
    channel_delete,
    channel_test_send,
    channel_update,
)
from finops.services.notifications import notifications_retry
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory
from tests.webhook_receiver import webhook_receiver

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOOK = "https://hooks.example.com/services/T0/B0/x"


@pytest.fixture
def teams(db):
    return TeamFactory(name="Vision", slug="vision"), TeamFactory(name="Speech", slug="speech")


@pytest.fixture
def approver(teams):
    user = UserFactory(username="val")
    TeamMembershipFactory(team=teams[0], user=user)
    return user


@pytest.mark.django_db
def test_it_lets_an_operator_add_change_and_delete_any_channel_global_included(operator, teams):
    vision, speech = teams
    global_channel = channel_create(user=operator, data={"name": "finops", "email": "finops@example.com"})
    team_channel = channel_create(
        user=operator,
        data={"name": "vision-oncall", "team": vision, "webhook_url": HOOK, "events": ["alert.opened"]},
    )

    moved = channel_update(user=operator, channel_id=team_channel.pk, data={"team": speech, "min_amount": "250.5"})
    channel_delete(user=operator, channel_id=global_channel.pk)

    assert (moved.team, moved.min_amount, moved.events, moved.enabled) == (
        speech,
        Decimal("250.5"),
        ["alert.opened"],
        True,
    )
    assert list(Channel.objects.values_list("name", flat=True)) == ["vision-oncall"]


@pytest.mark.django_db
def test_it_lets_an_admin_edit_a_global_channel(admin_user):
    channel = channel_create(user=admin_user, data={"name": "finops", "email": "finops@example.com"})
    assert channel_update(user=admin_user, channel_id=channel.pk, data={"enabled": False}).enabled is False


@pytest.mark.django_db
def test_it_lets_an_approver_edit_only_its_own_teams_channels(approver, teams):
    vision, speech = teams
    other = Channel.objects.create(team=speech, name="speech-oncall", email="speech@example.com")
    global_channel = Channel.objects.create(team=None, name="finops", email="finops@example.com")

    own = channel_create(user=approver, data={"name": "vision-slack", "team": vision, "webhook_url": HOOK})
    disabled = channel_update(user=approver, channel_id=own.pk, data={"enabled": False, "email": "v@example.com"})

    assert (disabled.team, disabled.enabled, disabled.email) == (vision, False, "v@example.com")
    for forbidden in (
        lambda: channel_create(user=approver, data={"name": "x", "team": speech, "webhook_url": HOOK}),
        lambda: channel_create(user=approver, data={"name": "x", "webhook_url": HOOK}),
        lambda: channel_update(user=approver, channel_id=other.pk, data={"enabled": False}),
        lambda: channel_update(user=approver, channel_id=global_channel.pk, data={"enabled": False}),
        lambda: channel_update(user=approver, channel_id=own.pk, data={"team": speech}),
        lambda: channel_update(user=approver, channel_id=own.pk, data={"team": None}),
        lambda: channel_delete(user=approver, channel_id=other.pk),
        lambda: channel_test_send(user=approver, channel_id=other.pk),
    ):
        with pytest.raises(ChannelForbidden):
            forbidden()
    assert set(Channel.objects.values_list("name", "team__slug", "enabled")) == {
        ("vision-slack", "vision", False),
        ("speech-oncall", "speech", True),
        ("finops", None, True),
    }
    channel_delete(user=approver, channel_id=own.pk)
    assert not Channel.objects.filter(pk=own.pk).exists()


@pytest.mark.django_db
def test_it_lets_a_viewer_or_someone_without_a_role_edit_nothing(viewer, nobody, teams):
    channel = Channel.objects.create(team=teams[0], name="vision-oncall", email="vision@example.com")
    for user in (viewer, nobody):
        with pytest.raises(ChannelForbidden):
            channel_create(user=user, data={"name": "x", "team": teams[0], "email": "x@example.com"})
        with pytest.raises(ChannelForbidden):
            channel_update(user=user, channel_id=channel.pk, data={"enabled": False})
        with pytest.raises(ChannelForbidden):
            channel_delete(user=user, channel_id=channel.pk)
        with pytest.raises(ChannelForbidden):
            channel_test_send(user=user, channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.enabled and Channel.objects.count() == 1 and not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"name": "nowhere"}, {"webhook_url": ["Give a webhook URL, an email address or both."]}),
        (
            {"name": "ftp", "webhook_url": "ftp://hooks.example.com/x"},
            {"webhook_url": ["The webhook URL must start with http:// or https:// and name a host."]},
        ),
        (
            {"name": "no-host", "webhook_url": "https://"},
            {"webhook_url": ["The webhook URL must start with http:// or https:// and name a host."]},
        ),
        ({"name": "mail", "email": "not-an-address"}, {"email": ["Enter a valid email address."]}),
        (
            {"name": "typo", "email": "x@example.com", "events": ["alert.opened", "alert.open"]},
            {
                "events": [
                    "Unknown event 'alert.open': choose among alert.opened, alert.resolved, recommendation.new, "
                    "action.announced."
                ]
            },
        ),
        (
            {"name": "test-only", "email": "x@example.com", "events": ["channel.test"]},
            {
                "events": [
                    "Unknown event 'channel.test': choose among alert.opened, alert.resolved, recommendation.new, "
                    "action.announced."
                ]
            },
        ),
        (
            {"name": "  ", "email": "x@example.com", "min_amount": "-1"},
            {"name": ["Give the channel a name."], "min_amount": ["The minimum amount cannot be negative."]},
        ),
    ],
)
def test_it_refuses_a_channel_that_is_not_valid_with_every_reason(operator, data, errors):
    with pytest.raises(ChannelInputError) as refused:
        channel_create(user=operator, data=data)
    assert refused.value.errors == errors
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_it_keeps_known_events_once_each_in_the_order_given(operator):
    channel = channel_create(
        user=operator,
        data={
            "name": "ops",
            "webhook_url": "http://127.0.0.1:8080/hook",
            "events": ["action.announced", "recommendation.new", "action.announced"],
        },
    )
    assert channel.events == ["action.announced", "recommendation.new"]


@pytest.mark.django_db
def test_it_refuses_an_update_that_leaves_nowhere_to_send(operator):
    channel = Channel.objects.create(name="ops", email="ops@example.com")
    with pytest.raises(ChannelInputError) as refused:
        channel_update(user=operator, channel_id=channel.pk, data={"email": ""})
    assert refused.value.errors == {"webhook_url": ["Give a webhook URL, an email address or both."]}
    channel.refresh_from_db()
    assert channel.email == "ops@example.com"


@pytest.mark.django_db
def test_it_sends_a_test_message_to_that_one_channel_by_each_medium_whatever_its_events(approver, teams):
    vision = teams[0]
    with webhook_receiver() as receiver:
        channel = Channel.objects.create(
            team=vision,
            name="vision-slack",
            webhook_url=receiver.url,
            email="vision@example.com",
            events=["alert.opened"],
            min_amount=500,
            enabled=False,
        )
        Channel.objects.create(team=vision, name="another", webhook_url=receiver.url + "?other")
        Channel.objects.create(team=None, name="global", webhook_url=receiver.url + "?global")

        first = channel_test_send(user=approver, channel_id=channel.pk, now=NOW)
        second = channel_test_send(user=approver, channel_id=channel.pk, now=NOW.replace(minute=1))

    assert (
        receiver.texts()
        == ["Test message for vision-slack: This channel is set up: Costplane will send here for the Vision team."] * 2
    )
    assert receiver.received[0]["blocks"][1]["fields"] == [
        {"type": "mrkdwn", "text": "*Events*\nalert.opened"},
        {"type": "mrkdwn", "text": "*Minimum amount*\n$500.00"},
    ]
    assert [message.subject for message in mail.outbox] == ["[Costplane] Test message for vision-slack"] * 2
    assert {(n.event, n.medium, n.status, n.channel_id) for n in first + second} == {
        (TEST_EVENT, "webhook", "sent", channel.pk),
        (TEST_EVENT, "email", "sent", channel.pk),
    }
    assert Notification.objects.filter(event=TEST_EVENT).count() == 4


@pytest.mark.django_db
def test_it_records_a_failed_test_message_and_does_not_raise(operator):
    with webhook_receiver() as receiver:
        receiver.status = 500
        channel = Channel.objects.create(name="down", webhook_url=receiver.url)
        sent = channel_test_send(user=operator, channel_id=channel.pk, now=NOW)
        receiver.status = 200
        retried = notifications_retry(now=NOW)

    assert [(n.status, n.response_status, n.error) for n in sent] == [
        ("failed", 500, "HTTP 500: Internal Server Error")
    ]
    assert retried == 1 and receiver.texts()[0].startswith("Test message for down")
