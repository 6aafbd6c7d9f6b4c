"""Bytes to Arrow batches: Parquet, CSV, CSV.gz and zipped CSV, from a path or a binary file object.

The container is told by its first bytes (``PAR1``, gzip's ``1f 8b``, zip's ``PK``), never by the
name alone. CSV is read by Arrow with every column as text (so account ids keep their leading
zeros and money keeps every digit), in blocks, one thread, so that a bad row's number is known.

A CSV row whose field count differs from the header's is an error that names the first such row
and both counts: a ragged file cannot be realigned safely (was a field dropped at the end, or in
the middle?), and silently padding it would shift or lose values.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from finops.importers.errors import BillingFileError

PARQUET = "parquet"
CSV = "csv"
GZIP_CSV = "csv.gz"
ZIP_CSV = "csv.zip"

_BILLING_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".parquet")
_CSV_BLOCK_BYTES = 4 << 20


class _Unclosable(io.RawIOBase):
    """A view of a caller's file object that readers may close without closing the caller's file."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


@dataclass
class Source:
    """Where a billing file's bytes come from; ``open()`` gives a fresh binary stream at its start."""

    name: str
    path: Path | None = None
    fileobj: BinaryIO | None = None
    start: int = 0

    @classmethod
    def from_argument(cls, source: str | os.PathLike[str] | BinaryIO, name: str | None) -> Source:
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            return cls(name=name or str(path), path=path)
        fileobj = source
        if not _seekable(fileobj):
            # Parquet needs random access and the header is read twice; S3 bodies are streams.
            spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)
            shutil.copyfileobj(fileobj, spool, 1 << 20)
            spool.seek(0)
            fileobj = spool  # type: ignore[assignment]
        label = name or str(getattr(source, "name", "") or "<stream>")
        return cls(name=label, fileobj=fileobj, start=fileobj.tell())

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        if self.path is not None:
            with open(self.path, "rb") as stream:
                yield stream
            return
        assert self.fileobj is not None
        self.fileobj.seek(self.start)
        yield io.BufferedReader(_Unclosable(self.fileobj), 1 << 20)  # type: ignore[arg-type]

    def container(self) -> str:
        with self.open() as stream:
            magic = stream.read(4)
        if magic == b"PAR1":
            return PARQUET
        if magic[:2] == b"\x1f\x8b":
            return GZIP_CSV
        if magic == b"PK\x03\x04":
            return ZIP_CSV
        return CSV


def _seekable(fileobj: BinaryIO) -> bool:
    try:
        return bool(fileobj.seekable())
    except (AttributeError, ValueError):
        return False


@contextmanager
def csv_stream(source: Source, container: str) -> Iterator[BinaryIO]:
    """The CSV bytes of a (possibly compressed) source."""
    with ExitStack() as stack:
        raw = stack.enter_context(source.open())
        if container == GZIP_CSV:
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif container == ZIP_CSV:
            archive = stack.enter_context(zipfile.ZipFile(raw))
            members = [info for info in archive.infolist() if not info.is_dir()]
            csv_members = [info for info in members if info.filename.lower().endswith(".csv")] or members
            if len(csv_members) != 1:
                raise BillingFileError(source.name, "a zipped billing file must hold exactly one CSV file")
            yield stack.enter_context(archive.open(csv_members[0]))  # type: ignore[misc]
        else:
            yield raw


def csv_header(source: Source, container: str) -> list[str]:
    with csv_stream(source, container) as stream:
        text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            header = next(csv.reader(text_stream), None)
        except (UnicodeDecodeError, csv.Error, OSError, EOFError) as error:
            raise BillingFileError(source.name, f"not a readable CSV file ({error})") from error
        finally:
            text_stream.detach()
    if not header:
        raise BillingFileError(source.name, "the file is empty")
    return header


def unique_names(header: list[str]) -> list[str]:
    """The header with repeated names made distinct (``name``, ``name#2``), so each can be selected."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _arrow_says(error: Exception) -> str:
    """Arrow's own words on one line (its messages span several)."""
    return " ".join(str(error).split())


def parquet_schema(source: Source) -> tuple[list[str], int]:
    with source.open() as stream:
        try:
            parquet = pq.ParquetFile(stream)
        except (pa.ArrowException, OSError) as error:
            raise BillingFileError(
                source.name,
                f"not a complete Parquet file: it is cut short or damaged, or not Parquet ({_arrow_says(error)})",
            ) from error
        return list(parquet.schema_arrow.names), parquet.metadata.num_rows


def parquet_batches(source: Source, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    rows_read = 0
    with source.open() as stream:
        try:
            for batch in pq.ParquetFile(stream).iter_batches(batch_size=batch_rows, columns=columns):
                rows_read += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as error:
            raise BillingFileError(
                source.name,
                f"the Parquet data after row {rows_read} is cut short or damaged ({_arrow_says(error)})",
            ) from error


def csv_batches(
    source: Source, container: str, header: list[str], columns: list[str], batch_rows: int
) -> Iterator[pa.Table]:
    """Batches of at most ``batch_rows`` rows holding ``columns`` (names from ``unique_names(header)``) as text."""
    bad_rows: list[pa_csv.InvalidRow] = []

    def remember_bad_row(row: pa_csv.InvalidRow) -> str:
        bad_rows.append(row)
        return "error"

    names = unique_names(header)
    with csv_stream(source, container) as stream:
        reader = None
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(
                    column_names=names, skip_rows=1, block_size=_CSV_BLOCK_BYTES, use_threads=False
                ),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=remember_bad_row),
                # An unquoted empty field is null, a quoted one ("") the empty string: FOCUS keeps them apart.
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in columns},
                    include_columns=columns,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    # Not Arrow's default list, which also nulls NA, N/A, n/a, NaN, #N/A...: a tag value "NA"
                    # would be lost, and a cost written "n/a" reported as missing rather than as not a number.
                    null_values=["", "null", "NULL", "Null"],
                ),
            )
            yield from _rebatched(reader, batch_rows)
        except pa.ArrowInvalid as error:
            if bad_rows:
                row = bad_rows[0]
                # Arrow counts the header as row 1 and skips blank lines, as the data row numbers do.
                data_row = None if row.number is None else row.number - 1
                raise BillingFileError(
                    source.name,
                    f"the header has {row.expected_columns} fields but this row has {row.actual_columns}; "
                    "a ragged file cannot be realigned safely, so nothing was imported from it",
                    row=data_row,
                ) from error
            raise BillingFileError(source.name, f"cannot parse the CSV data ({error})") from error
        except (UnicodeDecodeError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise BillingFileError(source.name, f"cannot read the file ({error})") from error
        finally:
            if reader is not None:
                reader.close()


def _rebatched(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < batch_rows:
            continue
        table = pa.Table.from_batches(pending)
        offset = 0
        while pending_rows - offset >= batch_rows:
            yield table.slice(offset, batch_rows)
            offset += batch_rows
        rest = table.slice(offset)
        pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def list_billing_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The billing files under ``folder``, recursively, sorted; manifests and other files are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    found = [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.name.lower().endswith(_BILLING_SUFFIXES)
    ]
    return sorted(found)
