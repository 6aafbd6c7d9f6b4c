"""Migration 0006 moves capacity's team channels onto finops channels, keeping what was already announced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("capacity", "0005_policies"), ("finops", "0007_alerts_channels")]
AFTER = [("capacity", "0006_team_channels_to_finops")]


@pytest.mark.django_db(transaction=True)
def test_it_copies_each_team_channel_and_its_sent_announcements():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    team = old.get_model("finops", "Team").objects.create(name="Vision", slug="vision", tag_values=["vision"])
    account = old.get_model("finops", "CloudAccount").objects.create(account_id="481516234202", name="ml-prod")
    at = datetime(2025, 6, 16, 10, tzinfo=UTC)
    recommendation = old.get_model("capacity", "Recommendation").objects.create(
        source="costplane", kind="rightsize", account=account, region="us-east-1", resource_type="Ec2Instance",
        resource_arn="arn:aws:ec2:us-east-1:481516234202:instance/i-1", team=team, first_seen=at, last_seen=at,
    )  # fmt: skip
    channel = old.get_model("capacity", "TeamChannel").objects.create(
        team=team, webhook_url="https://hooks.example.com/vision", min_savings=Decimal("250"), enabled=True
    )
    notifications = old.get_model("capacity", "Notification").objects
    notifications.create(recommendation=recommendation, channel=channel, status="sent", response_status=200, sent_at=at)
    notifications.create(recommendation=recommendation, channel=channel, status="failed", error="timeout", sent_at=at)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    moved = new.get_model("finops", "Channel").objects.get()
    assert (moved.team_id, moved.webhook_url, moved.min_amount, moved.events, moved.enabled) == (
        team.pk, "https://hooks.example.com/vision", Decimal("250"), ["recommendation.new"], True,
    )  # fmt: skip
    sent = new.get_model("finops", "Notification").objects.get()
    assert (sent.event, sent.subject, sent.status, sent.medium) == (
        "recommendation.new", f"recommendation:{recommendation.pk}", "sent", "webhook",
    )  # fmt: skip
    assert "teamchannel" not in {model._meta.model_name for model in new.get_app_config("capacity").get_models()}
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
