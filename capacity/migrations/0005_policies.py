from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0004_actions_execution"),
        ("finops", "0007_alerts_channels"),
    ]

    operations = []
