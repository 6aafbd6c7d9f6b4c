"""Billing data exports on S3 (AWS Data Exports for CUR 2.0 / FOCUS, and legacy CUR).

A prefix holds one manifest per billing period; each manifest lists exactly the data files of that
period's current version. Reading through the manifests (never by listing data files) keeps a
half-written or superseded version out of an import.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from finops.aws.clients import access_denied_text, with_backoff


class ExportLocationError(Exception):
    """An s3:// location that cannot be imported (no manifest, unreadable, malformed)."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ExportLocationError(f"{uri!r} is not an s3://bucket/prefix URI")
    return parts.netloc, parts.path.lstrip("/")


def _keys_under(client: BaseClient, bucket: str, prefix: str) -> Iterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield entry["Key"]


def _manifest_files(client: BaseClient, bucket: str, key: str) -> list[S3Object]:
    try:
        body = with_backoff(client.get_object, Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if (denied := access_denied_text(error, service="s3")) is None:
            raise
        raise ExportLocationError(f"s3://{bucket}/{key}: cannot read the manifest ({denied})") from None
    try:
        manifest = json.loads(body)
    except ValueError as error:
        raise ExportLocationError(f"s3://{bucket}/{key}: the manifest is not JSON ({error})") from None
    if "dataFiles" in manifest:  # AWS Data Exports (CUR 2.0, FOCUS)
        files = [S3Object(*split_s3_uri(uri)) for uri in manifest["dataFiles"]]
    elif "reportKeys" in manifest:  # legacy CUR
        files = [S3Object(manifest.get("bucket", bucket), report_key) for report_key in manifest["reportKeys"]]
    else:
        raise ExportLocationError(f"s3://{bucket}/{key}: the manifest lists no dataFiles or reportKeys")
    return files


def _manifest_keys(client: BaseClient, uri: str) -> tuple[str, list[str]]:
    bucket, prefix = split_s3_uri(uri)
    try:
        manifests = sorted(key for key in _keys_under(client, bucket, prefix) if key.endswith("Manifest.json"))
    except ClientError as error:
        reason = access_denied_text(error, service="s3") or error
        raise ExportLocationError(f"{uri}: cannot list the bucket ({reason})") from None
    if not manifests:
        raise ExportLocationError(f"{uri}: no export manifest (*Manifest.json) under this prefix")
    return bucket, manifests


def export_files(client: BaseClient, uri: str) -> list[S3Object]:
    """Every data file that the manifests under `uri` list, in manifest order."""
    bucket, manifests = _manifest_keys(client, uri)
    files: list[S3Object] = []
    for key in manifests:
        for data_file in _manifest_files(client, bucket, key):
            if data_file not in files:
                files.append(data_file)
    return files


# The billing period folder of a manifest's key: Data Exports' `BILLING_PERIOD=YYYY-MM`, legacy CUR's
# `YYYYMMDD-YYYYMMDD` (the period's first and next month's first day).
_PERIOD_FOLDER = re.compile(r"/(?:BILLING_PERIOD=(?P<month>\d{4}-\d{2})|(?P<first>\d{6})01-\d{8})/")


@dataclass(frozen=True)
class ExportFileSet:
    """The manifests of one billing period of one export: `location` is the s3:// prefix that holds exactly them (an
    import of it reads only that period), `billing_period` its month as `YYYY-MM`, or None for a whole export whose
    keys do not tell the period of every manifest."""

    location: str
    billing_period: str | None


def export_file_sets(client: BaseClient, uri: str) -> list[ExportFileSet]:
    """The export under `uri` split by billing period folder, by period then location; one set of the whole `uri`
    when a manifest's key names no billing period (its files could hold any month)."""
    bucket, manifests = _manifest_keys(client, uri)
    periods: dict[str, str] = {}
    for key in manifests:
        match = _PERIOD_FOLDER.search(f"/{key}")
        if match is None:
            return [ExportFileSet(location=uri, billing_period=None)]
        period = match["month"] or f"{match['first'][:4]}-{match['first'][4:]}"
        # Every key under the prefix up to the first period folder shares that folder: the prefix holds this set only.
        periods[key[: match.end() - 1]] = period
    return [
        ExportFileSet(location=f"s3://{bucket}/{prefix}", billing_period=period)
        for prefix, period in sorted(periods.items(), key=lambda item: (item[1], item[0]))
    ]


@contextmanager
def downloaded(client: BaseClient, s3_object: S3Object) -> Iterator[Path]:
    """The object in a temporary file (Parquet needs a seekable file), removed afterwards."""
    suffix = "".join(Path(s3_object.key).suffixes[-2:])
    with tempfile.NamedTemporaryFile(prefix="costplane-export-", suffix=suffix) as handle:
        try:
            client.download_fileobj(s3_object.bucket, s3_object.key, handle)
        except ClientError as error:
            reason = access_denied_text(error, service="s3") or error
            raise ExportLocationError(f"{s3_object.uri}: cannot download ({reason})") from None
        handle.flush()
        yield Path(handle.name)
