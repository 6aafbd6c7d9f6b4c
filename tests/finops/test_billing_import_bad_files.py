"""Bad billing files: a clear error naming the file (and the row and column where there is one), and nothing
already stored changes. Each test first stores good FOCUS and legacy CUR rows, then imports the bad file in
batches of 5 rows, so that the bad row 17 comes after batches that were already copied."""

from __future__ import annotations

import csv
import gzip
import io
from decimal import Decimal
from html import unescape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.db.models import Sum

from finops.importers import BillingFileError, open_billing_file
from finops.models import CostRecord, ExportDailyTotal, IngestionRun
from finops.services.billing_import import billing_export_import
from tests.dashboards.test_allocation_periods_and_filters import table_cells
from tests.finops.importers.support import DATA, FOCUS_EXAMPLES, FOCUS_HEADER, focus_row

LEGACY = DATA / "cur-legacy" / "aws_cur_sample_anonymous.csv"
DECEMBER_2018 = DATA / "cur-parquet" / "Dec2018-WorkshopCUR-00001.snappy.parquet"
BAD_ROW = 17
ROWS = 30

pytestmark = pytest.mark.django_db


def focus_rows(*, month: str = "2024-03", cost: str = "1.25") -> list[dict[str, str]]:
    next_month = {"2024-03": "2024-04", "2024-04": "2024-05"}[month]
    return [
        focus_row(
            BillingPeriodStart=f"{month}-01T00:00:00Z",
            BillingPeriodEnd=f"{next_month}-01T00:00:00Z",
            ChargePeriodStart=f"{month}-{number % 28 + 1:02d}T{number // 28:02d}:00:00Z",
            ChargePeriodEnd=f"{month}-{number % 28 + 1:02d}T{number // 28 + 1:02d}:00:00Z",
            ResourceId=f"i-{number:04d}",
            BilledCost=cost,
            EffectiveCost=cost,
        )
        for number in range(ROWS)
    ]


def csv_text(header: list[str], rows: list[dict[str, str]], *, line_end: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", lineterminator=line_end)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_focus(path: Path, rows: list[dict[str, str]], header: list[str] = FOCUS_HEADER) -> Path:
    path.write_text(csv_text(header, rows), newline="")
    return path


def legacy_cur(count: int = 40) -> tuple[list[str], list[list[str]]]:
    """The first rows of the anonymised legacy CUR (slash-style columns): header and rows."""
    with LEGACY.open(newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, [next(reader) for _ in range(count)]


def write_cur(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def snapshot() -> tuple:
    totals = CostRecord.objects.aggregate(billed=Sum("billed_cost"), effective=Sum("effective_cost"))
    lines = sorted(CostRecord.objects.values_list("source", "line_key", "billed_cost", "charge_period_start"))
    daily = sorted(ExportDailyTotal.objects.values_list("source", "sub_account_id", "day", "billed_cost"))
    return CostRecord.objects.count(), totals["billed"], totals["effective"], lines, daily


@pytest.fixture
def stored(tmp_path) -> tuple:
    """Good FOCUS (March 2024) and legacy CUR (November 2023) rows in the database, and their snapshot."""
    good = tmp_path / "good"
    good.mkdir()
    write_focus(good / "focus.csv", focus_rows())
    write_cur(good / "cur.csv", *legacy_cur())
    billing_export_import(location=str(good))
    before = snapshot()
    assert before[0] == ROWS + 40
    return before


def assert_rejected(path: Path, stored: tuple, *fragments: str) -> str:
    """Import ``path``, expect a BillingFileError naming it and ``fragments``, a failed run, and no change."""
    with pytest.raises(BillingFileError) as raised:
        billing_export_import(location=str(path), batch_rows=5)
    message = str(raised.value)
    assert message.startswith(f"{path}"), message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message and "Traceback" not in message
    failed = IngestionRun.objects.get(status=IngestionRun.Status.FAILED)
    assert (failed.location, failed.error) == (str(path), message)
    assert snapshot() == stored
    return message


# 1. A truncated Parquet file


def focus_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    table = pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in FOCUS_HEADER})
    pq.write_table(table, path, row_group_size=5)
    return path


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="half-the-file"),
        pytest.param(lambda data: data[:-1], id="the-last-byte"),
        pytest.param(lambda data: data[:4], id="all-but-the-magic-number"),
        pytest.param(lambda data: data[:600] + data[700:], id="a-hundred-bytes-from-the-middle"),
    ],
)
def test_it_rejects_a_truncated_parquet_file_naming_it(tmp_path, stored, cut):
    good = focus_parquet(tmp_path / "april.parquet", focus_rows(month="2024-04"))
    billing_export_import(location=str(good))
    before = snapshot()
    bad = tmp_path / "march.parquet"
    bad.write_bytes(cut(focus_parquet(tmp_path / "whole.parquet", focus_rows(cost="9.99")).read_bytes()))

    message = assert_rejected(bad, before, "Parquet")

    assert "cut short or damaged" in message


# 2. A CSV with a byte-order mark or CRLF lines imports


@pytest.mark.parametrize(
    ("bom", "line_end", "container"),
    [
        pytest.param(True, "\n", "csv", id="byte-order-mark"),
        pytest.param(False, "\r\n", "csv", id="crlf"),
        pytest.param(True, "\r\n", "csv", id="both"),
        pytest.param(True, "\r\n", "csv.gz", id="both-gzipped"),
    ],
)
def test_it_imports_a_csv_with_a_byte_order_mark_or_crlf_lines(tmp_path, stored, bom, line_end, container):
    # The first column would lose its name to a byte-order mark, the last one would keep a carriage return.
    header = [name for name in FOCUS_HEADER if name != "ResourceId"] + ["ResourceId"]

    def write(path: Path, rows: list[dict[str, str]]) -> Path:
        data = (("\ufeff" if bom else "") + csv_text(header, rows, line_end=line_end)).encode()
        path.write_bytes(gzip.compress(data) if container == "csv.gz" else data)
        return path

    same = billing_export_import(location=str(write(tmp_path / f"march.{container}", focus_rows())))
    assert (same.rows, same.rows_inserted, same.rows_deleted) == (ROWS, 0, 0)
    assert snapshot() == stored

    billing_export_import(location=str(write(tmp_path / f"april.{container}", focus_rows(month="2024-04", cost="2.5"))))

    april = CostRecord.objects.filter(billing_period_start="2024-04-01")
    assert april.aggregate(total=Sum("billed_cost"))["total"] == Decimal("2.5") * ROWS
    assert set(april.values_list("billing_account_id", "sub_account_id")) == {("000123456789", "000987654321")}
    assert sorted(april.values_list("resource_id", flat=True)) == [f"i-{number:04d}" for number in range(ROWS)]
    assert CostRecord.objects.count() == stored[0] + ROWS


# 3. An extra unknown column is ignored and reported once


def test_it_ignores_an_unknown_column_and_reports_it_once(tmp_path, stored):
    # x_ columns are the spec's provider extensions and ChargeDescription a FOCUS column: neither is unknown.
    header = [*FOCUS_HEADER, "InternalNote", "x_Operation", "ChargeDescription"]
    rows = [{**row, "InternalNote": "ask Sam", "x_Operation": "RunInstances"} for row in focus_rows(month="2024-04")]
    path = write_focus(tmp_path / "april.csv", rows, header)

    run = billing_export_import(location=str(path), batch_rows=5)

    warning = f"{path}: ignored the column 'InternalNote', which no FOCUS version defines"
    assert run.detail["warnings"] == [warning]
    assert run.detail["files"][0]["ignored_columns"] == ["InternalNote"]
    assert (
        CostRecord.objects.filter(billing_period_start="2024-04-01").aggregate(total=Sum("billed_cost"))["total"]
        == Decimal("1.25") * ROWS
    )
    output, errors = io.StringIO(), io.StringIO()
    call_command("import_billing_export", str(path), stdout=output, stderr=errors)
    assert errors.getvalue().count("InternalNote") == 1
    assert warning in errors.getvalue()


def test_the_accounts_page_shows_an_imports_warnings_and_a_failed_imports_error(tmp_path, stored, client, viewer):
    header = [*FOCUS_HEADER, "InternalNote"]
    rows = [{**row, "InternalNote": "ask Sam"} for row in focus_rows(month="2024-04")]
    warned = write_focus(tmp_path / "april.csv", rows, header)
    billing_export_import(location=str(warned), batch_rows=5)
    bad = write_focus(tmp_path / "march.csv", focus_rows(cost="twelve"))
    with pytest.raises(BillingFileError) as raised:
        billing_export_import(location=str(bad))
    client.force_login(viewer)

    html = client.get("/accounts/").content.decode()

    imports = [[unescape(cell) for cell in row] for row in table_cells(html, "billing-imports")]
    assert imports[0][:8] == [
        "Started", "Location", "Status", "Rows", "Added", "Removed", "Seconds", "Warnings and errors",
    ]  # fmt: skip
    march, april, *earlier = imports[1:]
    assert march[1:3] == [str(bad), "Failed"]
    assert march[7] == str(raised.value)
    assert april[1:6] == [str(warned), "Succeeded", str(ROWS), str(ROWS), "0"]
    assert april[7] == f"{warned}: ignored the column 'InternalNote', which no FOCUS version defines"
    assert html.count("InternalNote") == 1  # reported once, not per row or batch
    assert [row[2] for row in earlier] == ["Succeeded"] and earlier[0][7] == "none"


def test_it_reports_an_unknown_column_in_a_cur_file(tmp_path):
    header, rows = legacy_cur()
    path = write_cur(tmp_path / "cur.csv", [*header, "notes"], [[*row, "n/a"] for row in rows])

    assert open_billing_file(path).ignored_columns == ("notes",)


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (LEGACY, ()),
        (DECEMBER_2018, ()),
        (DATA / "cur-variants" / "2023-06-01.csv", ()),
        (DATA / "cur-variants" / "2022-07-01-alt-columns.csv", ()),
        (FOCUS_EXAMPLES / "commitment_discount_scenarios" / "commitment_discount_usage_scenario_1.csv", ()),
        # An upstream typo: FOCUS spells it SkuPriceId.
        (
            FOCUS_EXAMPLES
            / "commitment_discount_flexibility"
            / "one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
            ("SkuPriceid",),
        ),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else None,
)
def test_it_reports_no_real_export_column_as_unknown(path, ignored):
    assert open_billing_file(path).ignored_columns == ignored


# 4. A missing required column


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("BilledCost", "column 'BilledCost'"),
        ("ChargePeriodStart", "column 'ChargePeriodStart'"),
        ("ChargePeriodEnd", "column 'ChargePeriodEnd'"),
        ("ChargeCategory", "no ChargeCategory (or ChargeType) column"),
    ],
)
def test_it_rejects_a_focus_file_without_a_required_column(tmp_path, stored, missing, expected):
    path = write_focus(
        tmp_path / "march.csv", focus_rows(cost="9.99"), [name for name in FOCUS_HEADER if name != missing]
    )

    message = assert_rejected(path, stored, f"{path}, {expected}" if expected.startswith("column") else expected)

    assert "FOCUS" in message


@pytest.mark.parametrize(
    "missing", ["lineItem/UnblendedCost", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/LineItemType"]
)
def test_it_rejects_a_cur_file_without_a_required_column_naming_it_as_the_file_does(tmp_path, stored, missing):
    header, rows = legacy_cur()
    keep = [index for index, name in enumerate(header) if name != missing]
    path = write_cur(tmp_path / "cur.csv", [header[i] for i in keep], [[row[i] for i in keep] for row in rows])

    assert_rejected(path, stored, f"{path}, column '{missing}'", "CUR")


# 5. A cost that is not a number


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("BilledCost", "abc", "'abc' is not a decimal number"),
        ("EffectiveCost", "1,25", "'1,25' is not a decimal number"),
        ("ListCost", "$2.00", "'$2.00' is not a decimal number"),
        ("BilledCost", "Infinity", "'Infinity' is not a decimal number"),
        ("BilledCost", "1E+30", "1" + "0" * 30 + " is too large to store (at most 18 digits before the decimal point)"),
    ],
)
def test_it_rejects_a_focus_cost_that_is_not_a_number(tmp_path, stored, column, value, expected):
    rows = focus_rows(cost="9.99")
    rows[BAD_ROW - 1][column] = value
    path = write_focus(tmp_path / "march.csv", rows)

    assert_rejected(path, stored, f"{path}, row {BAD_ROW}, column '{column}': {expected}")


def test_it_rejects_a_cur_cost_that_is_not_a_number(tmp_path, stored):
    header, rows = legacy_cur()
    for row in rows:
        row[header.index("lineItem/UnblendedCost")] = "0.5"
    rows[BAD_ROW - 1][header.index("lineItem/UnblendedCost")] = "n/a"
    path = write_cur(tmp_path / "cur.csv", header, rows)

    assert_rejected(path, stored, f"{path}, row {BAD_ROW}, column 'lineItem/UnblendedCost': 'n/a' is not a decimal")


# 6. A date range backwards


@pytest.mark.parametrize(
    ("start", "end", "start_value", "end_value"),
    [
        ("ChargePeriodStart", "ChargePeriodEnd", "2024-03-18T05:00:00Z", "2024-03-18T04:00:00Z"),
        ("BillingPeriodStart", "BillingPeriodEnd", "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z"),
    ],
)
def test_it_rejects_a_focus_period_that_ends_before_it_starts(tmp_path, stored, start, end, start_value, end_value):
    rows = focus_rows(cost="9.99")
    rows[BAD_ROW - 1].update({start: start_value, end: end_value})
    path = write_focus(tmp_path / "march.csv", rows)

    message = assert_rejected(path, stored, f"{path}, row {BAD_ROW}, column '{end}': ", "before", start)

    assert end_value[:10] in message and start_value[:10] in message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("lineItem/UsageStartDate", "lineItem/UsageEndDate"),
        ("bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate"),
    ],
)
def test_it_rejects_a_cur_period_that_ends_before_it_starts(tmp_path, stored, start, end):
    header, rows = legacy_cur()
    bad = rows[BAD_ROW - 1]
    bad[header.index(start)], bad[header.index(end)] = bad[header.index(end)], bad[header.index(start)]
    path = write_cur(tmp_path / "cur.csv", header, rows)

    assert_rejected(path, stored, f"{path}, row {BAD_ROW}, column '{end}': ", "before", start)


# 7. A file that mixes two formats' columns


@pytest.mark.parametrize(
    ("extra", "focus_seen", "cur_seen"),
    [
        (["lineItem/UnblendedCost", "lineItem/UsageStartDate"], "BilledCost", "lineItem/UnblendedCost"),
        (["line_item_unblended_cost", "bill_payer_account_id"], "BilledCost", "line_item_unblended_cost"),
    ],
)
def test_it_rejects_focus_columns_mixed_with_cur_columns(tmp_path, stored, extra, focus_seen, cur_seen):
    header = [*FOCUS_HEADER, *extra]
    path = write_focus(tmp_path / "march.csv", [{**row, **dict.fromkeys(extra, "1")} for row in focus_rows()], header)

    message = assert_rejected(path, stored, "FOCUS columns (", "CUR columns (", focus_seen, cur_seen)

    assert message.index("FOCUS columns (") < message.index(focus_seen) < message.index("CUR columns (")


@pytest.mark.parametrize("extra", [["BilledCost"], ["ChargeCategory", "ServiceName"]])
def test_it_rejects_cur_columns_mixed_with_focus_columns(tmp_path, stored, extra):
    header, rows = legacy_cur()
    path = write_cur(tmp_path / "cur.csv", [*header, *extra], [[*row, *("1" for _ in extra)] for row in rows])

    assert_rejected(path, stored, "FOCUS columns (", "CUR columns (", "lineItem/UnblendedCost", *extra)


def test_it_names_a_location_that_does_not_exist(tmp_path, stored):
    assert_rejected(tmp_path / "nowhere.csv", stored, "no such file or folder")
