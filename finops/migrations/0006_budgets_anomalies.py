from __future__ import annotations

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0005_load_cost"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Budget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200, unique=True)),
                ("tag_key", models.CharField(blank=True, max_length=128)),
                ("tag_value", models.CharField(blank=True, max_length=256)),
                (
                    "account_id",
                    models.CharField(
                        blank=True,
                        max_length=12,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^\\d{12}$", "An AWS account id has exactly 12 digits."
                            )
                        ],
                    ),
                ),
                ("service", models.CharField(blank=True, max_length=200)),
                (
                    "period",
                    models.CharField(
                        choices=[("month", "Month"), ("quarter", "Quarter")], default="month", max_length=10
                    ),
                ),
                ("amount", models.DecimalField(decimal_places=20, max_digits=38)),
                ("currency", models.CharField(default="USD", max_length=3)),
                (
                    "cost_basis",
                    models.CharField(
                        choices=[("billed", "Billed"), ("effective", "Effective (amortised, net)")],
                        default="billed",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "created_by",
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
                        help_text="Only the spend tagged with one of this team's tag values.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="budgets",
                        to="finops.team",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="BudgetThreshold",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("percent", models.DecimalField(decimal_places=2, max_digits=7)),
                (
                    "kind",
                    models.CharField(
                        choices=[("actual", "Actual"), ("forecast", "Forecast")], default="actual", max_length=10
                    ),
                ),
                (
                    "budget",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="thresholds", to="finops.budget"
                    ),
                ),
            ],
            options={
                "ordering": ["budget", "kind", "percent"],
            },
        ),
        migrations.CreateModel(
            name="BudgetCrossing",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("period_start", models.DateField()),
                ("period_end", models.DateField(help_text="Exclusive.")),
                ("crossed_at", models.DateTimeField()),
                (
                    "spend",
                    models.DecimalField(
                        decimal_places=20,
                        help_text="The actual or forecast spend that reached the threshold.",
                        max_digits=38,
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        blank=True, help_text="For forecast thresholds: forecast or run_rate.", max_length=20
                    ),
                ),
                (
                    "threshold",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="crossings",
                        to="finops.budgetthreshold",
                    ),
                ),
            ],
            options={
                "ordering": ["-period_start", "threshold"],
            },
        ),
        migrations.CreateModel(
            name="CostAnomaly",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "source",
                    models.CharField(
                        choices=[("costplane", "Costplane"), ("aws", "AWS Cost Anomaly Detection")],
                        default="costplane",
                        max_length=12,
                    ),
                ),
                (
                    "dimension",
                    models.CharField(
                        choices=[("service", "Service"), ("account", "Account"), ("team", "Team")], max_length=12
                    ),
                ),
                (
                    "value",
                    models.CharField(help_text="The service name, 12-digit account id or team slug.", max_length=256),
                ),
                ("day", models.DateField(help_text="The anomalous day (AWS: the anomaly's start date).")),
                (
                    "end_day",
                    models.DateField(blank=True, help_text="AWS: the anomaly's end date, if it ended.", null=True),
                ),
                ("expected", models.DecimalField(decimal_places=20, max_digits=38)),
                ("actual", models.DecimalField(decimal_places=20, max_digits=38)),
                ("impact", models.DecimalField(decimal_places=20, help_text="Actual minus expected.", max_digits=38)),
                (
                    "score",
                    models.FloatField(
                        help_text="Ours: (actual − baseline median) / (1.4826 × MAD). AWS: its max score."
                    ),
                ),
                ("currency", models.CharField(default="USD", max_length=3)),
                (
                    "contributors",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='{"usage_types": [...], "resources": [...]} or AWS root causes.',
                    ),
                ),
                ("external_id", models.CharField(blank=True, help_text="AWS: AnomalyId.", max_length=256)),
                ("monitor_arn", models.CharField(blank=True, max_length=2048)),
                (
                    "feedback",
                    models.CharField(
                        blank=True,
                        choices=[("real", "Real anomaly"), ("expected", "Expected"), ("not_anomaly", "Not an anomaly")],
                        max_length=12,
                    ),
                ),
                ("feedback_at", models.DateTimeField(blank=True, null=True)),
                ("detected_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.ForeignKey(
                        blank=True,
                        help_text="AWS: the account whose Cost Explorer reported it.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cost_anomalies",
                        to="finops.cloudaccount",
                    ),
                ),
                (
                    "feedback_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-day", "-impact", "id"],
            },
        ),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.CheckConstraint(condition=models.Q(("amount__gt", 0)), name="budget_amount_positive"),
        ),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("tag_key", ""), ("tag_value", "")),
                    models.Q(("tag_key", ""), _negated=True),
                    _connector="OR",
                ),
                name="budget_tag_value_needs_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="budgetthreshold",
            constraint=models.UniqueConstraint(fields=("budget", "kind", "percent"), name="budget_threshold_unique"),
        ),
        migrations.AddConstraint(
            model_name="budgetthreshold",
            constraint=models.CheckConstraint(
                condition=models.Q(("percent__gt", 0)), name="budget_threshold_percent_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="budgetcrossing",
            constraint=models.UniqueConstraint(
                fields=("threshold", "period_start"), name="budget_crossing_once_per_period"
            ),
        ),
        migrations.AddIndex(
            model_name="costanomaly",
            index=models.Index(fields=["dimension", "value", "-day"], name="cost_anomaly_value_day"),
        ),
        migrations.AddConstraint(
            model_name="costanomaly",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source", "costplane")),
                fields=("dimension", "value", "day"),
                name="cost_anomaly_once_per_value_day",
            ),
        ),
        migrations.AddConstraint(
            model_name="costanomaly",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source", "aws")), fields=("account", "external_id"), name="cost_anomaly_aws_unique"
            ),
        ),
    ]
