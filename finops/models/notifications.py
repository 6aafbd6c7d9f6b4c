from __future__ import annotations

from django.db import models

from finops.models.billing import MONEY


class Channel(models.Model):
    """Where notifications go: a Slack-compatible incoming webhook and/or an email address.

    A channel without a team is global: it hears every team's events. `events` narrows what it hears
    (empty: every event); `min_amount` drops events whose amount (e.g. monthly savings) is smaller.
    """

    team = models.ForeignKey(
        "finops.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=100)
    webhook_url = models.URLField(max_length=1024, blank=True, help_text="Slack-compatible incoming webhook.")
    email = models.EmailField(blank=True)
    events = models.JSONField(
        default=list, blank=True, help_text='Events to send, e.g. ["alert.opened", "alert.resolved"]; empty: all.'
    )
    min_amount = models.DecimalField(
        **MONEY, default=0, help_text="USD; events carrying a smaller amount (e.g. savings) are not sent."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(webhook_url="") | ~models.Q(email=""), name="channel_has_destination"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.team or 'global'})"

    @property
    def mediums(self) -> list[str]:
        return [
            medium
            for medium, target in (
                (Notification.Medium.WEBHOOK, self.webhook_url),
                (Notification.Medium.EMAIL, self.email),
            )
            if target
        ]


class Notification(models.Model):
    """One message about one subject (e.g. `alert:17`) to one channel by one medium, and how it went.

    A failed send keeps its payload and is retried (attempts counts the tries) until it is sent.
    """

    class Medium(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=64)
    subject = models.CharField(max_length=128, help_text="What the message is about, e.g. alert:17 or action:9.")
    medium = models.CharField(max_length=16, choices=Medium.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=1)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Each message reaches a channel once; a failed one is retried in place until it is sent.
            models.UniqueConstraint(
                fields=["channel", "medium", "event", "subject"],
                condition=models.Q(status="sent"),
                name="notification_channel_sent_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.subject} -> {self.channel_id} ({self.medium}, {self.status})"


class CeleryTaskCount(models.Model):
    """How many times a Celery task ended with an outcome, across every worker process (/metrics)."""

    task = models.CharField(max_length=255)
    outcome = models.CharField(max_length=16, help_text="success, failure or retry.")
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "outcome"]
        constraints = [models.UniqueConstraint(fields=["task", "outcome"], name="celery_task_count_unique")]

    def __str__(self) -> str:
        return f"{self.task} {self.outcome}: {self.count}"
