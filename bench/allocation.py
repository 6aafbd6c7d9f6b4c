"""Allocation speed, in two parts: the engine on synthetic frames, and the reports over a year of stored billing rows.

Run from the repository root: `python bench/allocation.py` (both parts), `--part engine` or `--part database`. The
exit status is always 0: this is a benchmark, not a test.

Engine part (no Django, no database): for each size, a frame of ROW_COLUMNS rows (30 days, 40 teams, shared support
cost, Decimal costs with 10 fractional digits) goes through `finops.allocation.engine.allocate` by `tag:team` and
week, with a proportional shared-cost rule; the baseline, measured in the same run, sums the same Decimal costs per
(team tag, week) with pandas alone. Prints seconds and the ratio.

Database part (issue 16, item 4): DATABASE_URL names the PostgreSQL server; the benchmark works in its own scratch
database (`costplane_bench_alloc`), which it creates, migrates and drops again. It COPYs one year (2025) of daily
FOCUS lines for 5,000 resources (1,825,000 rows, fixed seed, not timed) into finops_costrecord with what an import
leaves beside them (account-day totals, billing periods, accounts, a succeeded run), then times, interleaved, 50
/api/v1/allocations and 50 /api/v1/costs requests by tag:team (in-process, DRF's APIClient, a viewer) for a 30-day
and a 365-day window at the end of the year, against one plain SQL GROUP BY of the same raw rows by team (median of
10 runs in the same run). No allocation rules are published (version 0, tags as stored): rules a rollup by tag can
serve. Every response must be 200 and its per-team costs and total must equal the SQL's exactly (Decimal).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._scratch import server_execute, with_database  # noqa: E402 - needs the repository root on sys.path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from finops.allocation.engine import ROW_COLUMNS, allocate  # noqa: E402 - needs the repository root on sys.path
from finops.allocation.rules import rules_parse  # noqa: E402
from finops.reports import UNALLOCATED, money_sum  # noqa: E402

# --- engine part ---------------------------------------------------------------------------------------------------
SIZES = (10_000, 50_000, 200_000)
TEAMS = [f"team-{index:02d}" for index in range(40)]
SERVICES = ["Amazon SageMaker", "Amazon Elastic Compute Cloud - Compute", "Amazon S3", "AWS Support (Business)"]
RULES = rules_parse(
    {
        "shared_costs": [
            {
                "name": "Support",
                "match": {"service": ["AWS Support (Business)"]},
                "key": "tag:team",
                "method": "proportional",
            }
        ]
    }
)


def synthetic_rows(count: int, seed: int = 7) -> pd.DataFrame:
    randomness = random.Random(seed)
    start = date(2026, 11, 1)
    records = []
    for index in range(count):
        day = start + timedelta(days=randomness.randrange(30))
        service = randomness.choice(SERVICES)
        tags = {} if service == SERVICES[-1] or randomness.random() < 0.1 else {"team": randomness.choice(TEAMS)}
        cost = Decimal(randomness.randrange(1, 10**12)) / Decimal(10**10)
        records.append(
            (day - timedelta(days=day.weekday()), f"{100000000000 + index % 5}", service, "us-east-1", "usage",
             f"resource-{index % 5000}", "usage", tags, cost)
        )  # fmt: skip
    return pd.DataFrame(records, columns=list(ROW_COLUMNS))


def baseline(frame: pd.DataFrame) -> pd.DataFrame:
    keyed = frame.assign(team=frame["tags"].map(lambda tags: tags.get("team", "__unallocated__")))
    return keyed.groupby(["team", "period"], sort=True).agg(cost=("cost", money_sum)).reset_index()


def timed(function, *args, repeat: int = 3, **kwargs) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def engine_part() -> None:
    print(f"{'rows':>8}  {'allocate s':>10}  {'baseline s':>10}  {'ratio':>6}  total exact")
    for size in SIZES:
        frame = synthetic_rows(size)
        engine_seconds, items = timed(allocate, frame, aggregate=("tag:team",), rules=RULES)
        baseline_seconds, _ = timed(baseline, frame)
        exact = money_sum(items["cost"]) == money_sum(frame["cost"])
        ratio = engine_seconds / baseline_seconds
        print(f"{size:>8}  {engine_seconds:>10.3f}  {baseline_seconds:>10.3f}  {ratio:>6.2f}  {exact}")


# --- database part: the data ---------------------------------------------------------------------------------------
SCRATCH_DATABASE = "costplane_bench_alloc"
DEFAULT_DATABASE_URL = "postgres://costplane@127.0.0.1:54329/costplane"  # config/settings.py's default
SEED = 20251231
YEAR = 2025
PAYER = "123456789012"
MEMBERS = ("210987654321", "334455667788", "401234567890", "556677889900", "612345678901", "789012345678")
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
# (ServiceName, ServiceCategory, usage type, pricing unit, daily cost range in USD, share of resources)
DB_SERVICES = (
    ("Amazon Elastic Compute Cloud", "Compute", "BoxUsage:m7i.2xlarge", "Hours", (2.0, 800.0), 0.45),
    ("Amazon SageMaker", "AI and Machine Learning", "ml.g5.12xlarge-Hosting", "Hours", (20.0, 1200.0), 0.15),
    ("Amazon Simple Storage Service", "Storage", "TimedStorage-ByteHrs", "GB-Mo", (0.05, 90.0), 0.15),
    ("Amazon Relational Database Service", "Databases", "InstanceUsage:db.r6g.xlarge", "Hours", (5.0, 300.0), 0.10),
    ("AWS Lambda", "Compute", "Lambda-GB-Second", "Lambda-GB-Second", (0.01, 40.0), 0.10),
    ("Amazon CloudWatch", "Management and Governance", "CW:MetricMonitorUsage", "Metrics", (0.1, 20.0), 0.05),
)
HOURLY = (0, 1, 3)  # services billed per instance-hour: 24 a day
DB_TEAMS = [
    f"{area}-{role}"
    for area in ("search", "ads", "vision", "speech", "payments", "growth", "data", "platform", "ml", "risk")
    for role in ("core", "infra", "research", "serving")
]
MONEY_SCALE = 10  # generated costs have 10 fractional digits (NUMERIC(38, 20) stores them as they are)
ENDPOINTS = ("/api/v1/allocations", "/api/v1/costs")
WINDOWS = (("30 days", date(YEAR, 12, 2), date(YEAR + 1, 1, 1)), ("365 days", date(YEAR, 1, 1), date(YEAR + 1, 1, 1)))
SQL_EVERY = 5  # one SQL baseline run after every 5th pair of requests: 10 runs for 50 requests
TARGET_MS = 50.0


def resources_describe(count: int, rng: np.random.Generator) -> dict:
    """Per resource: service, account, region, tags (JSON as an import writes it), daily cost and discount."""
    shares = np.array([service[5] for service in DB_SERVICES])
    service = rng.choice(len(DB_SERVICES), size=count, p=shares / shares.sum())
    low = np.array([entry[4][0] for entry in DB_SERVICES])[service]
    high = np.array([entry[4][1] for entry in DB_SERVICES])[service]
    daily = low * (high / low) ** rng.random(count)  # log-uniform between the service's bounds
    team_weights = 1 / np.arange(1, len(DB_TEAMS) + 1)  # a few teams spend most, as in real organisations
    team = rng.choice(len(DB_TEAMS), size=count, p=team_weights / team_weights.sum())
    kind = rng.random(count)  # 6% untagged, 4% tagged without a team, the rest with one
    project = rng.integers(0, 3, size=count)  # each team runs up to three projects
    tags = []
    for index in range(count):
        entry = {
            "environment": str(rng.choice(["prod", "staging", "dev"], p=[0.6, 0.25, 0.15])),
            "project": f"{DB_TEAMS[team[index]].split('-')[0]}-{project[index]}",
        }
        if kind[index] >= 0.10:
            entry["team"] = DB_TEAMS[team[index]]
        tags.append("{}" if kind[index] < 0.06 else json.dumps(entry, sort_keys=True, separators=(",", ":")))
    # A team's resources mostly live in its own member account, a fifth of them elsewhere.
    account = np.where(rng.random(count) < 0.8, team % len(MEMBERS), rng.integers(0, len(MEMBERS), size=count))
    region = rng.choice(len(REGIONS), size=count, p=[0.4, 0.15, 0.2, 0.12, 0.08, 0.05])
    described = enumerate(zip(service.tolist(), region.tolist(), account.tolist(), strict=True))
    ids = [_resource_id(code, number, REGIONS[where], MEMBERS[owner]) for number, (code, where, owner) in described]
    return {
        "service": service,
        "account": account,
        "region": region,
        "ids": pa.array(ids),
        "tags": pa.array(tags),
        "units": np.round(daily * 10**MONEY_SCALE).astype(np.int64),
        "discount": rng.choice([100, 100, 100, 72, 60], size=count),  # percent paid: savings plans, reservations
    }


def _resource_id(service: int, number: int, region: str, account: str) -> str:
    if service == 1:
        return f"arn:aws:sagemaker:{region}:{account}:endpoint/endpoint-{number:05d}"
    if service == 2:
        return f"costplane-bench-bucket-{number:05d}"
    if service == 3:
        return f"arn:aws:rds:{region}:{account}:db:database-{number:05d}"
    if service == 4:
        return f"arn:aws:lambda:{region}:{account}:function:handler-{number:05d}"
    if service == 5:
        return f"arn:aws:cloudwatch:{region}:{account}:alarm:alarm-{number:05d}"
    return f"i-{number:017x}"


def _decimals(units: np.ndarray, scale: int) -> pa.Array:
    """int64 units of 10**-scale as an exact Arrow decimal (two's complement, 128 bits little-endian)."""
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = units, np.where(units < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(units), [None, pa.py_buffer(words.tobytes())])


def month_csv(month: int, first_row: int, resources: dict, run_id: int, rng: np.random.Generator) -> bytes:
    """One month's lines (one per resource and day, in day order) as COPY-ready CSV in COPY_COLUMNS order."""
    from finops.services.billing_writer import COPY_COLUMNS

    start = date(YEAR, month, 1)
    end = date(YEAR + month // 12, month % 12 + 1, 1)
    days = (end - start).days
    count = len(resources["units"])
    rows = days * count
    which = np.tile(np.arange(count), days)
    day = np.repeat(np.arange(days), count)
    service = resources["service"][which]
    billed = (resources["units"][which] * rng.uniform(0.7, 1.3, rows)).astype(np.int64)
    credit = rng.random(rows) < 0.002
    billed = np.where(credit, -billed // 10, billed)
    effective = billed * resources["discount"][which] // 100
    hourly = np.isin(service, HOURLY)
    quantity = np.where(hourly, 24_000_000, (rng.lognormal(2.0, 1.5, rows) * 10**6).astype(np.int64))
    stamps = [f"{start + timedelta(days=offset)} 00:00:00+00" for offset in range(days + 1)]
    hashes = (np.arange(first_row, first_row + rows, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    hexes = np.frombuffer(hashes.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16")

    def repeated(value: str | None) -> pa.Array:
        return pa.nulls(rows, pa.string()) if value is None else pa.array([value]).take(np.zeros(rows, np.int32))

    def by_code(codes: np.ndarray, values) -> pa.Array:
        return pa.array(values).take(pa.array(codes))

    columns = {
        "source": repeated("focus"),
        "run_id": repeated(str(run_id)),
        "line_key": pc.binary_join_element_wise(pa.array(hexes, pa.binary(16)).cast(pa.string()), "0", "-"),
        "billing_account_id": repeated(PAYER),
        "sub_account_id": by_code(resources["account"][which], MEMBERS),
        "billing_period_start": repeated(start.isoformat()),
        "billing_period_end": repeated(end.isoformat()),
        "charge_period_start": by_code(day, stamps),
        "charge_period_end": by_code(day + 1, stamps),
        "charge_category": by_code(credit.astype(np.int8), ["usage", "credit"]),
        "charge_class": repeated(None),
        "service_name": by_code(service, [entry[0] for entry in DB_SERVICES]),
        "service_category": by_code(service, [entry[1] for entry in DB_SERVICES]),
        "region_id": by_code(resources["region"][which], REGIONS),
        "resource_id": resources["ids"].take(pa.array(which)),
        "usage_type": by_code(service, [entry[2] for entry in DB_SERVICES]),
        "sku_id": by_code(service * len(REGIONS) + resources["region"][which],
                          [f"SKU{index:04d}BENCH" for index in range(len(DB_SERVICES) * len(REGIONS))]),
        "pricing_quantity": _decimals(quantity, 6),
        "pricing_unit": by_code(service, [entry[3] for entry in DB_SERVICES]),
        "billed_cost": _decimals(billed, MONEY_SCALE),
        "effective_cost": _decimals(effective, MONEY_SCALE),
        "list_cost": _decimals(np.where(credit, 0, billed), MONEY_SCALE),
        "billing_currency": repeated("USD"),
        "pricing_currency": repeated("USD"),
        "pricing_currency_effective_cost": repeated(None),
        "pricing_currency_contracted_unit_price": repeated(None),
        "pricing_currency_list_unit_price": repeated(None),
        "provider_name": repeated("AWS"),
        "invoice_issuer_name": repeated("Amazon Web Services, Inc."),
        # December is not invoiced yet: its billing period stays estimated, the others become final.
        "invoice_id": repeated(None if month == 12 else f"EUINUS25-{month:02d}0001"),
        "tags": resources["tags"].take(pa.array(which)),
    }  # fmt: skip
    assert tuple(columns) == COPY_COLUMNS, "the generated columns must be the importer's COPY columns, in order"
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table(columns), sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def billing_year_load(resource_count: int) -> int:
    """COPY the year into finops_costrecord and record what an import records beside it; returns the rows."""
    from django.db import connection, transaction
    from django.utils import timezone

    from finops.models import CloudAccount, CostDailyRollup, CostRecord, CostTagRollup, ExportDailyTotal, IngestionRun
    from finops.partitions import partitions_ensure
    from finops.services.billing_periods import billing_periods_record
    from finops.services.billing_writer import COPY_COLUMNS
    from finops.services.rollups import rollups_rebuild_scopes

    rng = np.random.default_rng(SEED)
    resources = resources_describe(resource_count, rng)
    run = IngestionRun.objects.create(
        source=IngestionRun.Source.FILE, status=IngestionRun.Status.RUNNING, started_at=timezone.now(),
        window_start=date(YEAR, 1, 1), window_end=date(YEAR + 1, 1, 1), location="bench/allocation.py",
    )  # fmt: skip
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        partitions_ensure(date(YEAR, month, 1) for month in range(1, 13))  # CostRecord's monthly partitions
        cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")  # as the importer loads
        cursor.execute("SET LOCAL synchronous_commit = off")
        for month in range(1, 13):
            payload = month_csv(month, rows, resources, run.pk, rng)
            query = f"COPY {CostRecord._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
            with cursor.copy(query) as copy:
                copy.write(payload)
            rows += resource_count * (date(YEAR + month // 12, month % 12 + 1, 1) - date(YEAR, month, 1)).days
        # The account-day totals the importer sums while reading a file: the reports read a day's rows through them.
        cursor.execute(
            f"INSERT INTO {ExportDailyTotal._meta.db_table} (source, billing_account_id, billing_period_start,"
            " sub_account_id, day, billed_cost, effective_cost, run_id)"
            " SELECT source, billing_account_id, billing_period_start, sub_account_id,"
            " (charge_period_start AT TIME ZONE 'UTC')::date, SUM(billed_cost), SUM(effective_cost), run_id"
            f" FROM {CostRecord._meta.db_table} GROUP BY 1, 2, 3, 4, 5, 8"
        )
        scopes = [("focus", PAYER, date(YEAR, month, 1)) for month in range(1, 13)]
        rollups_rebuild_scopes(cursor, scopes)  # the daily and tag rollups, as each import rebuilds them
        billing_periods_record(
            scopes=scopes,
            merged={},
            scopes_without_invoice_column=set(),
            run=run,
        )
        payer = CloudAccount.objects.create(account_id=PAYER, name="Bench payer")
        for number, account_id in enumerate(MEMBERS):
            CloudAccount.objects.create(account_id=account_id, name=f"Bench member {number + 1}", payer=payer)
        IngestionRun.objects.filter(pk=run.pk).update(
            status=IngestionRun.Status.SUCCEEDED, rows=rows, rows_inserted=rows, finished_at=timezone.now()
        )
    with connection.cursor() as cursor:  # a table that has been in use a while is vacuumed and analyzed
        for model in (CostRecord, ExportDailyTotal, CostDailyRollup, CostTagRollup):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return rows


# --- database part: the measurement --------------------------------------------------------------------------------
def sql_by_team(start: date, end: date) -> tuple[float, dict[str, Decimal]]:
    """Seconds for the plain GROUP BY over the raw rows of [start, end), and its cost per team (the reports' default
    cost basis, billed)."""
    from django.db import connection

    low, high = (datetime(day.year, day.month, day.day, tzinfo=UTC) for day in (start, end))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tags ->> 'team', SUM(billed_cost) FROM finops_costrecord"
            " WHERE charge_period_start >= %s AND charge_period_start < %s GROUP BY 1",
            [low, high],
        )
        records = cursor.fetchall()
    seconds = time.perf_counter() - started
    by_team: dict[str, Decimal] = {}
    for team, cost in records:
        key = team or UNALLOCATED  # the reports' COALESCE(NULLIF(tags ->> key, ''), '__unallocated__')
        by_team[key] = money_sum([by_team.get(key, Decimal(0)), cost])
    return seconds, by_team


def response_check(label: str, response, expected: dict[str, Decimal]) -> bool:
    """Whether the response is a 200 whose per-team costs and total equal the SQL's exactly; says so loudly if not."""
    if response.status_code != 200:
        print(f"  FAILED {label}: HTTP {response.status_code}: {response.content[:500]!r}")
        return False
    body = response.json()
    got: dict[str, Decimal] = {}
    for item in body["items"]:
        team = item["key"]["tag:team"]
        got[team] = money_sum([got.get(team, Decimal(0)), Decimal(item["cost"])])
    total, sql_total = Decimal(body["total"]), money_sum(expected.values())
    if total == sql_total and got == expected:
        return True
    differing = sorted(team for team in got.keys() | expected.keys() if got.get(team) != expected.get(team))
    print(f"  MISMATCH {label}: total {total} vs SQL {sql_total} (difference {total - sql_total});")
    for team in differing[:10]:
        print(f"    {team}: report {got.get(team)} vs SQL {expected.get(team)}")
    return False


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value at least `share` of the values do not exceed (p95 of 50: the 48th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def window_measure(client, label: str, start: date, end: date, requests: int) -> dict:
    params = {"window": f"{start},{end}", "aggregate": "tag:team"}
    _, expected = sql_by_team(start, end)  # warms the cache for both sides
    exact = all([response_check(f"{path} {label} (warm-up)", client.get(path, params), expected) for path in ENDPOINTS])
    seconds: dict[str, list[float]] = {path: [] for path in ENDPOINTS}
    sql_seconds: list[float] = []
    for number in range(requests):
        for path in ENDPOINTS:
            started = time.perf_counter()
            response = client.get(path, params)
            seconds[path].append(time.perf_counter() - started)
            exact = response_check(f"{path} {label} request {number + 1}", response, expected) and exact
        if number % SQL_EVERY == 0:
            sql_seconds.append(sql_by_team(start, end)[0])
    return {
        "seconds": seconds,
        "sql": statistics.median(sql_seconds),
        "exact": exact,
        "total": money_sum(expected.values()),
    }


def database_part(resource_count: int, requests: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from finops.roles import VIEWER

    call_command("migrate", verbosity=0)
    print(f"loading {resource_count:,} resources x 365 days of {YEAR} with COPY (not timed) ...", flush=True)
    started = time.perf_counter()
    rows = billing_year_load(resource_count)
    from finops.models import CostDailyRollup, CostTagRollup

    print(
        f"{rows:,} rows loaded in {time.perf_counter() - started:.0f} s;"
        f" the daily rollup holds {CostDailyRollup.objects.count():,} rows, the tag rollup"
        f" {CostTagRollup.objects.filter(grain='day').count():,} day and"
        f" {CostTagRollup.objects.filter(grain='month').count():,} month rows",
        flush=True,
    )
    viewer = get_user_model().objects.create_user("bench-viewer")
    viewer.groups.add(Group.objects.get(name=VIEWER))
    client = APIClient()
    client.force_authenticate(viewer)
    results = {}
    for label, start, end in WINDOWS:
        print(f"{label} ({start} to {end}, end exclusive): {requests} requests per endpoint ...", flush=True)
        results[label] = window_measure(client, label, start, end, requests)
    database_report(results, rows, requests)


def database_report(results: dict, rows: int, requests: int) -> None:
    print()
    print(f"{rows:,} rows; {requests} requests per endpoint and window; SQL: median of the GROUP BY's runs")
    print(f"{'window':<9} {'endpoint':<20} {'p50 ms':>8} {'p95 ms':>8} {'SQL ms':>8} {'p95/SQL':>8}  totals exact")
    checks = []
    for label, result in results.items():
        sql_ms = result["sql"] * 1000
        for path, seconds in result["seconds"].items():
            p50, p95 = percentile(seconds, 0.50) * 1000, percentile(seconds, 0.95) * 1000
            print(
                f"{label:<9} {path:<20} {p50:>8.1f} {p95:>8.1f} {sql_ms:>8.1f} {p95 / sql_ms:>8.2f}  {result['exact']}"
            )
            if label == "365 days":
                checks.append((f"{label} {path}: p95 <= SQL GROUP BY", f"{p95:.1f} vs {sql_ms:.1f} ms", p95 <= sql_ms))
            checks.append((f"{label} {path}: p95 < {TARGET_MS:.0f} ms", f"{p95:.1f} ms", p95 < TARGET_MS))
    for label, result in results.items():
        print(f"{label}: total {result['total']} USD (billed)")
    print()
    for name, figure, held in checks:
        print(f"  [{'ok' if held else 'MISSED'}] {name}: {figure}")
    if not all(result["exact"] for result in results.values()):
        print("  [MISMATCH] a report's costs differ from the SQL GROUP BY's (see above)")
    missed = [name for name, _, held in checks if not held]
    print(f"VERDICT: TARGETS MISSED ({len(missed)} of {len(checks)})" if missed else "VERDICT: all targets met")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "engine", "database"), default="all")
    parser.add_argument("--resources", type=int, default=5_000, help="resources with a line each day (5,000)")
    parser.add_argument("--requests", type=int, default=50, help="requests per endpoint and window (50)")
    arguments = parser.parse_args()
    if arguments.part in ("all", "engine"):
        print("== engine: finops.allocation.engine.allocate on synthetic frames")
        engine_part()
    if arguments.part in ("all", "database"):
        print("== database: /api/v1/allocations and /api/v1/costs by tag:team over a year of billing rows")
        os.environ.setdefault("DEBUG", "true")  # a development run, as `make bench` runs it: the built-in key
        server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        server_execute(server_url, f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
        server_execute(server_url, f"CREATE DATABASE {SCRATCH_DATABASE}")
        os.environ["DATABASE_URL"] = with_database(server_url, SCRATCH_DATABASE)  # read by config.settings
        try:
            database_part(arguments.resources, arguments.requests)
        finally:
            from django.db import connections

            connections.close_all()
            server_execute(server_url, f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
