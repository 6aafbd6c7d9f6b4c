from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from finops.models import CloudAccount, CostRecord, ExportDailyTotal, IngestionRun
from finops.services.billing_import import billing_export_import

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
LEGACY = DATA / "cur-legacy" / "aws_cur_sample_anonymous.csv"
DEC2018 = DATA / "cur-parquet" / "Dec2018-WorkshopCUR-00001.snappy.parquet"
FOCUS_HEADER = ["BillingAccountId", "SubAccountId", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
                "ChargePeriodEnd", "ChargeCategory", "ServiceName", "RegionId", "ResourceId", "BilledCost",
                "EffectiveCost", "ListCost", "BillingCurrency", "Tags"]  # fmt: skip


def focus_rows(days: int = 10, per_day: int = 3, cost: str = "1.25") -> list[dict]:
    rows = []
    for day in range(1, days + 1):
        for line in range(per_day):
            rows.append(
                {
                    "BillingAccountId": "111111111111",
                    "SubAccountId": "222222222222",
                    "BillingPeriodStart": "2026-01-01T00:00:00Z",
                    "BillingPeriodEnd": "2026-02-01T00:00:00Z",
                    "ChargePeriodStart": f"2026-01-{day:02d}T00:00:00Z",
                    "ChargePeriodEnd": f"2026-01-{day + 1:02d}T00:00:00Z" if day < 31 else "2026-02-01T00:00:00Z",
                    "ChargeCategory": "Usage",
                    "ServiceName": ["Amazon SageMaker", "Amazon Elastic Compute Cloud", "Amazon S3"][line % 3],
                    "RegionId": "us-east-1",
                    "ResourceId": f"i-{line:04d}",
                    "BilledCost": cost,
                    "EffectiveCost": cost,
                    "ListCost": "",
                    "BillingCurrency": "USD",
                    "Tags": json.dumps({"team": "vision"} if line else {}),
                }
            )
    return rows


def write_focus(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FOCUS_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def stored() -> dict[int, tuple]:
    return {
        record.pk: (record.line_key, record.charge_period_start, record.billed_cost, record.tags)
        for record in CostRecord.objects.all()
    }


@pytest.mark.django_db
def test_it_imports_the_legacy_cur_to_the_last_digit(viewer_api):
    call_command("import_billing_export", str(LEGACY), verbosity=0)
    assert CostRecord.objects.count() == 1281
    body = viewer_api.get("/api/v1/costs/", {"window": "2023-10-01,2023-12-01", "aggregate": "charge_category"}).json()
    assert Decimal(body["total"]) == Decimal("1.68230869740")
    assert {item["key"]["charge_category"] for item in body["items"]} == {"usage", "tax"}


@pytest.mark.django_db
def test_it_reports_the_december_2018_parquet_by_environment_exactly(viewer_api):
    call_command("import_billing_export", str(DEC2018), verbosity=0)
    body = viewer_api.get(
        "/api/v1/costs/", {"window": "2018-12-01,2019-01-01", "aggregate": "tag:environment", "cost_basis": "billed"}
    ).json()
    by_environment = {item["key"]["tag:environment"]: Decimal(item["cost"]) for item in body["items"]}
    assert Decimal(body["total"]) == Decimal("408.3759924354")
    assert by_environment["Production"] == Decimal("54.7481423333")
    assert by_environment["__unallocated__"] == Decimal("353.6278501021")
    assert sum(by_environment.values()) == Decimal(body["total"])
    assert set(CloudAccount.objects.values_list("account_id", flat=True)) >= {
        record for record in CostRecord.objects.values_list("sub_account_id", flat=True).distinct()
    }


@pytest.mark.django_db
def test_it_leaves_identical_rows_when_the_same_file_is_imported_twice(tmp_path):
    path = write_focus(tmp_path / "focus.csv", focus_rows())
    first = billing_export_import(location=str(path))
    before = stored()
    second = billing_export_import(location=str(path))
    assert stored() == before
    assert (first.rows_inserted, second.rows_inserted, second.rows_deleted) == (30, 0, 0)


@pytest.mark.django_db
def test_it_changes_exactly_the_revised_rows(tmp_path):
    rows = focus_rows()
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    before = stored()
    revised_days = {"2026-01-08", "2026-01-09", "2026-01-10"}
    for row in rows:
        if row["ChargePeriodStart"][:10] in revised_days:
            row["BilledCost"] = row["EffectiveCost"] = "1.26"
    run = billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    after = stored()
    kept = set(before) & set(after)
    assert {before[pk][1].date().isoformat() for pk in set(before) - kept} == revised_days
    assert {after[pk][1].date().isoformat() for pk in set(after) - kept} == revised_days
    assert (run.rows_deleted, run.rows_inserted) == (9, 9)
    assert all(before[pk] == after[pk] for pk in kept)
    assert len(kept) == 21


@pytest.mark.django_db
def test_it_keeps_nineteen_fractional_digits_exactly(tmp_path, viewer_api):
    rows = focus_rows(days=1, per_day=1, cost="0.0061215770588837586")
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", rows)))
    assert CostRecord.objects.get().billed_cost == Decimal("0.0061215770588837586")
    body = viewer_api.get("/api/v1/costs/", {"window": "2026-01-01,2026-02-01"}).json()
    assert Decimal(body["total"]) == Decimal("0.0061215770588837586")


@pytest.mark.django_db
def test_it_rejects_a_bad_file_naming_file_row_and_column_and_keeps_stored_data(tmp_path):
    billing_export_import(location=str(write_focus(tmp_path / "good.csv", focus_rows())))
    before = stored()
    bad = DATA / "focus-examples" / "commitment_discount_scenarios" / "commitment_discount_purchase_scenario_2.csv"
    with pytest.raises(CommandError) as caught:
        call_command("import_billing_export", str(bad), "--account", "123456789012", verbosity=0)
    message = str(caught.value)
    assert "commitment_discount_purchase_scenario_2.csv" in message
    assert "row 3" in message and "ChargePeriodEnd" in message
    assert "nothing was changed" in message
    assert stored() == before
    assert IngestionRun.objects.filter(status=IngestionRun.Status.FAILED).count() == 1


@pytest.mark.django_db
def test_it_rolls_back_every_file_of_a_folder_when_one_is_bad(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_focus(folder / "a.csv", focus_rows())
    (folder / "b.csv").write_text("BilledCost,ChargePeriodStart\nnot-money,2026-01-01T00:00:00Z\n")
    with pytest.raises(CommandError, match="b.csv"):
        call_command("import_billing_export", str(folder), "--account", "123456789012", verbosity=0)
    assert not CostRecord.objects.exists()
    assert not ExportDailyTotal.objects.exists()


@pytest.mark.django_db
def test_it_uses_the_account_option_only_where_the_file_has_no_account(tmp_path, viewer_api):
    header = ["ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ServiceName", "BilledCost", "EffectiveCost"]
    path = tmp_path / "no-account.csv"
    path.write_text(",".join(header) + "\n2026-01-05T00:00:00Z,2026-01-06T00:00:00Z,Usage,Amazon S3,2.50,2.00\n")
    with pytest.raises(CommandError, match="--account"):
        call_command("import_billing_export", str(path), verbosity=0)
    with pytest.raises(CommandError, match="12 digits"):
        call_command("import_billing_export", str(path), "--account", "42", verbosity=0)
    call_command("import_billing_export", str(path), "--account", "444455556666", verbosity=0)
    record = CostRecord.objects.get()
    assert (record.sub_account_id, record.billing_account_id) == ("444455556666", "444455556666")
    body = viewer_api.get("/api/v1/costs/", {"window": "2026-01-01,2026-02-01", "cost_basis": "effective"}).json()
    assert body["total"].startswith("2.00")
    no_list = viewer_api.get("/api/v1/costs/", {"window": "2026-01-01,2026-02-01", "cost_basis": "list"})
    assert no_list.status_code == 400
    assert "list cost" in no_list.json()["errors"]["cost_basis"][0]


@pytest.mark.django_db
def test_it_imports_exactly_the_files_an_s3_manifest_lists(tmp_path, settings):
    settings.COSTPLANE_AWS = "sandbox"
    settings.COSTPLANE_SANDBOX_ENDPOINT = ""
    listed = [focus_rows(days=2, per_day=1, cost="1.00"), focus_rows(days=2, per_day=1, cost="2.00")]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="billing")
        keys = []
        for number, rows in enumerate(listed):
            key = f"exports/focus/data/BILLING_PERIOD=2026-01/part-{number}.csv"
            s3.put_object(Bucket="billing", Key=key, Body=write_focus(tmp_path / f"{number}.csv", rows).read_bytes())
            keys.append(f"s3://billing/{key}")
        unlisted = write_focus(tmp_path / "stale.csv", focus_rows(days=2, per_day=1, cost="100.00")).read_bytes()
        s3.put_object(Bucket="billing", Key="exports/focus/data/BILLING_PERIOD=2026-01/stale.csv", Body=unlisted)
        manifest = {"dataFiles": keys, "billingPeriod": {"start": "2026-01-01"}}
        s3.put_object(
            Bucket="billing",
            Key="exports/focus/metadata/BILLING_PERIOD=2026-01/focus-Manifest.json",
            Body=json.dumps(manifest).encode(),
        )
        run = billing_export_import(location="s3://billing/exports/focus/")
        with pytest.raises(Exception, match="no export manifest"):
            billing_export_import(location="s3://billing/nothing-here/")
    assert run.source == IngestionRun.Source.EXPORT
    assert [entry["file"] for entry in run.detail["files"]] == keys
    assert sum(record.billed_cost for record in CostRecord.objects.all()) == Decimal("6.00")


@pytest.mark.django_db
def test_it_gives_the_report_as_csv_and_weekly_periods(tmp_path, viewer_api):
    billing_export_import(location=str(write_focus(tmp_path / "focus.csv", focus_rows(days=14))))
    params = {"window": "2026-01-01,2026-02-01", "aggregate": "service,tag:team", "step": "week"}
    body = viewer_api.get("/api/v1/costs/", params).json()
    assert {item["period"] for item in body["items"]} == {"2025-12-29", "2026-01-05", "2026-01-12"}
    assert sum(Decimal(item["cost"]) for item in body["items"]) == Decimal(body["total"]) == Decimal("52.5")
    response = viewer_api.get("/api/v1/costs/", {**params, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "service,tag:team,period,cost"
    assert len(lines) == len(body["items"]) + 1
    assert any(line.startswith("Amazon SageMaker,__unallocated__,2025-12-29,") for line in lines)
