from __future__ import annotations

from django.db import migrations


def team_channels_copy(apps, schema_editor):
    """Each capacity TeamChannel becomes a finops Channel of the same team that hears new recommendations; sent
    announcements are kept as finops Notifications so nothing is announced twice."""
    TeamChannel = apps.get_model("capacity", "TeamChannel")
    CapacityNotification = apps.get_model("capacity", "Notification")
    Channel = apps.get_model("finops", "Channel")
    Notification = apps.get_model("finops", "Notification")
    for old in TeamChannel.objects.select_related("team").order_by("id"):
        channel = Channel.objects.create(
            team=old.team,
            name=f"{old.team.name} announcements"[:100],
            webhook_url=old.webhook_url,
            email=old.email,
            events=["recommendation.new"],
            min_amount=old.min_savings,
            enabled=old.enabled,
        )
        for sent in CapacityNotification.objects.filter(channel=old, status="sent").order_by("id"):
            Notification.objects.create(
                channel=channel,
                event="recommendation.new",
                subject=f"recommendation:{sent.recommendation_id}",
                medium="webhook",
                status="sent",
                attempts=1,
                response_status=sent.response_status,
                created_at=sent.sent_at,
                sent_at=sent.sent_at,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0005_policies"),
        ("finops", "0007_alerts_channels"),
    ]

    operations = [
        migrations.RunPython(team_channels_copy, migrations.RunPython.noop),
        migrations.DeleteModel(name="Notification"),
        migrations.DeleteModel(name="TeamChannel"),
    ]
