"""Billing data exports on S3 (AWS Data Exports for CUR 2.0 / FOCUS, and legacy CUR).

A prefix holds one manifest per billing period; each manifest lists exactly the data files of that
period's current version. Reading through the manifests (never by listing data files) keeps a
half-written or superseded version out of an import.
"""

from __future__ import annotations

import json
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


def export_files(client: BaseClient, uri: str) -> list[S3Object]:
    """Every data file that the manifests under `uri` list, in manifest order."""
    bucket, prefix = split_s3_uri(uri)
    try:
        manifests = sorted(key for key in _keys_under(client, bucket, prefix) if key.endswith("Manifest.json"))
    except ClientError as error:
        reason = access_denied_text(error, service="s3") or error
        raise ExportLocationError(f"{uri}: cannot list the bucket ({reason})") from None
    if not manifests:
        raise ExportLocationError(f"{uri}: no export manifest (*Manifest.json) under this prefix")
    files: list[S3Object] = []
    for key in manifests:
        for data_file in _manifest_files(client, bucket, key):
            if data_file not in files:
                files.append(data_file)
    return files


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
