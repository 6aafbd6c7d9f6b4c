"""Forecast accuracy and speed: real GPU demand holdouts, benchmark-like synthetic families, and seconds per series.

Run from the repository root: `python bench/forecast.py [--part shared|synthetic|speed|nightly|all]` (all parts by
default; only `nightly` needs Django and a database).

- shared: the four Helios tenants (demand = running + pending GPUs, hourly), two 7-day holdouts each (the last 7
  days; the 7 days before them). `forecast` sees only the hours before the holdout and predicts its 168 hours with
  season 24. Targets: the chosen models' mean MASE below seasonal naive's, and 80% intervals covering 70-90% of
  held-out hours.
- synthetic: deterministic (seeded) families shaped like public benchmark series: hourly with daily and weekly
  seasons, trend and noise; weekly with a yearly season (52); random walks; intermittent demand. Per family, the
  chosen model's mean MASE and sMAPE against seasonal naive, Theta and damped-trend exponential smoothing computed
  here (independently of the library), the share of series where the chosen model beats seasonal naive, and 80%
  coverage.
- speed: 50 synthetic daily GPU-demand series of 400 days, horizon 180, season 7, levels (80, 90, 95), as the nightly
  recompute calls it: seconds per series (mean and max) against the target of 2.5 s.
- nightly: the full-size sandbox (seeded in-process for today, as `make run` seeds it) imported and collected into a
  scratch database (`costplane_bench_forecast` on DATABASE_URL's server, dropped afterwards), then the nightly
  recompute `gpu_demand_forecast_refresh` timed: every fleet, team, GPU family, region and quota series, 180 days.

MASE is computed here, not by the library: mean absolute error over the in-sample seasonal-naive error of the
training points. The exit status is 0 even when a target is missed: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: E402
from statsmodels.tsa.forecasting.theta import ThetaModel  # noqa: E402
from statsmodels.tsa.seasonal import seasonal_decompose  # noqa: E402

from capacity.forecasting import backtest, forecast  # noqa: E402 - needs the repository root on sys.path

DATA = ROOT.parent / "shared" / "data" / "gpu-demand" / "helios_earth_hourly_4tenants.csv"
SEASON = 24
HOLDOUT = 7 * 24
HOLDOUTS = {"last 7 days": 0, "7 days before": HOLDOUT}  # hours cut from the end before the holdout
COVERAGE_TARGET = (0.70, 0.90)
SPEED_SERIES, SPEED_DAYS, SPEED_HORIZON, SPEED_SEASON, SPEED_TARGET = 50, 400, 180, 7, 2.5
SEED = 20261207


def mase(actual: np.ndarray, predicted: np.ndarray, training: np.ndarray, season: int = SEASON) -> float:
    lag = season if len(training) > season else 1
    scale = np.mean(np.abs(training[lag:] - training[:-lag]))
    return float(np.mean(np.abs(actual - predicted)) / (scale if scale > 0 else 1.0))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.divide(2 * np.abs(actual - predicted), denominator, out=np.zeros_like(actual), where=denominator > 0)
    return float(100 * terms.mean())


def coverage(actual: np.ndarray, result: pd.DataFrame, level: int) -> float:
    inside = (actual >= result[f"lower_{level}"].to_numpy()) & (actual <= result[f"upper_{level}"].to_numpy())
    return float(inside.mean())


# ---- shared holdouts ---------------------------------------------------------------------------------------------


def load_demand(path: Path) -> dict[str, pd.Series]:
    frame = pd.read_csv(path, parse_dates=["hour"])
    frame["demand"] = frame["running_gpu_num_mean"] + frame["pending_gpu_num_mean"]
    return {tenant: rows.set_index("hour")["demand"].sort_index() for tenant, rows in frame.groupby("vc")}


def part_shared() -> None:
    demand = load_demand(DATA)
    rows = []
    candidate_scores = []
    started = time.perf_counter()
    for tenant, series in demand.items():
        for holdout, cut in HOLDOUTS.items():
            end = len(series) - cut
            training, actual = series.iloc[: end - HOLDOUT], series.iloc[end - HOLDOUT : end].to_numpy()
            result = forecast(training, HOLDOUT, season_length=SEASON)
            naive = np.resize(training.to_numpy()[-SEASON:], HOLDOUT)
            rows.append(
                {
                    "tenant": tenant,
                    "holdout": holdout,
                    "model": result.attrs["model"],
                    "mase": mase(actual, result["mean"].to_numpy(), training.to_numpy()),
                    "naive_mase": mase(actual, naive, training.to_numpy()),
                    "smape": smape(actual, result["mean"].to_numpy()),
                    "naive_smape": smape(actual, naive),
                    "coverage_80": coverage(actual, result, 80),
                    "coverage_95": coverage(actual, result, 95),
                    "fallback": result.attrs["fallback"] or "",
                }
            )
            # One fold ending with the holdout: every candidate trained on the same hours, scored on the holdout.
            scores = backtest(series.iloc[:end], HOLDOUT, folds=1, season_length=SEASON)
            candidate_scores.append(scores["mase"].rename(f"{tenant} / {holdout}"))
    elapsed = time.perf_counter() - started

    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(f"== shared: forecast accuracy, {DATA.name}: horizon {HOLDOUT} h, season {SEASON}\n")
        print(table.drop(columns="fallback").to_string(index=False))
        for row in table[table["fallback"] != ""].itertuples():
            print(f"  fallback for {row.tenant} / {row.holdout}: {row.fallback}")
        means = table[["mase", "naive_mase", "smape", "naive_smape", "coverage_80", "coverage_95"]].mean()
        print("\nmean:", "  ".join(f"{name} {value:.3f}" for name, value in means.items()))

        per_model = pd.concat(candidate_scores, axis=1)
        print("\nHoldout MASE per candidate (backtest, one fold = the holdout), mean over the 8 cases:")
        print(per_model.mean(axis=1).sort_values().to_string(float_format="{:.3f}".format))

    mase_ok = means["mase"] < means["naive_mase"]
    smape_ok = means["smape"] < means["naive_smape"]
    low, high = COVERAGE_TARGET
    coverage_ok = low <= means["coverage_80"] <= high
    print(
        f"\nTarget 1 (chosen mean MASE < seasonal naive mean MASE): {means['mase']:.3f} vs "
        f"{means['naive_mase']:.3f} -> {'MET' if mase_ok else '*** MISSED ***'}"
    )
    print(
        f"Target 2 (chosen mean sMAPE < seasonal naive mean sMAPE): {means['smape']:.3f} vs "
        f"{means['naive_smape']:.3f} -> {'MET' if smape_ok else '*** MISSED ***'}"
    )
    print(
        f"Target 3 (80% intervals cover {low:.0%}-{high:.0%} of held-out hours): {means['coverage_80']:.1%} -> "
        f"{'MET' if coverage_ok else '*** MISSED ***'}"
    )
    print(f"({len(rows)} forecasts and {len(rows)} backtests in {elapsed:.1f} s)\n")


# ---- synthetic benchmark-like families ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    name: str
    count: int
    horizon: int
    season: int
    freq: str
    generate: Callable[[np.random.Generator, int], np.ndarray]
    points: int  # training points; the series holds points + horizon


def hourly_two_seasons(rng: np.random.Generator, length: int) -> np.ndarray:
    hours = np.arange(length)
    day = np.sin(2 * np.pi * hours / 24 + rng.uniform(0, 2 * np.pi)) + 0.4 * np.sin(4 * np.pi * hours / 24)
    weekday = ((hours // 24) % 7 < 5).astype(float)
    level = rng.uniform(50, 300)
    trend = rng.uniform(-0.3, 0.6) * level / length * hours
    cycle = level * (rng.uniform(0.1, 0.35) * day + rng.uniform(0.05, 0.3) * weekday * (day + 1))
    noise = pd.Series(rng.normal(0, rng.uniform(0.03, 0.1) * level, length)).ewm(alpha=0.6).mean().to_numpy()
    return np.maximum(level + trend + cycle + noise, 0.0)


def weekly_yearly(rng: np.random.Generator, length: int) -> np.ndarray:
    weeks = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi)
    year = np.sin(2 * np.pi * weeks / 52.18 + phase) + 0.3 * np.cos(4 * np.pi * weeks / 52.18 + phase)
    level = rng.uniform(500, 5000)
    drift = np.cumsum(rng.normal(rng.uniform(-0.001, 0.004), 0.01, length))
    noise = rng.normal(0, rng.uniform(0.02, 0.08), length)
    return level * np.exp(drift) * (1 + rng.uniform(0.05, 0.3) * year + noise)


def random_walk(rng: np.random.Generator, length: int) -> np.ndarray:
    steps = rng.normal(rng.uniform(-0.05, 0.1), 1.0, length)
    return 100 + rng.uniform(2, 10) * np.cumsum(steps)


def intermittent(rng: np.random.Generator, length: int) -> np.ndarray:
    rate = rng.uniform(0.1, 0.5)
    return (rng.random(length) < rate) * rng.poisson(rng.uniform(2, 12), length).astype(float)


FAMILIES = (
    Family("hourly (daily + weekly seasons, trend)", 12, 168, 24, "h", hourly_two_seasons, 744),
    Family("weekly (yearly season 52)", 12, 13, 52, "W-SUN", weekly_yearly, 260),
    Family("random walk (daily)", 12, 30, 7, "D", random_walk, 400),
    Family("intermittent (daily)", 12, 30, 7, "D", intermittent, 400),
)


def quiet_fit(function: Callable[[], np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(function(), dtype=float)


def theta_baseline(training: np.ndarray, season: int, horizon: int) -> np.ndarray:
    method = "auto" if training.min() > 0 else "additive"
    model = ThetaModel(training, period=season, deseasonalize=True, method=method)
    return quiet_fit(lambda: model.fit().forecast(horizon))


def damped_baseline(training: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """Damped-trend exponential smoothing on the classically deseasonalised series (the M4 "Damped" benchmark)."""
    seasonal = seasonal_decompose(training, period=season, model="additive", two_sided=False).seasonal
    adjusted = training - seasonal

    def fitted() -> np.ndarray:
        model = ETSModel(adjusted, error="add", trend="add", damped_trend=True)
        return model.fit(disp=False).forecast(horizon)

    return quiet_fit(fitted) + np.resize(seasonal[-season:], horizon)


def part_synthetic() -> None:
    print("== synthetic: benchmark-like families (seeded), the chosen model against three baselines\n")
    rng = np.random.default_rng(SEED)
    summary = []
    started = time.perf_counter()
    for family in FAMILIES:
        rows = []
        family_started = time.perf_counter()
        for _ in range(family.count):
            values = family.generate(rng, family.points + family.horizon)
            index = pd.date_range("2023-01-02", periods=len(values), freq=family.freq)
            training, actual = values[: family.points], values[family.points :]
            result = forecast(pd.Series(training, index=index[: family.points]), family.horizon, family.season)
            baselines = {
                "seasonal_naive": np.resize(training[-family.season :], family.horizon),
                "theta": theta_baseline(training, family.season, family.horizon),
                "damped": damped_baseline(training, family.season, family.horizon),
            }
            if np.all(training >= 0):
                baselines = {name: np.maximum(values, 0.0) for name, values in baselines.items()}
            row = {
                "model": result.attrs["model"],
                "chosen_mase": mase(actual, result["mean"].to_numpy(), training, family.season),
                "chosen_smape": smape(actual, result["mean"].to_numpy()),
                "coverage_80": coverage(actual, result, 80),
            }
            for name, predicted in baselines.items():
                row[f"{name}_mase"] = mase(actual, predicted, training, family.season)
                row[f"{name}_smape"] = smape(actual, predicted)
            rows.append(row)
        table = pd.DataFrame(rows)
        seconds = (time.perf_counter() - family_started) / family.count
        summary.append(
            {
                "family": family.name,
                "n": family.count,
                "h": family.horizon,
                **{
                    f"{metric} {name}": table[f"{name}_{metric}"].mean()
                    for metric in ("mase", "smape")
                    for name in ("chosen", "seasonal_naive", "theta", "damped")
                },
                "beats snaive": (table["chosen_mase"] < table["seasonal_naive_mase"]).mean(),
                "cov80": table["coverage_80"].mean(),
                "s/series": seconds,
            }
        )
        models = table["model"].value_counts()
        print(f"{family.name}: chosen models " + ", ".join(f"{name} {count}" for name, count in models.items()))
    frame = pd.DataFrame(summary).set_index("family")
    with pd.option_context("display.width", 220, "display.float_format", "{:.3f}".format):
        print()
        print(frame[[column for column in frame.columns if column.startswith("mase") or column == "h"]].to_string())
        print()
        print(frame[[column for column in frame.columns if column.startswith("smape")]].to_string())
        print()
        print(frame[["beats snaive", "cov80", "s/series"]].to_string())
    print(f"({sum(family.count for family in FAMILIES)} series in {time.perf_counter() - started:.1f} s)\n")


# ---- speed -------------------------------------------------------------------------------------------------------


def daily_gpu_demand(rng: np.random.Generator, days: int) -> pd.Series:
    """Daily GPU-hours of a slice: a level that grows or shrinks, a working-week rhythm, bursts and noise."""
    t = np.arange(days)
    level = rng.uniform(50, 2000)
    trend = level * rng.uniform(-0.3, 1.0) * t / days
    week = level * rng.uniform(0.0, 0.4) * (t % 7 < 5)
    bursts = level * rng.uniform(0, 0.5) * (rng.random(days) < 0.03)
    noise = rng.normal(0, level * rng.uniform(0.02, 0.15), days)
    values = np.maximum(level + trend + week + bursts + noise, 0.0)
    return pd.Series(values, index=pd.date_range("2025-01-01", periods=days, freq="D"))


def part_speed() -> None:
    rng = np.random.default_rng(SEED + 1)
    series = [daily_gpu_demand(rng, SPEED_DAYS) for _ in range(SPEED_SERIES)]
    forecast(series[0].iloc[:60], 7)  # imports and first-call set-up are not the forecaster's cost
    seconds = []
    models: dict[str, int] = {}
    for one in series:
        started = time.perf_counter()
        result = forecast(one, SPEED_HORIZON, season_length=SPEED_SEASON, levels=(80, 90, 95))
        seconds.append(time.perf_counter() - started)
        models[result.attrs["model"]] = models.get(result.attrs["model"], 0) + 1
    mean, worst = float(np.mean(seconds)), float(np.max(seconds))
    print(
        f"== speed: {SPEED_SERIES} daily series of {SPEED_DAYS} days, horizon {SPEED_HORIZON}, season {SPEED_SEASON}, "
        "levels (80, 90, 95)\n"
    )
    print(f"seconds per series: mean {mean:.2f}, max {worst:.2f}, total {sum(seconds):.1f}")
    print("chosen models: " + ", ".join(f"{name} {count}" for name, count in sorted(models.items())))
    print(
        f"Target (mean at most {SPEED_TARGET} s per series): {mean:.2f} s -> "
        f"{'MET' if mean <= SPEED_TARGET else '*** MISSED ***'}\n"
    )


NIGHTLY_DATABASE = "costplane_bench_forecast"
NIGHTLY_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")  # the regions `make run` registers
DEFAULT_DATABASE_URL = "postgres://costplane@127.0.0.1:54329/costplane"  # config/settings.py's default


def part_nightly() -> None:
    """The nightly recompute (capacity-gpu-demand's forecasts) on the full-size sandbox, in a scratch database.

    The sandbox is seeded in-process (moto) for today, as `make run` seeds it; its FOCUS export is imported, every
    account's collections run in the regions `make run` registers (fleet, metrics, quotas, reservations) and GPU
    demand is computed (each step's time printed); then `gpu_demand_forecast_refresh` (every fleet, team, GPU
    family, region and quota series, 180 days), what beat runs each night, is timed.
    """
    import os

    from bench._scratch import server_execute, with_database

    print("== nightly: the GPU demand forecast recompute on the full-size sandbox\n", flush=True)
    os.environ.setdefault("DEBUG", "true")  # a development run, as `make bench` runs it: the built-in key
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["COSTPLANE_AWS"] = "sandbox"
    os.environ["COSTPLANE_SANDBOX_ENDPOINT"] = ""
    os.environ["COSTPLANE_SANDBOX_SIZE"] = "full"  # the sandbox's answers (quotas, reservations) follow its size
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    server_execute(server_url, f"DROP DATABASE IF EXISTS {NIGHTLY_DATABASE} WITH (FORCE)")
    server_execute(server_url, f"CREATE DATABASE {NIGHTLY_DATABASE}")
    os.environ["DATABASE_URL"] = with_database(server_url, NIGHTLY_DATABASE)  # read by config.settings
    try:
        _nightly_measure()
    finally:
        from django.db import connections

        connections.close_all()
        server_execute(server_url, f"DROP DATABASE IF EXISTS {NIGHTLY_DATABASE} WITH (FORCE)")


def _nightly_measure() -> None:
    from datetime import UTC, datetime, timedelta

    import boto3
    import django
    from moto import mock_aws

    django.setup()
    from django.core.management import call_command

    from capacity.models import GpuDemandDay, QuotaDemandDay
    from capacity.services.collection import capacity_collect
    from capacity.services.demand import gpu_demand_compute
    from capacity.services.forecasts import gpu_demand_forecast_refresh
    from finops.models import CloudAccount, Team
    from finops.services.billing_import import billing_export_import
    from sandbox.catalogue import ACCOUNTS, TEAMS
    from sandbox.exports import BUCKET
    from sandbox.server import seed_exports, seed_machines

    call_command("migrate", verbosity=0)
    now = datetime.now(UTC)
    today = now.date()
    regions = list(NIGHTLY_REGIONS)
    with mock_aws():
        started = time.perf_counter()
        seed_machines(None, "full", today, now=now)
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        seed_exports(s3, size="full", today=today)
        print(f"sandbox (full size) seeded in {time.perf_counter() - started:.0f} s", flush=True)
        for team in TEAMS:
            Team.objects.create(name=team.title(), slug=team, tag_values=[team])
        accounts = [CloudAccount.objects.create(account_id=account.id, name=account.name) for account in ACCOUNTS]
        started = time.perf_counter()
        billing_export_import(location=f"s3://{BUCKET}/exports/costplane-focus/")
        print(f"FOCUS export imported in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        failures = [failure for account in accounts for failure in capacity_collect(account=account, regions=regions)]
        print(
            f"fleets, metrics, quotas and reservations collected in {time.perf_counter() - started:.0f} s"
            + (f"; failed: {'; '.join(failures)}" if failures else ""),
            flush=True,
        )
    started = time.perf_counter()
    gpu_demand_compute(start=today - timedelta(days=420), end=today)
    print(
        f"demand computed in {time.perf_counter() - started:.1f} s: {GpuDemandDay.objects.count():,} slice-days,"
        f" {QuotaDemandDay.objects.count():,} quota-days",
        flush=True,
    )
    started = time.perf_counter()
    made = gpu_demand_forecast_refresh(horizon_days=180, today=today)
    seconds = time.perf_counter() - started
    models: dict[str, int] = {}
    for stored in made:
        models[stored.model] = models.get(stored.model, 0) + 1
    print(
        f"\nnightly recompute (gpu_demand_forecast_refresh, 180 days): {len(made)} series in {seconds:.1f} s,"
        f" {seconds / max(len(made), 1):.2f} s per series"
    )
    print("chosen models: " + ", ".join(f"{name} {count}" for name, count in sorted(models.items())) + "\n")


PARTS = {"shared": part_shared, "synthetic": part_synthetic, "speed": part_speed, "nightly": part_nightly}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    arguments = parser.parse_args()
    for name, part in PARTS.items():
        if arguments.part in (name, "all"):
            part()
    return 0


if __name__ == "__main__":
    sys.exit(main())
