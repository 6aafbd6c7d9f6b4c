"""Notifications: send one message about one subject to the channels that want it, once each, and record it.

Other parts call `notify` (alerts, recommendations, announced actions). A channel hears an event when it
is enabled, belongs to the event's team or to no team (global), lists the event (or lists none), and the
event's amount, if any, reaches its `min_amount`. A webhook gets a Slack-compatible JSON body; an email
goes through Django's mail backend (EMAIL_* settings). A failed send is recorded with its error and
retried by `notifications_retry`; it is never raised to the caller.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from finops.models import Channel, Notification, Team

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """What to say: a title (the email subject, the message's first line), text, labelled fields, a link."""

    title: str
    text: str
    fields: dict[str, str] = field(default_factory=dict)
    url: str = ""


def message_webhook_body(message: Message) -> dict[str, Any]:
    """A Slack-compatible body: `text` for clients that show only that, `blocks` for the rest."""
    text = f"*{message.title}*\n{message.text}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in message.fields.items()],
            }
        )
    if message.url:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message.url}|Open in Costplane>"}]}
        )
    return {"text": f"{message.title}: {message.text}", "blocks": blocks}


def message_email(message: Message) -> dict[str, str]:
    lines = [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.fields.items()]
    if message.url:
        lines += ["", message.url]
    return {"subject": f"[Costplane] {message.title}", "body": "\n".join(lines).strip() + "\n"}


def _deliver(*, medium: str, target: str, payload: dict[str, Any]) -> tuple[int | None, str]:
    """Send one payload; returns (response status, error text), error empty on success. Never raises."""
    if medium == Notification.Medium.WEBHOOK:
        request = urllib.request.Request(
            target, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.COSTPLANE_NOTIFY_TIMEOUT) as response:  # noqa: S310 (operator-set URL)
                status = response.status
        except urllib.error.HTTPError as failure:
            return failure.code, f"HTTP {failure.code}: {failure.reason}"
        except (urllib.error.URLError, OSError, ValueError) as failure:
            return None, str(getattr(failure, "reason", failure)) or type(failure).__name__
        return status, "" if 200 <= status < 300 else f"HTTP {status}"
    try:
        send_mail(payload["subject"], payload["body"], None, [target], fail_silently=False)
    except Exception as failure:  # noqa: BLE001 (any backend error is a failed send, recorded, not raised)
        return None, f"{type(failure).__name__}: {failure}"
    return None, ""


def _target(channel: Channel, medium: str) -> str:
    return channel.webhook_url if medium == Notification.Medium.WEBHOOK else channel.email


def _send(notification: Notification, *, now: datetime) -> Notification:
    status, error = _deliver(
        medium=notification.medium,
        target=_target(notification.channel, notification.medium),
        payload=notification.payload,
    )
    notification.response_status = status
    notification.error = error
    if error:
        notification.status = Notification.Status.FAILED
    else:
        notification.status = Notification.Status.SENT
        notification.sent_at = now
    notification.save()
    if error:
        logger.warning(
            "Notification %s (%s %s) to channel %s by %s failed: %s",
            notification.pk,
            notification.event,
            notification.subject,
            notification.channel_id,
            notification.medium,
            error,
        )
    return notification


def _channel_lock(channel_id: int) -> bool:
    """Lock one channel's row until the transaction ends; False when it is gone."""
    return bool(list(Channel.objects.select_for_update().filter(pk=channel_id).order_by().values_list("pk")))


def channels_for(*, event: str, team: Team | None, amount: Decimal | None = None) -> list[Channel]:
    """The enabled channels that want this event: the team's and the global ones."""
    channels = Channel.objects.filter(enabled=True).filter(
        Q(team__isnull=True) | Q(team=team) if team else Q(team__isnull=True)
    )
    if amount is not None:
        channels = channels.filter(min_amount__lte=amount)
    return [channel for channel in channels.order_by("id") if not channel.events or event in channel.events]


def notify(
    *,
    event: str,
    subject: str,
    message: Message,
    team: Team | None,
    amount: Decimal | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Send `message` to every channel that wants `event`, once per (channel, medium); returns the rows written.

    A (channel, medium) that already has this event and subject sent is skipped; one that failed before is
    tried again in place. Failures are recorded and logged, never raised.
    """
    now = now or timezone.now()
    written: list[Notification] = []
    for channel in channels_for(event=event, team=team, amount=amount):
        for medium in channel.mediums:
            payload = message_webhook_body(message) if medium == Notification.Medium.WEBHOOK else message_email(message)
            with transaction.atomic():
                # The channel's row lock serialises two workers notifying the same subject at once.
                _channel_lock(channel.pk)
                existing = (
                    Notification.objects.filter(channel=channel, medium=medium, event=event, subject=subject)
                    .order_by("-created_at", "-id")
                    .first()
                )
                if existing is not None and existing.status == Notification.Status.SENT:
                    continue
                if existing is None:
                    notification = Notification(
                        channel=channel,
                        event=event,
                        subject=subject,
                        medium=medium,
                        status=Notification.Status.FAILED,
                        attempts=1,
                        payload=payload,
                        created_at=now,
                    )
                else:
                    notification = existing
                    notification.attempts += 1
                    notification.payload = payload
                notification.channel = channel
                written.append(_send(notification, now=now))
    return written


def notifications_retry(*, max_attempts: int = 5, now: datetime | None = None) -> int:
    """Send failed notifications again (up to `max_attempts` tries each); returns how many went through."""
    now = now or timezone.now()
    sent = 0
    pending = Notification.objects.filter(status=Notification.Status.FAILED, attempts__lt=max_attempts).values_list(
        "pk", flat=True
    )
    for pk in list(pending):
        with transaction.atomic():
            # Lock the channel first, as `notify` does, so the two never send the same message twice.
            channel_id = Notification.objects.filter(pk=pk).values_list("channel_id", flat=True).first()
            if channel_id is None or not _channel_lock(channel_id):
                continue
            notification = (
                Notification.objects.select_related("channel")
                .filter(pk=pk, status=Notification.Status.FAILED, attempts__lt=max_attempts)
                .first()
            )
            if notification is None:
                continue
            if not notification.channel.enabled or not _target(notification.channel, notification.medium):
                continue
            notification.attempts += 1
            sent += _send(notification, now=now).status == Notification.Status.SENT
    return sent
