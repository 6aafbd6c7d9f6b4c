"""The primary keys of the tables derived per billing scope hold the billing account, as CostRecord's do (0014), so
that each can be distributed by billing account (Citus) and co-located with the lines it is built from, unchanged.
Django still knows `id` as the primary key: it stays unique (an identity) and every ORM read and write uses it."""

from django.db import migrations

TABLES = ("finops_costdailyrollup", "finops_costtagrollup", "finops_exportdailytotal")


def _keys(columns: str) -> list[str]:
    return [
        f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY ({columns})"
        for table in TABLES
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0016_cost_tag_rollup"),
    ]

    operations = [
        migrations.RunSQL(
            _keys("billing_account_id, billing_period_start, id"), reverse_sql=_keys("id"), elidable=False
        ),
    ]
