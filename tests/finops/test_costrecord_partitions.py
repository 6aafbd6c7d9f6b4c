"""CostRecord partitioned by month of billing period (issue 16, item 2): the table's keys, the importer creating each
month's partition without locking readers out, the migration that moved existing rows, and retention."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum

from config.schedules import BEAT_SCHEDULE
from finops import partitions
from finops.models import CostDailyRollup, CostRecord, CostTagRollup, ExportDailyTotal
from finops.services.billing_import import billing_export_import
from finops.services.billing_retention import billing_retention_apply, retention_cutoff
from tests.finops.importers.support import FOCUS_HEADER, focus_row, write_csv


def month_rows(month: str, next_month: str, *, lines: int = 6, cost: str = "2.5") -> list[dict[str, str]]:
    return [
        focus_row(
            BillingPeriodStart=f"{month}-01T00:00:00Z",
            BillingPeriodEnd=f"{next_month}-01T00:00:00Z",
            ChargePeriodStart=f"{month}-{number + 1:02d}T00:00:00Z",
            ChargePeriodEnd=f"{month}-{number + 1:02d}T01:00:00Z",
            ResourceId=f"i-{number:04d}",
            BilledCost=cost,
            EffectiveCost=cost,
        )
        for number in range(lines)
    ]


MONTHS = [("2026-01", "2026-02"), ("2026-02", "2026-03"), ("2026-03", "2026-04"), ("2026-04", "2026-05")]


def attached() -> dict[date, str]:
    with connection.cursor() as cursor:
        return partitions.partition_months(cursor)


def own_connection() -> psycopg.Connection:
    parameters = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        parameters.pop(name, None)
    return psycopg.connect(**parameters, autocommit=True)


@pytest.mark.django_db
def test_the_table_is_partitioned_by_billing_period_with_the_account_and_period_in_every_unique_key():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, pg_get_partkeydef(partrelid) FROM pg_partitioned_table"
            " WHERE partrelid = 'finops_costrecord'::regclass"
        )
        assert cursor.fetchone() == ("r", "RANGE (billing_period_start)")
        cursor.execute(
            "SELECT i.indisprimary, array_agg(a.attname ORDER BY k.position) FROM pg_index i"
            " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = 'finops_costrecord'::regclass AND i.indisunique GROUP BY i.indexrelid, i.indisprimary"
        )
        keys = dict(cursor.fetchall())
    assert keys[True] == ["billing_account_id", "billing_period_start", "id"]
    assert keys[False] == ["source", "billing_account_id", "billing_period_start", "line_key"]


@pytest.mark.django_db
def test_an_import_puts_each_month_in_its_own_partition_and_a_re_import_keeps_them(tmp_path):
    rows = [row for month, following in MONTHS[:3] for row in month_rows(month, following)]
    path = write_csv(tmp_path / "q1.csv", rows, FOCUS_HEADER)

    billing_export_import(location=str(path))
    again = billing_export_import(location=str(path))
    april = write_csv(tmp_path / "april.csv", month_rows(*MONTHS[3], cost="1.25"), FOCUS_HEADER)
    billing_export_import(location=str(april))

    # Partitions are made in committed transactions of their own: earlier tests' (empty) ones may be there too.
    assert {date(2026, month, 1) for month in (1, 2, 3, 4)} <= set(attached())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*), sum(billed_cost) FROM finops_costrecord GROUP BY 1 ORDER BY 1"
        )
        placed = cursor.fetchall()
    assert placed == [
        ("finops_costrecord_p2026_01", 6, Decimal("15")),
        ("finops_costrecord_p2026_02", 6, Decimal("15")),
        ("finops_costrecord_p2026_03", 6, Decimal("15")),
        ("finops_costrecord_p2026_04", 6, Decimal("7.5")),
    ]
    assert (again.rows, again.rows_inserted, again.rows_deleted) == (18, 0, 0)


@pytest.mark.django_db
def test_an_import_of_a_new_month_never_locks_readers_out(tmp_path):
    billing_export_import(location=str(write_csv(tmp_path / "jan.csv", month_rows(*MONTHS[0]), FOCUS_HEADER)))
    seen: list[tuple] = []

    def read_meanwhile(rows: int, total: int | None) -> None:
        # Mid-import (the month's rows copied, its transaction open): another session reads at once.
        with own_connection() as other:
            other.execute("SET lock_timeout = '2s'")
            seen.append(other.execute("SELECT count(*) FROM finops_costrecord").fetchone())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 'finops_costrecord'::regclass"
            )
            seen.append(tuple(sorted(mode for (mode,) in cursor.fetchall())))

    path = write_csv(tmp_path / "feb.csv", month_rows(*MONTHS[1]), FOCUS_HEADER)
    billing_export_import(location=str(path), progress=read_meanwhile)

    assert seen[0] == (0,)  # not blocked (the test's own transaction holds January: another session sees no rows)
    assert "AccessExclusiveLock" not in seen[1]
    assert date(2026, 2, 1) in attached()
    assert CostRecord.objects.filter(billing_period_start="2026-02-01").count() == 6


@pytest.mark.django_db
def test_orm_writes_create_the_partition_they_need():
    CostRecord.objects.create(
        source="focus", line_key="k", billing_account_id="1", sub_account_id="2",
        billing_period_start=date(2019, 7, 1), billing_period_end=date(2019, 8, 1),
        charge_period_start="2019-07-02T00:00:00Z", charge_period_end="2019-07-02T01:00:00Z",
        charge_category="usage", billed_cost=Decimal("1"), effective_cost=Decimal("1"),
    )  # fmt: skip

    assert attached()[date(2019, 7, 1)] == "finops_costrecord_p2019_07"


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_every_row_with_every_column_and_keeps_ids():
    columns = (
        "id, source, line_key, billing_account_id, sub_account_id, billing_period_start, billing_period_end,"
        " charge_period_start, charge_period_end, charge_category, charge_class, service_name, service_category,"
        " region_id, resource_id, usage_type, sku_id, pricing_quantity, pricing_unit, billed_cost, effective_cost,"
        " list_cost, billing_currency, pricing_currency, pricing_currency_effective_cost,"
        " pricing_currency_contracted_unit_price, pricing_currency_list_unit_price, provider_name,"
        " invoice_issuer_name, invoice_id, tags, run_id"
    )
    ocid = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f44n2b2m2yt2j6rx32uzr4h25vqstifsfdsq"
    rows = [
        (7, "focus", "a-0", ocid, ocid, "2024-03-01", "2024-04-01", "2024-03-02T00:00:00Z", "2024-03-02T01:00:00Z",
         "usage", "", "Compute", "Compute", "eu-frankfurt-1", "", None, "B93113", "1.5", "OCPU Per Hour",
         "0.0000000000000000001", "-12.5", None, "EUR", "USD", "1.1", "0.2", None, "Oracle", "Oracle", "INV-9",
         '{"team": "vision", "": ""}', None),
        (9, "cur2", "b-0", "123456789012", "210987654321", "2018-12-01", "2019-01-01", "2018-12-03T00:00:00Z",
         "2018-12-04T00:00:00Z", "credit", None, None, None, None, None, "", None, None, None, "999999999.5", "0",
         "1", "USD", None, None, None, None, "AWS", None, "", "{}", 3),
    ]  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate([("finops", "0013_focus_pricing_currency_figures")])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'finops_costrecord'::regclass)"
        )
        assert cursor.fetchone() == (0,)
        placeholders = ", ".join(["%s"] * len(rows[0]))
        cursor.executemany(f"INSERT INTO finops_costrecord ({columns}) VALUES ({placeholders})", rows)
        cursor.execute(f"SELECT {columns} FROM finops_costrecord ORDER BY id")
        before = cursor.fetchall()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM finops_costrecord ORDER BY id")
        assert cursor.fetchall() == before
        cursor.execute("SELECT id, tableoid::regclass::text FROM finops_costrecord ORDER BY id")
        assert cursor.fetchall() == [(7, "finops_costrecord_p2024_03"), (9, "finops_costrecord_p2018_12")]
    record = CostRecord.objects.create(
        source="focus", line_key="c-0", billing_account_id="1", sub_account_id="1",
        billing_period_start=date(2024, 3, 1), billing_period_end=date(2024, 4, 1),
        charge_period_start="2024-03-02T00:00:00Z", charge_period_end="2024-03-02T01:00:00Z",
        charge_category="usage", billed_cost=Decimal("1"), effective_cost=Decimal("1"),
    )  # fmt: skip
    assert record.id == 10  # ids go on after the largest moved


@pytest.mark.django_db
def test_retention_detaches_and_drops_months_older_than_the_setting(tmp_path):
    rows = [row for month, following in MONTHS for row in month_rows(month, following)]
    billing_export_import(location=str(write_csv(tmp_path / "year.csv", rows, FOCUS_HEADER)))
    assert settings.COSTPLANE_BILLING_RETENTION_MONTHS == 0
    assert billing_retention_apply(today=date(2026, 4, 15)) == []  # the default keeps everything
    months = {date(2026, month, 1) for month in (1, 2, 3, 4)}
    assert months <= set(attached())

    dropped = billing_retention_apply(today=date(2026, 4, 15), months=2)

    assert retention_cutoff(date(2026, 4, 15), 2) == date(2026, 2, 1)
    # Earlier tests' empty partitions of older months (made in transactions of their own) go too.
    assert date(2026, 1, 1) in dropped and all(month < date(2026, 2, 1) for month in dropped)
    assert months - {date(2026, 1, 1)} <= set(attached())
    assert not any(month < date(2026, 2, 1) for month in attached())
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('finops_costrecord_p2026_01')")
        assert cursor.fetchone() == (None,)  # dropped, not only detached
    assert CostRecord.objects.aggregate(total=Sum("billed_cost"))["total"] == Decimal("45")
    assert not ExportDailyTotal.objects.filter(billing_period_start__lt="2026-02-01").exists()
    assert ExportDailyTotal.objects.filter(billing_period_start="2026-02-01").exists()
    for rollup in (CostDailyRollup, CostTagRollup):  # the rollups' rows go with their month
        assert not rollup.objects.filter(billing_period_start__lt="2026-02-01").exists()
        assert rollup.objects.filter(billing_period_start="2026-02-01").exists()
    assert billing_retention_apply(today=date(2026, 4, 15), months=2) == []  # nothing more to drop
    assert retention_cutoff(date(2026, 1, 31), 12) == date(2025, 1, 1)


def test_retention_runs_daily_on_the_compute_queue():
    assert BEAT_SCHEDULE["billing-retention"]["task"] == "finops.tasks.billing_retention_apply"
    assert settings.CELERY_TASK_ROUTES["finops.tasks.billing_retention_apply"] == {"queue": "compute"}


@pytest.mark.django_db
def test_every_key_of_the_billing_scope_tables_holds_the_billing_account_and_period():
    """What distributing them by billing account (Citus) requires of their primary and unique keys."""
    tables = ("finops_costrecord", "finops_costdailyrollup", "finops_costtagrollup", "finops_exportdailytotal",
              "capacity_idlegpucostdaily")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.conrelid::regclass::text, c.conname, array_agg(a.attname::text)
               FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
               WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY(%s)
               GROUP BY 1, 2""",
            [list(tables)],
        )
        keys = cursor.fetchall()
    assert {table for table, _name, _columns in keys} == set(tables)
    for table, name, columns in keys:
        assert {"billing_account_id", "billing_period_start"} <= set(columns), (table, name, columns)


@pytest.mark.django_db(transaction=True)
def test_two_imports_that_meet_the_same_new_month_at_once_both_land(tmp_path):
    """Two billing accounts' files for a month no partition holds yet, imported at the same time (each thread waits,
    after its first file, until the other has loaded its own): both succeed and every line is stored once."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def import_for(account: str) -> None:
        folder = tmp_path / account
        folder.mkdir()
        for part in (1, 2):
            rows = [{**row, "BillingAccountId": account, "ResourceId": f"{row['ResourceId']}-{part}"}
                    for row in month_rows("2026-07", "2026-08", lines=5, cost="1.25")]  # fmt: skip
            write_csv(folder / f"part-{part}.csv", rows, FOCUS_HEADER)
        seen = []

        def progress(rows, total):
            seen.append(rows)
            if len(seen) == 1:
                barrier.wait()  # both imports have loaded a file of the new month before either commits

        try:
            billing_export_import(location=str(folder), progress=progress)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=import_for, args=(account,)) for account in ("111100001111", "222200002222")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert date(2026, 7, 1) in attached()
    assert CostRecord.objects.filter(billing_period_start="2026-07-01").count() == 20
    assert CostRecord.objects.aggregate(total=Sum("billed_cost"))["total"] == Decimal("25.00")
