"""Notification channels: who may add, change, delete and test them, and what a channel may be.

Operators and admins edit any channel, global ones included. A team's approvers edit their own team's
channels (so a team sets its own Slack webhook and email for alerts and right-sizing announcements), and
only those: never a global channel, never another team's, and never moving one to a team they do not
approve for. The Alerts page and /api/v1/channels both call these functions, so the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from finops.models import Channel, Notification, Team
from finops.roles import user_approver_team_ids, user_is_operator
from finops.services.notifications import Message, _send, message_email, message_webhook_body

# Every event `notify` is called with (grep `notify(`): a channel's `events` may list only these.
EVENTS: dict[str, str] = {
    "alert.opened": "An alert opens",
    "alert.resolved": "An alert resolves",
    "recommendation.new": "A new right-sizing recommendation",
    "action.announced": "An action is announced (grace period starts)",
}
# A test message from the channel editor; sent to one channel directly, never subscribed to.
TEST_EVENT = "channel.test"

FIELDS = ("team", "name", "webhook_url", "email", "events", "min_amount", "enabled")
NAME_MAX = Channel._meta.get_field("name").max_length
WEBHOOK_MAX = Channel._meta.get_field("webhook_url").max_length

User = AbstractBaseUser | AnonymousUser


class ChannelForbidden(Exception):
    """The user may not change this channel (operators: any; a team's approvers: their team's only)."""


class ChannelInputError(ValueError):
    """Bad input: `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


def channel_team_ids_editable(*, user: User) -> set[int] | None:
    """The teams whose channels `user` may edit; None means every team and the global channels."""
    if user_is_operator(user):
        return None
    return user_approver_team_ids(user)


def channel_can_edit(*, user: User, team_id: int | None) -> bool:
    """May `user` edit a channel of this team (None: a global channel)?"""
    editable = channel_team_ids_editable(user=user)
    if editable is None:
        return True
    return team_id is not None and team_id in editable


def channel_can_edit_any(*, user: User) -> bool:
    """Does `user` edit at least some channels (and so see the editor)?"""
    editable = channel_team_ids_editable(user=user)
    return editable is None or bool(editable)


def _require(user: User, team_id: int | None) -> None:
    if not channel_can_edit(user=user, team_id=team_id):
        if team_id is None:
            raise ChannelForbidden("Global channels are edited by operators and admins only.")
        raise ChannelForbidden("Only operators, admins and the team's approvers edit a team's channels.")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def channel_validate(*, data: Mapping[str, Any], instance: Channel | None = None) -> dict[str, Any]:
    """Clean `data` (any of FIELDS; missing ones keep the instance's values) into Channel field values.

    Raises ChannelInputError with every problem found, field by field.
    """
    errors: dict[str, list[str]] = {}
    unknown = set(data) - set(FIELDS)
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]

    def current(name: str, default: Any) -> Any:
        if name in data:
            return data[name]
        return getattr(instance, name) if instance is not None else default

    values: dict[str, Any] = {}

    team = current("team", None)
    if team is not None and not isinstance(team, Team):
        errors["team"] = ["Choose a team (or none, for a global channel)."]
    values["team"] = team

    name = str(current("name", "") or "").strip()
    if not name:
        errors["name"] = ["Give the channel a name."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    values["name"] = name

    webhook_url = str(current("webhook_url", "") or "").strip()
    if webhook_url and not _is_http_url(webhook_url):
        errors["webhook_url"] = ["The webhook URL must start with http:// or https:// and name a host."]
    elif len(webhook_url) > WEBHOOK_MAX:
        errors["webhook_url"] = [f"At most {WEBHOOK_MAX} characters."]
    values["webhook_url"] = webhook_url

    email = str(current("email", "") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = ["Enter a valid email address."]
    values["email"] = email

    if not webhook_url and not email and "webhook_url" not in errors and "email" not in errors:
        errors["webhook_url"] = ["Give a webhook URL, an email address or both."]

    events = current("events", [])
    if isinstance(events, str) or not isinstance(events, Iterable):
        errors["events"] = ["Give a list of event names."]
        events = []
    cleaned: list[str] = []
    for event in events:
        if event not in EVENTS:
            errors.setdefault("events", []).append(f"Unknown event '{event}': choose among {', '.join(EVENTS)}.")
        elif event not in cleaned:
            cleaned.append(event)
    values["events"] = cleaned

    raw_amount = current("min_amount", Decimal(0))
    try:
        min_amount = Decimal(str(raw_amount if raw_amount not in (None, "") else 0))
    except InvalidOperation:
        errors["min_amount"] = ["Give an amount in USD, e.g. 250.00."]
        min_amount = Decimal(0)
    else:
        if not min_amount.is_finite() or min_amount < 0:
            errors["min_amount"] = ["The minimum amount cannot be negative."]
    values["min_amount"] = min_amount

    enabled = current("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = ["Give true or false."]
    values["enabled"] = enabled

    if errors:
        raise ChannelInputError(errors)
    return values


@transaction.atomic
def channel_create(*, user: User, data: Mapping[str, Any]) -> Channel:
    """Add a channel; its team (None: global) must be one `user` may edit."""
    team = data.get("team")
    _require(user, team.pk if isinstance(team, Team) else None)
    values = channel_validate(data=data)
    channel = Channel(**values)
    channel.save()
    return channel


@transaction.atomic
def channel_update(*, user: User, channel_id: int, data: Mapping[str, Any]) -> Channel:
    """Change some of a channel's fields. Moving it to another team needs the right to edit both teams'."""
    channel = Channel.objects.select_for_update().get(pk=channel_id)
    _require(user, channel.team_id)
    if "team" in data:
        team = data["team"]
        _require(user, team.pk if isinstance(team, Team) else None)
    values = channel_validate(data=data, instance=channel)
    for name, value in values.items():
        setattr(channel, name, value)
    channel.save()
    return channel


@transaction.atomic
def channel_delete(*, user: User, channel_id: int) -> None:
    """Delete a channel and its sent history (disable it instead to keep the history)."""
    channel = Channel.objects.select_for_update().get(pk=channel_id)
    _require(user, channel.team_id)
    channel.delete()


def channel_test_message(channel: Channel) -> Message:
    audience = f"the {channel.team.name} team" if channel.team_id else "every team (global)"
    hears = ", ".join(channel.events) if channel.events else "every event"
    return Message(
        title=f"Test message for {channel.name}",
        text=f"This channel is set up: Costplane will send here for {audience}.",
        fields={"Events": hears, "Minimum amount": f"${channel.min_amount:,.2f}" if channel.min_amount else "none"},
    )


def channel_test_send(*, user: User, channel_id: int, now: datetime | None = None) -> list[Notification]:
    """Send a test message to this one channel, by each of its mediums, now; returns the Notifications written.

    It goes to the channel whatever its events and minimum amount (and even when it is disabled, so it can be
    checked before it is switched on). Each test is its own subject, so every press sends once; a failed send
    is recorded (and retried) like any other notification, never raised.
    """
    now = now or timezone.now()
    channel = Channel.objects.select_related("team").get(pk=channel_id)
    _require(user, channel.team_id)
    message = channel_test_message(channel)
    subject = f"channel:{channel.pk}:test:{now:%Y%m%dT%H%M%S.%f}"
    written = []
    for medium in channel.mediums:
        payload = message_webhook_body(message) if medium == Notification.Medium.WEBHOOK else message_email(message)
        notification = Notification(
            channel=channel,
            event=TEST_EVENT,
            subject=subject,
            medium=medium,
            status=Notification.Status.FAILED,
            attempts=1,
            payload=payload,
            created_at=now,
        )
        written.append(_send(notification, now=now))
    return written
