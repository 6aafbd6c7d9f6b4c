from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0006_budgets_anomalies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CeleryTaskCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("task", models.CharField(max_length=255)),
                ("outcome", models.CharField(help_text="success, failure or retry.", max_length=16)),
                ("count", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["task", "outcome"],
                "constraints": [models.UniqueConstraint(fields=("task", "outcome"), name="celery_task_count_unique")],
            },
        ),
        migrations.CreateModel(
            name="Channel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                (
                    "webhook_url",
                    models.URLField(blank=True, help_text="Slack-compatible incoming webhook.", max_length=1024),
                ),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "events",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text='Events to send, e.g. ["alert.opened", "alert.resolved"]; empty: all.',
                    ),
                ),
                (
                    "min_amount",
                    models.DecimalField(
                        decimal_places=20,
                        default=0,
                        help_text="USD; events carrying a smaller amount (e.g. savings) are not sent.",
                        max_digits=38,
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_channels",
                        to="finops.team",
                    ),
                ),
            ],
            options={
                "ordering": ["team__name", "name", "id"],
            },
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event", models.CharField(max_length=64)),
                (
                    "subject",
                    models.CharField(help_text="What the message is about, e.g. alert:17 or action:9.", max_length=128),
                ),
                ("medium", models.CharField(choices=[("webhook", "Webhook"), ("email", "Email")], max_length=16)),
                ("status", models.CharField(choices=[("sent", "Sent"), ("failed", "Failed")], max_length=16)),
                ("attempts", models.PositiveIntegerField(default=1)),
                ("response_status", models.PositiveIntegerField(blank=True, null=True)),
                ("error", models.TextField(blank=True)),
                ("payload", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to="finops.channel"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="Alert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("budget_actual", "Budget: actual spend"),
                            ("budget_forecast", "Budget: forecast spend"),
                            ("cost_anomaly", "Cost anomaly"),
                            ("stale_ingestion", "Stale ingestion"),
                            ("action_failed", "Action failed or rolled back"),
                            ("quota_headroom", "Quota headroom"),
                            ("unallocated_share", "Unallocated share"),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="What the alert is about within its kind, e.g. account:123.", max_length=255
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("open", "Open"), ("resolved", "Resolved")], default="open", max_length=16
                    ),
                ),
                (
                    "severity",
                    models.CharField(
                        choices=[("info", "Info"), ("warning", "Warning"), ("critical", "Critical")],
                        default="warning",
                        max_length=16,
                    ),
                ),
                ("title", models.CharField(max_length=255)),
                ("text", models.TextField(blank=True)),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "amount",
                    models.DecimalField(
                        blank=True,
                        decimal_places=20,
                        help_text="USD at stake (e.g. an anomaly's impact); channels' min_amount.",
                        max_digits=38,
                        null=True,
                    ),
                ),
                ("opened_at", models.DateTimeField()),
                ("last_seen_at", models.DateTimeField()),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="alerts",
                        to="finops.team",
                    ),
                ),
            ],
            options={
                "ordering": ["-opened_at", "-id"],
                "indexes": [models.Index(fields=["state", "kind"], name="finops_aler_state_01f617_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("state", "open")), fields=("kind", "key"), name="alert_open_once_per_key"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("resolved_at__isnull", True), ("state", "open")),
                            models.Q(("resolved_at__isnull", False), ("state", "resolved")),
                            _connector="OR",
                        ),
                        name="alert_resolved_has_time",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="channel",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("webhook_url", ""), _negated=True),
                    models.Q(("email", ""), _negated=True),
                    _connector="OR",
                ),
                name="channel_has_destination",
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["status", "created_at"], name="finops_noti_status_b44344_idx"),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "sent")),
                fields=("channel", "medium", "event", "subject"),
                name="notification_channel_sent_once",
            ),
        ),
    ]
