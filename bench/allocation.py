"""Allocation engine speed on synthetic billing rows, against a plain pandas group-by of the same rows.

Run from the repository root: `python bench/allocation.py` (no Django, no database). For each size, a frame of
ROW_COLUMNS rows (30 days, 40 teams, shared support cost, Decimal costs with 10 fractional digits) goes through
`finops.allocation.engine.allocate` by `tag:team` and week, with a proportional shared-cost rule; the baseline,
measured in the same run, sums the same Decimal costs per (team tag, week) with pandas alone, so the figure is the
engine's cost over the minimum any allocation must pay. Prints seconds and the ratio; the exit status is always 0:
this is a benchmark, not a test. It measures only the engine (the part every /api/v1/allocations request pays after
its SQL read); a database-backed benchmark of the whole report is issue 16's.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from finops.allocation.engine import ROW_COLUMNS, allocate  # noqa: E402 - needs the repository root on sys.path
from finops.allocation.rules import rules_parse  # noqa: E402
from finops.reports import money_sum  # noqa: E402

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


def main() -> int:
    print(f"{'rows':>8}  {'allocate s':>10}  {'baseline s':>10}  {'ratio':>6}  total exact")
    for size in SIZES:
        frame = synthetic_rows(size)
        engine_seconds, items = timed(allocate, frame, aggregate=("tag:team",), rules=RULES)
        baseline_seconds, _ = timed(baseline, frame)
        exact = money_sum(items["cost"]) == money_sum(frame["cost"])
        ratio = engine_seconds / baseline_seconds
        print(f"{size:>8}  {engine_seconds:>10.3f}  {baseline_seconds:>10.3f}  {ratio:>6.2f}  {exact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
