from __future__ import annotations

import io
import json
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from sandbox.exports import BUCKET, CUR_EXPORT, FOCUS_EXPORT
from sandbox.server import seed_exports

from .conftest import TODAY


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _keys(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _manifest(s3, export: str, period: str) -> dict:
    key = f"exports/{export}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _table(s3, uri: str) -> pa.Table:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    return pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def test_it_writes_both_exports_in_the_data_exports_layout_with_manifests_listing_their_files(s3, small):
    seed_exports(s3, "small", TODAY)
    for export in (FOCUS_EXPORT, CUR_EXPORT):
        data_keys = _keys(s3, f"exports/{export}/data/")
        periods = sorted({key.split("/")[3] for key in data_keys})
        assert len(periods) == 14 and periods[0] == "BILLING_PERIOD=2024-05"
        listed = []
        for period in periods:
            manifest = _manifest(s3, export, period.removeprefix("BILLING_PERIOD="))
            assert manifest["exportName"] == export
            assert manifest["billingPeriod"]["start"].startswith(period.removeprefix("BILLING_PERIOD="))
            assert manifest["exportArn"].startswith("arn:aws:bcm-data-exports:")
            assert manifest["executionId"]
            assert manifest["reportSchema"]["columns"]
            expected = sorted(f"s3://{BUCKET}/{key}" for key in data_keys if f"/{period}/" in key)
            assert sorted(manifest["dataFiles"]) == expected
            listed += manifest["dataFiles"]
        assert sorted(listed) == sorted(f"s3://{BUCKET}/{key}" for key in data_keys)
        assert all(key.endswith(f"{export}-00001.snappy.parquet") for key in data_keys)


def test_it_writes_parquet_that_pyarrow_reads_with_exact_money(s3, small):
    seed_exports(s3, "small", TODAY)
    manifest = _manifest(s3, FOCUS_EXPORT, "2025-05")
    table = pa.concat_tables([_table(s3, uri) for uri in manifest["dataFiles"]])
    assert table.num_rows == manifest["rowCount"]
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 10)
    month = small.lines[small.lines["billing_period"] == "2025-05"]
    expected = sum(int(value) for value in month["unblended"]) * Decimal("1E-10")
    assert sum(table.column("BilledCost").to_pylist()) == expected
    cur = pa.concat_tables([_table(s3, uri) for uri in _manifest(s3, CUR_EXPORT, "2025-05")["dataFiles"]])
    assert sum(cur.column("line_item_unblended_cost").to_pylist()) == expected
    tags_type = cur.schema.field("resource_tags").type
    assert pa.types.is_map(tags_type) and tags_type.key_type == tags_type.item_type == pa.string()


def test_it_splits_each_full_size_billing_period_into_several_files(s3, full):
    seed_exports(s3, "full", TODAY)
    for export in (FOCUS_EXPORT, CUR_EXPORT):
        manifest = _manifest(s3, export, "2025-03")
        assert len(manifest["dataFiles"]) >= 2
        rows = sum(_table(s3, uri).num_rows for uri in manifest["dataFiles"])
        assert rows == manifest["rowCount"]
