from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0006_budgets_anomalies"),
    ]

    operations = []
