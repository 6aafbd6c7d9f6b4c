"""Billing import throughput: a 1,000,000-row FOCUS 1.2 Parquet file through `billing_export_import`.

Run from the repository root: `python bench/ingest.py` (or `make bench`). DATABASE_URL names the
PostgreSQL server; the benchmark works in its own scratch database (`costplane_bench`), which it
creates, migrates and drops again. Figures are ratios against raw COPY baselines measured in the same
run on the same rows (STYLE.md: benchmarks report ratios, not absolute timings), so they carry over
between machines. The exit status is 0 even when a target is missed: this is a benchmark, not a test.

The import runs in a child process (this script, with `--import-child`), so that the peak resident
memory it reports is the importer's alone, not the file generation's.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._scratch import server_execute, with_database  # noqa: E402 - needs the repository root on sys.path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

ROWS = 1_000_000
REPEATS = 3
CHUNK_ROWS = 1_000_000  # the generator's rows in memory at once
SCRATCH_DATABASE = "costplane_bench"
DEFAULT_DATABASE_URL = "postgres://costplane@127.0.0.1:54329/costplane"  # config/settings.py's default
SEED = 20250601
BASELINE_RUN_ID = 900_000_000  # the IngestionRun the baseline rows point at (run ids change every round)

# Targets (issue 3, item 10).
MAX_RATIO_INDEXED = 1.5  # import / raw COPY into a table shaped like CostRecord
MAX_RATIO_BARE = 4.0  # import / raw COPY into the same columns without indexes or constraints
MAX_PEAK_MIB = 1024.0  # peak resident memory of the importing process
# Targets (issue 16, item 1): a re-delivered month, unchanged or with a few lines restated, against its first import.
MAX_RATIO_REIMPORT = 1.5
MAX_RATIO_REIMPORT_SMALL = 2.0  # a small file, whose fixed costs weigh more
CHANGED_SHARE = 0.001  # lines whose cost a restatement changes
# The scale series (issue 16, item 6; `--part scale`): first imports of growing months, one child each.
SCALE_ROWS = (250_000, 1_000_000, 2_500_000, 5_000_000)
SCALE_MONTHS = 5  # the largest size again, spread over this many monthly billing periods
SCALE_TIMEOUT = 600  # seconds an import may take (the issue: the largest a 2-core machine does in 10 minutes)
MAX_GROWTH_EXPONENT = 1.1  # seconds ~ rows^k from the smallest to the largest month: linear when k <= 1.1
SMALL_FILE = ROOT.parent / "shared" / "data" / "cur-parquet" / "Dec2018-WorkshopCUR-00001.snappy.parquet"

MONTH_START = "2025-06-01T00:00:00"
BILLING_ACCOUNT = "123456789012"
SUB_ACCOUNTS = ("210987654321", "334455667788", "401234567890", "556677889900", "612345678901", "789012345678")
# (ServiceName, ServiceCategory, PricingUnit, x_UsageType prefix, unit price range in USD, share of rows)
SERVICES = (
    ("Amazon Elastic Compute Cloud", "Compute", "Hours", "BoxUsage", (0.0058, 32.77), 0.42),
    ("Amazon SageMaker", "AI and Machine Learning", "Hours", "ml.Host", (0.05, 37.69), 0.12),
    ("Amazon Simple Storage Service", "Storage", "GB-Mo", "TimedStorage-ByteHrs", (0.0000125, 0.000032), 0.16),
    ("Amazon Relational Database Service", "Databases", "Hours", "InstanceUsage", (0.017, 13.34), 0.08),
    ("AWS Data Transfer", "Networking", "GB", "DataTransfer-Out-Bytes", (0.01, 0.09), 0.10),
    ("Amazon CloudWatch", "Management and Governance", "Metrics", "CW:MetricMonitorUsage", (0.0004, 0.3), 0.07),
    ("AWS Lambda", "Compute", "Lambda-GB-Second", "Lambda-GB-Second", (0.0000133, 0.0000167), 0.05),
)
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2")
TAG_KEYS = {
    "team": ("vision", "search", "payments", "platform", "data", "growth", "ml-infra"),
    "env": ("prod", "staging", "dev"),
    "cost-center": ("cc-1001", "cc-1002", "cc-2040", "cc-3100"),
    "project": ("atlas", "beacon", "cirrus", "delta", "ember", "fjord"),
    "owner": ("alice", "bob", "chen", "dara", "eve"),
}


# --- the file ----------------------------------------------------------------------------------
def focus_file_write(path: Path, rows: int, *, month_start: str = MONTH_START, seed: int = SEED) -> None:
    """A FOCUS 1.2 export of one payer and a handful of member accounts over one month, hourly.

    Resources keep their account, service, region, price and tags for the month, as in real exports:
    Arrow dictionary-encodes the repeating text, while ids and costs are mostly distinct. There are
    60,000 resources up to a million rows and 60,000 per million beyond. The file is written in chunks of
    at most CHUNK_ROWS rows, each an hour range of the month, so that generating a large month never
    holds all its rows at once (a file of up to CHUNK_ROWS rows is one chunk, as it always was).
    """
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    resources = max(60_000, rows * 6 // 100)
    shares = np.array([service[5] for service in SERVICES])
    resource_service = rng.choice(len(SERVICES), size=resources, p=shares / shares.sum())
    resource_account = rng.integers(0, len(SUB_ACCOUNTS), size=resources)
    resource_region = rng.choice(len(REGIONS), size=resources, p=[0.35, 0.15, 0.2, 0.12, 0.08, 0.06, 0.04])
    low = np.array([service[4][0] for service in SERVICES])[resource_service]
    high = np.array([service[4][1] for service in SERVICES])[resource_service]
    # A few hundred price points, as a price list has; log-uniform between the service's bounds.
    price_points = np.round(np.exp(rng.uniform(0, 1, 400)), 6)
    price_index = rng.integers(0, len(price_points), size=resources)
    resource_price = low * (high / low) ** ((price_points[price_index] - 1) / (np.e - 1))
    resource_discount = rng.choice([1.0, 1.0, 1.0, 0.72, 0.6], size=resources)  # savings plans, reservations
    tag_sets = [_tag_set(rng) for _ in range(300)]
    resource_tags = rng.integers(0, len(tag_sets), size=resources)
    described = zip(resource_service.tolist(), resource_region.tolist(), resource_account.tolist(), strict=True)
    resource_ids = np.array(
        [
            _resource_id(SERVICES[service][0], number, REGIONS[region], SUB_ACCOUNTS[account])
            for number, (service, region, account) in enumerate(described)
        ],
        dtype=object,
    )

    described = {
        "service": resource_service,
        "account": resource_account,
        "region": resource_region,
        "price": resource_price,
        "discount": resource_discount,
        "tags": resource_tags,
        "ids": resource_ids,
        "tag_sets": tag_sets,
    }
    start = np.datetime64(month_start, "us")
    month_hours = int((np.datetime64(_month_next(month_start), "us") - start) // np.timedelta64(1, "h"))
    chunks = -(-rows // CHUNK_ROWS)
    writer = None
    try:
        for number in range(chunks):
            chunk_rows = rows // chunks + (1 if number < rows % chunks else 0)
            hours = (month_hours * number // chunks, month_hours * (number + 1) // chunks)
            table = _focus_chunk(rng, described, chunk_rows, hours, start, month_hours)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=128 * 1024)
    finally:
        if writer is not None:
            writer.close()


def _month_next(month_start: str) -> str:
    year, month = int(month_start[:4]), int(month_start[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01T00:00:00"


def _focus_chunk(rng, described: dict, rows: int, hours: tuple[int, int], month_start, month_hours: int):
    """`rows` lines of the resources `described`, charged in the month's hours [hours[0], hours[1])."""
    import numpy as np
    import pyarrow as pa

    resource_service, resource_account, resource_region = (described[key] for key in ("service", "account", "region"))
    resource_price, resource_discount, resource_tags = (described[key] for key in ("price", "discount", "tags"))
    resource_ids, tag_sets = described["ids"], described["tag_sets"]
    which = rng.integers(0, len(resource_ids), size=rows)
    hour = np.sort(rng.integers(hours[0], hours[1], size=rows))
    service = resource_service[which]
    hourly = np.isin(service, [0, 1, 3])
    quantity = np.where(hourly, 1.0, np.round(rng.lognormal(mean=1.0, sigma=2.0, size=rows), 6))
    list_cost = quantity * resource_price[which]
    billed = list_cost * resource_discount[which]
    effective = billed * np.where(rng.random(rows) < 0.1, 0.93, 1.0)
    credit = rng.random(rows) < 0.002
    billed = np.where(credit, -billed, billed)
    effective = np.where(credit, -effective, effective)

    charge_start = month_start + hour.astype("timedelta64[h]")
    utc = pa.timestamp("us", tz="UTC")

    def repeated(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([value]))

    def by_code(codes: np.ndarray, values: list[str]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(codes.astype(np.int32), pa.array(values))

    return pa.table(
        {
            "BillingAccountId": repeated(BILLING_ACCOUNT),
            "BillingAccountName": repeated("Example Corp payer"),
            "SubAccountId": by_code(resource_account[which], list(SUB_ACCOUNTS)),
            "BillingPeriodStart": pa.array(np.full(rows, month_start), utc),
            "BillingPeriodEnd": pa.array(np.full(rows, month_start + np.timedelta64(month_hours, "h")), utc),
            "ChargePeriodStart": pa.array(charge_start, utc),
            "ChargePeriodEnd": pa.array(charge_start + np.timedelta64(1, "h"), utc),
            "ChargeCategory": by_code(credit.astype(np.int32), ["Usage", "Credit"]),
            "ChargeFrequency": repeated("Usage-Based"),
            "ServiceName": by_code(service, [entry[0] for entry in SERVICES]),
            "ServiceCategory": by_code(service, [entry[1] for entry in SERVICES]),
            "RegionId": by_code(resource_region[which], list(REGIONS)),
            "ResourceId": pa.array(resource_ids[which], pa.string()),
            "PricingQuantity": pa.array(quantity, pa.float64()),
            "PricingUnit": by_code(service, [entry[2] for entry in SERVICES]),
            "BilledCost": pa.array(billed, pa.float64()),
            "EffectiveCost": pa.array(effective, pa.float64()),
            "ListCost": pa.array(list_cost, pa.float64()),
            "BillingCurrency": repeated("USD"),
            "Tags": by_code(resource_tags[which], tag_sets),
            "x_UsageType": by_code(service, [entry[3] for entry in SERVICES]),
        }
    )


def _tag_set(rng) -> str:
    keys = rng.choice(list(TAG_KEYS), size=int(rng.integers(0, 5)), replace=False)
    return json.dumps({str(key): str(rng.choice(TAG_KEYS[key])) for key in keys})


def _resource_id(service: str, number: int, region: str, account: str) -> str:
    if service == "Amazon Simple Storage Service":
        return f"costplane-bench-bucket-{number:05d}"
    if service == "AWS Lambda":
        return f"arn:aws:lambda:{region}:{account}:function:handler-{number:05d}"
    if service == "Amazon SageMaker":
        return f"arn:aws:sagemaker:{region}:{account}:endpoint/endpoint-{number:05d}"
    if service == "Amazon Relational Database Service":
        return f"arn:aws:rds:{region}:{account}:db:database-{number:05d}"
    return f"i-{number:017x}"


# --- the database ------------------------------------------------------------------------------
def _timed_copy(table: str, columns: str, payload: bytes) -> float:
    """Seconds for one COPY of `payload` into an empty `table`, committed, as the importer commits."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(payload)
    return time.perf_counter() - started


def _baseline_tables_create() -> None:
    """bench_indexed: CostRecord's columns, defaults, indexes and constraints (foreign keys included:
    LIKE never copies those). bench_bare: the same columns, types, defaults and identity (the importer
    pays for drawing ids too), without indexes or constraints."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_indexed, bench_bare")
        cursor.execute("CREATE TABLE bench_indexed (LIKE finops_costrecord INCLUDING ALL)")
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'finops_costrecord'::regclass AND contype = 'f'"
        )
        for (definition,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE bench_indexed ADD {definition}")
        cursor.execute("CREATE TABLE bench_bare (LIKE finops_costrecord INCLUDING DEFAULTS INCLUDING IDENTITY)")
        cursor.execute(
            "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'bench_bare'::regclass),"
            " (SELECT count(*) FROM pg_constraint WHERE conrelid = 'bench_bare'::regclass AND contype <> 'n'),"
            " (SELECT count(*) FROM pg_index WHERE indrelid = 'bench_indexed'::regclass),"
            " (SELECT count(*) FROM pg_index WHERE indrelid = 'finops_costrecord'::regclass)"
        )
        bare_indexes, bare_constraints, indexed_indexes, model_indexes = cursor.fetchone()
    assert bare_indexes == 0 and bare_constraints == 0, "bench_bare must carry no index or constraint"
    assert indexed_indexes == model_indexes, "bench_indexed must carry CostRecord's indexes"


def _stored_rows_csv(columns: tuple[str, ...]) -> bytes:
    """The rows the importer wrote, as CSV, in the order it wrote them, pointing at the baseline's run."""
    import io

    from django.db import connection

    selected = ", ".join(str(BASELINE_RUN_ID) if name == "run_id" else name for name in columns)
    sink = io.BytesIO()
    with connection.cursor() as cursor:
        query = f"COPY (SELECT {selected} FROM finops_costrecord ORDER BY id) TO STDOUT (FORMAT csv)"
        with cursor.copy(query) as copy:
            for chunk in copy:
                sink.write(chunk)
    return sink.getvalue()


def _import_tables_empty() -> None:
    from django.db import connection

    from finops.models import IngestionRun

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE finops_costrecord, finops_exportdailytotal, finops_ingestionrun CASCADE")
    IngestionRun.objects.create(pk=BASELINE_RUN_ID, source=IngestionRun.Source.FILE)


def _import_in_child(path: Path, timeout: float | None = None) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--import-child", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the import failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def import_child(path: str) -> None:
    """In the child: import the file once and print seconds and resident memory as JSON."""
    import django

    django.setup()
    from finops.services.billing_import import billing_export_import

    rss_before = _max_rss_mib()
    started = time.perf_counter()
    run = billing_export_import(location=path)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": run.rows,
                "inserted": run.rows_inserted,
                "deleted": run.rows_deleted,
                "rss_before": rss_before,
                "rss_peak": _max_rss_mib(),
            }
        )
    )


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- the run -----------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("import", "scale"), default="import", help="import (the default) or scale")
    parser.add_argument(
        "--rows", default=",".join(str(size) for size in SCALE_ROWS), help="scale: comma-separated sizes"
    )
    parser.add_argument("--months", type=int, default=SCALE_MONTHS, help="scale: the largest size again over N months")
    parser.add_argument("--database", default=SCRATCH_DATABASE, help="the scratch database's name")
    arguments = parser.parse_args(argv)
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    scratch = arguments.database
    server_execute(server_url, f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
    server_execute(server_url, f"CREATE DATABASE {scratch}")
    # Read by config.settings at setup, and by the child.
    os.environ["DATABASE_URL"] = with_database(server_url, scratch)
    try:
        with tempfile.TemporaryDirectory(prefix="costplane-bench-") as folder:
            if arguments.part == "scale":
                sizes = sorted(int(size.replace("_", "")) for size in arguments.rows.split(","))
                _scale_benchmark(Path(folder), sizes, arguments.months)
            else:
                _benchmark(Path(folder) / "focus-1.2.parquet")
    finally:
        from django.db import connections

        connections.close_all()
        server_execute(server_url, f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


def _benchmark(path: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from finops.services.billing_writer import COPY_COLUMNS

    call_command("migrate", verbosity=0)
    print(f"generating {ROWS:,} FOCUS 1.2 rows (not timed) ...", flush=True)
    focus_file_write(path, ROWS)
    print(f"file: {path.stat().st_size / 2**20:.1f} MiB Parquet; {REPEATS} rounds of import, COPY (a), COPY (b)")

    columns = ", ".join(COPY_COLUMNS)
    imports, indexed, bare, payload = [], [], [], b""
    for round_number in range(REPEATS):
        _import_tables_empty()
        result = _import_in_child(path)
        if result["rows"] != ROWS:
            raise RuntimeError(f"the import wrote {result['rows']} rows, expected {ROWS}")
        imports.append(result)
        if round_number == 0:
            payload = _stored_rows_csv(COPY_COLUMNS)
            _baseline_tables_create()
        indexed.append(_timed_copy("bench_indexed", columns, payload))
        bare.append(_timed_copy("bench_bare", columns, payload))
        print(
            f"  round {round_number + 1}: import {result['seconds']:.2f} s, "
            f"COPY (a) {indexed[-1]:.2f} s, COPY (b) {bare[-1]:.2f} s",
            flush=True,
        )
    _report(imports, min(indexed), min(bare), len(payload))
    _reimports_report(path, min(result["seconds"] for result in imports))
    if SMALL_FILE.exists():
        _small_file_report()
    else:
        print(f"\n(skipped the December 2018 CUR re-import: {SMALL_FILE} is not there)")


def _restated_write(path: Path, changed_path: Path) -> int:
    """A copy of the file with CHANGED_SHARE of its lines' costs changed (spread over the month); returns how many."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    rng = np.random.default_rng(SEED + 1)
    changed = np.zeros(table.num_rows, dtype=bool)
    changed[rng.choice(table.num_rows, size=int(table.num_rows * CHANGED_SHARE), replace=False)] = True
    for name in ("BilledCost", "EffectiveCost"):
        column = table[name].combine_chunks()
        restated = pc.if_else(pa.array(changed), pc.multiply(column, 1.01), column)
        table = table.set_column(table.schema.get_field_index(name), name, restated)
    pq.write_table(table, changed_path, compression="snappy", row_group_size=128 * 1024)
    return int(changed.sum())


def _reimports_report(path: Path, first: float) -> None:
    """Re-deliveries of the month just imported: unchanged, then with CHANGED_SHARE of its lines restated."""
    print(f"\nre-imports of the stored month (the table holds the last round's {ROWS:,} rows)")
    unchanged = _import_in_child(path)
    if (unchanged["inserted"], unchanged["deleted"]) != (0, 0):
        raise RuntimeError(f"an unchanged re-import changed lines: {unchanged}")
    changed_path = path.with_name("focus-1.2-restated.parquet")
    changed = _restated_write(path, changed_path)
    restated = _import_in_child(changed_path)
    if (restated["inserted"], restated["deleted"]) != (changed, changed):
        raise RuntimeError(f"a re-import with {changed} lines changed inserted / deleted {restated}")
    print(f"first import (best above)     {first:>11.2f} s")
    for label, result in (("re-import, unchanged", unchanged), (f"re-import, {changed:,} lines changed", restated)):
        ratio = result["seconds"] / first
        print(f"{label:<30}{result['seconds']:>11.2f} s   {ratio:.2f}x first import, peak {result['rss_peak']:.0f} MiB")
    for label, result in (("unchanged", unchanged), ("0.1% changed", restated)):
        ratio = result["seconds"] / first
        held = ratio <= MAX_RATIO_REIMPORT
        print(f"  [{'ok' if held else 'MISSED'}] re-import {label} <= {MAX_RATIO_REIMPORT}x first import: {ratio:.2f}x")


def _small_file_report() -> None:
    """The shared December 2018 CUR (91,264 rows): a first import into empty tables, then the same file again."""
    _import_tables_empty()
    first = _import_in_child(SMALL_FILE)
    again = _import_in_child(SMALL_FILE)
    if (again["inserted"], again["deleted"]) != (0, 0) or again["rows"] != first["rows"]:
        raise RuntimeError(f"re-importing {SMALL_FILE.name} changed lines: {again}")
    ratio = again["seconds"] / first["seconds"]
    held = ratio <= MAX_RATIO_REIMPORT_SMALL
    print(f"\n{SMALL_FILE.name} ({first['rows']:,} rows)")
    print(f"first import                  {first['seconds']:>11.2f} s")
    print(f"re-import, unchanged          {again['seconds']:>11.2f} s   {ratio:.2f}x")
    print(f"  [{'ok' if held else 'MISSED'}] re-import <= {MAX_RATIO_REIMPORT_SMALL}x the first import: {ratio:.2f}x")


# --- the scale series (--part scale) -------------------------------------------------------------
def _scale_benchmark(folder: Path, sizes: list[int], months: int) -> None:
    """First imports into empty tables of one month of each size, then of the largest size over `months` months
    (one file per month, one import of the folder): rows per second, peak RSS, and seconds per row against the
    smallest size's (1.00x at every size is linear growth)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"scale series: {', '.join(f'{size:,}' for size in sizes)} rows in one month", end="")
    print(f"; then {sizes[-1]:,} rows over {months} months" if months > 1 else "")
    print(f"one first import per size into empty tables, in a child process (timeout {SCALE_TIMEOUT} s)\n")
    results = []
    for size in sizes:
        path = folder / f"focus-1.2-{size}.parquet"
        results.append(
            _scale_step(f"{size:,} rows, 1 month", size, lambda path=path, size=size: _one_month(path, size))
        )
        if results[-1].get("timed_out"):
            break
    if months > 1 and not results[-1].get("timed_out"):
        spread = folder / "months"
        results.append(
            _scale_step(f"{sizes[-1]:,} rows, {months} months", sizes[-1], lambda: _months(spread, sizes[-1], months))
        )
    _scale_report(results)


def _one_month(path: Path, rows: int) -> Path:
    focus_file_write(path, rows)
    return path


def _months(folder: Path, rows: int, months: int) -> Path:
    """`months` monthly files from MONTH_START on, `rows` in all, each its own billing period (and partition)."""
    folder.mkdir()
    month = MONTH_START
    for number in range(months):
        share = rows // months + (1 if number < rows % months else 0)
        focus_file_write(folder / f"focus-1.2-{month[:7]}.parquet", share, month_start=month, seed=SEED + number)
        month = _month_next(month)
    return folder


def _scale_step(label: str, rows: int, write) -> dict:
    import shutil

    started = time.perf_counter()
    location = write()
    generated = time.perf_counter() - started
    size = sum(path.stat().st_size for path in ([location] if location.is_file() else location.iterdir()))
    _import_tables_empty()
    load = os.getloadavg()[0]
    try:
        result = _import_in_child(location, timeout=SCALE_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"  {label}: the import did not finish in {SCALE_TIMEOUT} s (load {load:.1f})", flush=True)
        return {"label": label, "rows": rows, "timed_out": True}
    finally:
        shutil.rmtree(location) if location.is_dir() else location.unlink()
    if result["rows"] != rows:
        raise RuntimeError(f"the import wrote {result['rows']} rows, expected {rows}")
    result.update(label=label, load=load, file_mib=size / 2**20, generated=generated, stored_mib=_stored_mib())
    result["rollup_rows"] = _rollup_rows()
    print(
        f"  {label}: generated in {generated:.0f} s ({size / 2**20:.0f} MiB); import {result['seconds']:.1f} s,"
        f" peak RSS {result['rss_peak']:.0f} MiB (load {load:.1f} before)",
        flush=True,
    )
    return result


def _stored_mib() -> float:
    """What CostRecord's partitions hold on disk now, indexes and TOAST included."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
            " WHERE inhparent = 'finops_costrecord'::regclass"
        )
        return cursor.fetchone()[0] / 2**20


def _rollup_rows() -> int:
    """Rows of the daily rollup the import rebuilt (it grows with days and columns' combinations, not lines)."""
    from finops.models import CostDailyRollup

    return CostDailyRollup.objects.count()


def _scale_report(results: list[dict]) -> None:
    import math

    done = [result for result in results if not result.get("timed_out")]
    if not done:
        print("\nno size finished")
        return
    smallest = done[0]
    per_row = smallest["seconds"] / smallest["rows"]
    print()
    print(
        f"{'size':<24}{'import s':>10}{'rows/s':>10}{'s/row vs ' + format(smallest['rows'], ','):>20}"
        f"{'peak RSS':>10}{'stored':>10}{'rollup rows':>12}{'load':>6}"
    )
    for result in results:
        if result.get("timed_out"):
            print(f"{result['label']:<24}{'> ' + str(SCALE_TIMEOUT):>10}  did not finish")
            continue
        ratio = result["seconds"] / result["rows"] / per_row
        print(
            f"{result['label']:<24}{result['seconds']:>10.1f}{result['rows'] / result['seconds']:>10,.0f}"
            f"{ratio:>19.2f}x{result['rss_peak']:>6.0f} MiB{result['stored_mib']:>6.0f} MiB{result['rollup_rows']:>12,}"
            f"{result['load']:>6.1f}"
        )
    one_month = [result for result in done if result["label"].endswith(" 1 month")]
    largest = one_month[-1]
    print()
    if largest is not smallest:
        exponent = math.log(largest["seconds"] / smallest["seconds"]) / math.log(largest["rows"] / smallest["rows"])
        linear = exponent <= MAX_GROWTH_EXPONENT
        print(
            f"  [{'ok' if linear else 'MISSED'}] growth {smallest['rows']:,} -> {largest['rows']:,} rows:"
            f" seconds ~ rows^{exponent:.2f} ({'linear' if linear else 'faster than linear'};"
            f" linear means <= {MAX_GROWTH_EXPONENT})"
        )
    peak = max(result["rss_peak"] for result in done)
    held = peak < MAX_PEAK_MIB
    print(f"  [{'ok' if held else 'MISSED'}] peak memory < {MAX_PEAK_MIB:.0f} MiB at every size: {peak:.0f} MiB")
    if len(done) < len(results):
        print(f"  [MISSED] {results[-1]['label']} did not finish in {SCALE_TIMEOUT} s")


def _report(imports: list[dict], indexed: float, bare: float, payload_bytes: int) -> None:
    best = min(imports, key=lambda result: result["seconds"])
    seconds = best["seconds"]
    peak = max(result["rss_peak"] for result in imports)
    growth = max(result["rss_peak"] - result["rss_before"] for result in imports)
    checks = [
        (f"import <= {MAX_RATIO_INDEXED}x COPY (a)", seconds / indexed, seconds / indexed <= MAX_RATIO_INDEXED),
        (f"import <= {MAX_RATIO_BARE}x COPY (b)", seconds / bare, seconds / bare <= MAX_RATIO_BARE),
    ]
    print()
    print(f"rows                         {ROWS:>12,}")
    print(f"import, best of {REPEATS}            {seconds:>12.2f} s   ({ROWS / seconds:,.0f} rows/s)")
    print(f"peak RSS of the import       {peak:>12.0f} MiB ({growth:.0f} MiB above its RSS before the import)")
    print(f"(a) COPY, CostRecord's shape {indexed:>12.2f} s   import / (a) = {seconds / indexed:.2f}x")
    print(f"(b) COPY, bare table         {bare:>12.2f} s   import / (b) = {seconds / bare:.2f}x")
    print(f"(CSV replayed by (a) and (b): {payload_bytes / 2**20:.0f} MiB)")
    print()
    for label, ratio, held in checks:
        print(f"  [{'ok' if held else 'MISSED'}] {label}: {ratio:.2f}x")
    memory_held = peak < MAX_PEAK_MIB
    print(f"  [{'ok' if memory_held else 'MISSED'}] peak memory < {MAX_PEAK_MIB:.0f} MiB: {peak:.0f} MiB")
    missed = [label for label, _, held in checks if not held] + ([] if memory_held else ["peak memory"])
    if missed:
        print(f"VERDICT: TARGETS MISSED ({'; '.join(missed)})")
    else:
        print("VERDICT: all targets met")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--import-child":
        import_child(sys.argv[2])
    else:
        main(sys.argv[1:])
