"""The idle GPU cost's primary key holds the billing account, as CostRecord's does (finops 0014, 0017), so that
it can be distributed by billing account with the lines it comes from. Django still knows `id` as the primary key."""

from django.db import migrations

TABLE = "capacity_idlegpucostdaily"


def _key(columns: str) -> str:
    return f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey, ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({columns})"


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0010_idle_gpu_cost_daily"),
    ]

    operations = [
        migrations.RunSQL(_key("billing_account_id, billing_period_start, id"), reverse_sql=_key("id"), elidable=False),
    ]
