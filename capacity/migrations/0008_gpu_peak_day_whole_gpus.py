from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0007_action_resource_type_kinds"),
    ]

    operations = [
        migrations.CreateModel(
            name="GpuPeakDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(unique=True)),
                ("peak_gpus", models.PositiveIntegerField(help_text="Whole GPUs.")),
                (
                    "source",
                    models.CharField(
                        choices=[("hourly", "Hourly data"), ("average", "Daily average (no hourly data)")],
                        max_length=10,
                    ),
                ),
                (
                    "peak_hour",
                    models.DateTimeField(blank=True, help_text="The first hour of the peak (hourly days).", null=True),
                ),
                ("hours_with_data", models.PositiveSmallIntegerField(default=0)),
                (
                    "inventory_gpus",
                    models.PositiveIntegerField(
                        help_text=(
                            "GPUs of the inventoried machines that had not gone before the day (training jobs: "
                            "those running)."
                        )
                    ),
                ),
                ("computed_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["day"],
            },
        ),
        # Whole GPUs: a stored daily average (2.3) becomes the GPUs that must have run at some moment (3), not 2.
        migrations.RunSQL(
            "UPDATE capacity_gpudemandday SET peak_gpus = ceil(peak_gpus)", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.AlterField(
            model_name="gpudemandday",
            name="peak_gpus",
            field=models.PositiveIntegerField(help_text="Whole GPUs."),
        ),
    ]
