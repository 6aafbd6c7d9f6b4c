"""After a billing import the planner's statistics describe the rows it wrote (finops/services/table_statistics.py):
without them a year's report over the full-size sandbox took a one-row nested-loop plan and ran 33 s instead of 1 s."""

from __future__ import annotations

import pytest
from django.db import connection

from finops.models import CostRecord, ExportDailyTotal
from finops.services.billing_import import billing_export_import
from tests.finops.test_billing_import import focus_rows, write_focus


def planner_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_billing_import_leaves_the_planner_knowing_how_many_rows_it_wrote(tmp_path):
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", focus_rows(days=10, per_day=3))))

    assert CostRecord.objects.count() == 30
    assert planner_rows("finops_costrecord_p2026_01") == 30  # the partition of the month imported
    assert planner_rows("finops_exportdailytotal") == ExportDailyTotal.objects.count() == 10
