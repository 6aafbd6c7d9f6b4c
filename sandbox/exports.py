"""The sandbox's AWS Data Exports: FOCUS 1.2 and CUR 2.0 as Parquet in S3, one partition per billing period.

Layout (as Data Exports delivers with "overwrite" and Parquet):
  s3://costplane-sandbox-exports/exports/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.snappy.parquet
  s3://costplane-sandbox-exports/exports/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json

Manifest: AWS documents where the manifest lives but not every field in it, so its keys here are an
assumption modelled on the Data Exports API (executionId, exportArn, exportName) and the legacy CUR
manifest (dataFiles, billingPeriod, reportSchema columns with types): see `manifest_body`.
Money and quantity columns are decimal128(38, 10), never float64.
"""

from __future__ import annotations

import io
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sandbox.catalogue import MANAGEMENT_ACCOUNT_ID, Catalogue, stable_hex
from sandbox.cur import cur_table
from sandbox.focus import focus_table

BUCKET = "costplane-sandbox-exports"
PREFIX = "exports"
FOCUS_EXPORT = "costplane-focus"
CUR_EXPORT = "costplane-cur2"
EXPORTS: dict[str, tuple[str, Callable[[pd.DataFrame, Catalogue], pa.Table]]] = {
    FOCUS_EXPORT: ("FOCUS_1_2_AWS", focus_table),
    CUR_EXPORT: ("COST_AND_USAGE_REPORT", cur_table),
}
ROWS_PER_FILE = {"small": 100_000, "full": 6_000}
MIN_FILES = {"small": 1, "full": 2}  # full splits every month, so readers meet multi-file manifests


def export_arn(export_name: str, seed: int) -> str:
    export_id = uuid.UUID(stable_hex(seed, "export", export_name, length=32))
    return f"arn:aws:bcm-data-exports:us-east-1:{MANAGEMENT_ACCOUNT_ID}:export/{export_name}-{export_id}"


def data_key(export_name: str, billing_period: str, number: int) -> str:
    return f"{PREFIX}/{export_name}/data/BILLING_PERIOD={billing_period}/{export_name}-{number:05d}.snappy.parquet"


def manifest_key(export_name: str, billing_period: str) -> str:
    return f"{PREFIX}/{export_name}/metadata/BILLING_PERIOD={billing_period}/{export_name}-Manifest.json"


def manifest_body(
    *, export_name: str, billing_period: str, data_files: list[str], schema: pa.Schema, rows: int, catalogue: Catalogue
) -> dict[str, Any]:
    start = pd.Timestamp(f"{billing_period}-01")
    end = start + pd.offsets.MonthBegin(1)
    execution = uuid.UUID(stable_hex(catalogue.seed, export_name, billing_period, str(catalogue.today), length=32))
    return {
        "executionId": str(execution),
        "exportArn": export_arn(export_name, catalogue.seed),
        "exportName": export_name,
        "billingPeriod": {"start": f"{start:%Y-%m-%dT%H:%M:%S.000Z}", "end": f"{end:%Y-%m-%dT%H:%M:%S.000Z}"},
        "bucket": BUCKET,
        "dataFiles": data_files,
        "rowCount": rows,
        "reportSchema": {
            "table": EXPORTS[export_name][0],
            "format": "Parquet",
            "compression": "SNAPPY",
            "columns": [{"name": field.name, "type": str(field.type)} for field in schema],
        },
    }


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def _ensure_bucket(s3_client: Any) -> None:
    existing = {bucket["Name"] for bucket in s3_client.list_buckets().get("Buckets", [])}
    if BUCKET in existing:
        return
    region = s3_client.meta.region_name
    if region and region != "us-east-1":
        s3_client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        s3_client.create_bucket(Bucket=BUCKET)


def exports_write(s3_client: Any, *, catalogue: Catalogue, lines: pd.DataFrame) -> dict[str, list[str]]:
    """Write both exports for every billing period; returns the keys written per export name."""
    _ensure_bucket(s3_client)
    rows_per_file = ROWS_PER_FILE[catalogue.size]
    written: dict[str, list[str]] = {}
    for export_name, (_, render) in EXPORTS.items():
        keys: list[str] = []
        for billing_period, period_lines in lines.groupby("billing_period", sort=True):
            table = render(period_lines, catalogue)
            files = max(MIN_FILES[catalogue.size], math.ceil(table.num_rows / rows_per_file))
            per_file = math.ceil(table.num_rows / files)
            data_files = []
            for number in range(files):
                key = data_key(export_name, str(billing_period), number + 1)
                chunk = table.slice(number * per_file, per_file)
                s3_client.put_object(Bucket=BUCKET, Key=key, Body=_parquet(chunk))
                data_files.append(f"s3://{BUCKET}/{key}")
                keys.append(key)
            body = manifest_body(
                export_name=export_name,
                billing_period=str(billing_period),
                data_files=data_files,
                schema=table.schema,
                rows=table.num_rows,
                catalogue=catalogue,
            )
            key = manifest_key(export_name, str(billing_period))
            s3_client.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body, indent=2).encode())
            keys.append(key)
        written[export_name] = keys
    return written
