"""Policy actions skipped for the per-run cap are marked `capped` and no longer hold their boundary: the next run may
act on the resource (the cap limits a run, it is not a decision). Existing cap skips are marked from their reason."""

from django.db import migrations, models

CAP_REASON = "Cap reached ("


def cap_skips_mark(apps, schema_editor):
    Action = apps.get_model("capacity", "Action")
    Action.objects.filter(policy__isnull=False, state="skipped", reason__startswith=CAP_REASON).update(capped=True)


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0008_gpu_peak_day_whole_gpus"),
    ]

    operations = [
        migrations.AddField(
            model_name="action",
            name="capped",
            field=models.BooleanField(
                default=False,
                help_text="Skipped only because the policy's cap per run was reached; a later run may act.",
            ),
        ),
        # Backwards the old constraint comes back and refuses a boundary that holds both a capped record and a real
        # action, rather than losing either's audit rows.
        migrations.RunPython(cap_skips_mark, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="action", name="action_once_per_policy_boundary"),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.UniqueConstraint(
                condition=models.Q(("capped", False), ("policy__isnull", False)),
                fields=("policy", "resource", "kind", "transition_at"),
                name="action_once_per_policy_boundary",
            ),
        ),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.UniqueConstraint(
                condition=models.Q(("capped", True), ("policy__isnull", False)),
                fields=("policy", "resource", "kind", "transition_at"),
                name="action_capped_once_per_policy_boundary",
            ),
        ),
    ]
