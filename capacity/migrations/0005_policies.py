from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0004_actions_execution"),
        ("finops", "0007_alerts_channels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="action",
            name="attempts",
            field=models.PositiveIntegerField(default=0, help_text="Times a worker started it."),
        ),
        migrations.AddField(
            model_name="action",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="action",
            name="hourly_saving",
            field=models.DecimalField(
                blank=True,
                decimal_places=20,
                help_text="Estimated from on-demand prices; blank when no price is known.",
                max_digits=38,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="action",
            name="reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="action",
            name="run_after",
            field=models.DateTimeField(blank=True, help_text="Announced: runs at or after this time.", null=True),
        ),
        migrations.AddField(
            model_name="action",
            name="transition_at",
            field=models.DateTimeField(blank=True, help_text="The schedule boundary or idle decision.", null=True),
        ),
        migrations.AlterField(
            model_name="action",
            name="kind",
            field=models.CharField(
                choices=[
                    ("rightsize", "Right-size"),
                    ("idle", "Idle: stop or delete"),
                    ("stop", "Stop"),
                    ("start", "Start"),
                    ("delete", "Delete endpoint"),
                    ("recreate", "Recreate endpoint"),
                    ("scale_to_zero", "Scale to zero"),
                    ("restore", "Restore size"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="action",
            name="recommendation",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="action",
                to="capacity.recommendation",
            ),
        ),
        migrations.CreateModel(
            name="Policy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200, unique=True)),
                ("description", models.TextField(blank=True)),
                ("enabled", models.BooleanField(default=True)),
                (
                    "dry_run",
                    models.BooleanField(
                        default=True, help_text="A new policy only simulates (DryRun=True where AWS has it)."
                    ),
                ),
                (
                    "resource_kinds",
                    models.JSONField(blank=True, default=list, help_text="capacity.Resource kinds, e.g. ec2_instance."),
                ),
                ("regions", models.JSONField(blank=True, default=list, help_text="Empty: every region.")),
                ("tag_filters", models.JSONField(blank=True, default=dict, help_text='{"team": ["vision", "speech"]}')),
                (
                    "include_prod",
                    models.BooleanField(default=False, help_text="Act on resources tagged as production too."),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("stop_start", "Stop and start (EC2 instances, notebook instances)"),
                            ("endpoint_delete_recreate", "Delete a SageMaker endpoint, recreate it from its config"),
                            (
                                "scale_to_zero",
                                "Scale an Auto Scaling group or EKS node group to zero, restore its size",
                            ),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "trigger",
                    models.CharField(
                        choices=[("schedule", "Off-hours schedule"), ("idle", "Idle rule")],
                        default="schedule",
                        max_length=16,
                    ),
                ),
                (
                    "schedule",
                    models.CharField(
                        blank=True,
                        help_text="e.g. off=(M-F,19);on=(M-F,7);tz=Europe/Berlin. Blank: the resource tag.",
                        max_length=500,
                    ),
                ),
                ("schedule_tag_key", models.CharField(default="costplane:schedule", max_length=128)),
                (
                    "idle_hours",
                    models.PositiveIntegerField(blank=True, help_text="Idle rules: hours in a row.", null=True),
                ),
                (
                    "idle_gpu_percent",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="GPU instances and clusters: idle below this.",
                        max_digits=6,
                        null=True,
                    ),
                ),
                (
                    "idle_cpu_percent",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Notebooks: idle below this CPU %.",
                        max_digits=6,
                        null=True,
                    ),
                ),
                (
                    "grace_minutes",
                    models.PositiveIntegerField(default=30, help_text="Announced this long before it runs."),
                ),
                ("max_actions_per_run", models.PositiveIntegerField(default=10)),
                ("last_evaluated_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_run",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="The last evaluation: counts, and per-resource errors (bad schedule tags).",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("accounts", models.ManyToManyField(blank=True, related_name="policies", to="finops.cloudaccount")),
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
                    "updated_by",
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
                "verbose_name_plural": "policies",
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="action",
            name="policy",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="actions",
                to="capacity.policy",
            ),
        ),
        migrations.AddIndex(
            model_name="action",
            index=models.Index(fields=["policy", "state"], name="capacity_ac_policy__288b34_idx"),
        ),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.UniqueConstraint(
                condition=models.Q(("policy__isnull", False)),
                fields=("policy", "resource", "kind", "transition_at"),
                name="action_once_per_policy_boundary",
            ),
        ),
        migrations.AddConstraint(
            model_name="policy",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_actions_per_run__gte", 1)), name="policy_cap_positive"
            ),
        ),
    ]
