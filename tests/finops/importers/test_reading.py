from __future__ import annotations

import gzip
import io
import json
import zipfile

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.importers import BillingFileError, list_billing_files, open_billing_file
from tests.finops.importers.support import DATA, focus_row, read_all, total, write_csv

LEGACY_SAMPLE = DATA / "cur-legacy" / "aws_cur_sample_anonymous.csv"
DECEMBER_2018 = DATA / "cur-parquet" / "Dec2018-WorkshopCUR-00001.snappy.parquet"


def small_focus_rows() -> list[dict[str, str]]:
    return [
        focus_row(),
        focus_row(ChargeCategory="Tax", BilledCost="0.1", EffectiveCost="0.1", ListCost="0.1", Tags='{"team": "data"}'),
        focus_row(ChargeCategory="Credit", BilledCost="-3.25", EffectiveCost="-3.25", ListCost="0", Tags="{}"),
    ]


def focus_parquet(rows: list[dict[str, str]], path) -> None:
    def moments(name: str) -> pa.Array:
        return pa.array(pd.to_datetime([row[name] for row in rows], utc=True), pa.timestamp("ms", tz="UTC"))

    def floats(name: str) -> pa.Array:
        return pa.array([float(row[name]) for row in rows], pa.float64())

    def strings(name: str) -> pa.Array:
        return pa.array([row[name] for row in rows], pa.string())

    tags = [list(json.loads(row["Tags"]).items()) for row in rows]
    table = pa.table(
        {
            **{name: strings(name) for name in ("BillingAccountId", "SubAccountId", "ChargeCategory", "ServiceName")},
            **{name: strings(name) for name in ("RegionId", "ResourceId", "PricingUnit", "BillingCurrency")},
            **{name: moments(name) for name in ("BillingPeriodStart", "BillingPeriodEnd")},
            **{name: moments(name) for name in ("ChargePeriodStart", "ChargePeriodEnd")},
            **{name: floats(name) for name in ("PricingQuantity", "BilledCost", "EffectiveCost", "ListCost")},
            "Tags": pa.array(tags, pa.map_(pa.string(), pa.string())),
        }
    )
    pq.write_table(table, path)


def test_it_reads_csv_gz_and_parquet_of_the_same_data_identically(tmp_path):
    rows = small_focus_rows()
    plain = write_csv(tmp_path / "focus.csv", rows)
    compressed = tmp_path / "focus.csv.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    focus_parquet(rows, tmp_path / "focus.parquet")

    from_csv = read_all(compressed)
    from_parquet = read_all(tmp_path / "focus.parquet")

    assert open_billing_file(tmp_path / "focus.parquet").total_rows == 3
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    pd.testing.assert_frame_equal(from_csv, read_all(plain))
    assert list(from_csv.tags) == [{"team": "ml"}, {"team": "data"}, {}]


def test_it_reads_a_zipped_csv(tmp_path):
    plain = write_csv(tmp_path / "focus.csv", small_focus_rows())
    with zipfile.ZipFile(tmp_path / "focus.csv.zip", "w") as archive:
        archive.write(plain, "focus.csv")

    pd.testing.assert_frame_equal(read_all(tmp_path / "focus.csv.zip"), read_all(plain))


class Stream(io.RawIOBase):
    """Like an S3 body: readable once, front to back, no seeking."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_it_reads_non_seekable_streams_and_names_them_in_errors():
    compressed = gzip.compress(LEGACY_SAMPLE.read_bytes())

    frame = read_all(Stream(compressed))
    billing_file = open_billing_file(Stream(DECEMBER_2018.read_bytes()), name="s3://bucket/cur/dec.parquet")

    assert len(frame) == 1281
    assert billing_file.total_rows == 91_264
    assert billing_file.path == "s3://bucket/cur/dec.parquet"
    with pytest.raises(BillingFileError, match=r"^s3://bucket/x\.csv: not a FOCUS"):
        open_billing_file(Stream(b"a,b\n1,2\n"), name="s3://bucket/x.csv")


def test_it_gives_the_same_rows_in_small_batches():
    whole = read_all(LEGACY_SAMPLE)
    frames = list(open_billing_file(LEGACY_SAMPLE).batches(batch_rows=100))

    assert [len(frame) for frame in frames] == [100] * 12 + [81]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    parquet_frames = list(open_billing_file(DECEMBER_2018).batches(batch_rows=10_000))
    assert len(parquet_frames) == 10
    assert total(pd.concat(parquet_frames).billed_cost) == total(read_all(DECEMBER_2018).billed_cost)


def test_it_counts_error_rows_across_batches(tmp_path):
    rows = [focus_row() for _ in range(25)]
    rows[22]["ChargePeriodStart"] = "2023-02-01T30:00:00Z"
    path = write_csv(tmp_path / "focus.csv", rows)

    with pytest.raises(BillingFileError) as raised:
        list(open_billing_file(path).batches(batch_rows=4))

    assert (raised.value.row, raised.value.column) == (23, "ChargePeriodStart")


def test_it_counts_ragged_rows_across_blocks(tmp_path):
    rows = [focus_row() for _ in range(30_000)]
    path = write_csv(tmp_path / "focus.csv", rows)
    lines = path.read_text().splitlines()
    lines[25_001] = lines[25_001].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(BillingFileError) as raised:
        list(open_billing_file(path).batches(batch_rows=1000))

    assert raised.value.row == 25_001


def test_it_refuses_files_that_are_not_billing_exports(tmp_path):
    path = write_csv(tmp_path / "people.csv", [{"name": "Ada", "team": "ml"}])

    with pytest.raises(BillingFileError) as raised:
        open_billing_file(path)

    assert raised.value.path == str(path)
    assert "name, team" in raised.value.message


def test_it_lists_billing_files_and_skips_manifests(tmp_path):
    (tmp_path / "2024-01" / "part").mkdir(parents=True)
    (tmp_path / ".cache").mkdir()
    for name in (
        "2024-01/part/report-00002.csv.gz",
        "2024-01/part/report-00001.snappy.parquet",
        "2024-01/report-Manifest.json",
        "2024-01/a.csv",
        "2024-01/RedshiftCommands.sql",
        ".cache/old.csv",
    ):
        (tmp_path / name).write_bytes(b"")

    assert list_billing_files(tmp_path) == [
        tmp_path / "2024-01" / "a.csv",
        tmp_path / "2024-01" / "part" / "report-00001.snappy.parquet",
        tmp_path / "2024-01" / "part" / "report-00002.csv.gz",
    ]
