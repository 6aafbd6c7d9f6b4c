"""Forecast accuracy on real GPU demand: four Helios tenants, hourly, two 7-day holdouts each.

Run from the repository root: `python bench/forecast.py` (no Django, no database). For each tenant
(demand = running + pending GPUs) and each holdout (the last 7 days; the 7 days before them), `forecast`
sees only the hours before the holdout and predicts its 168 hours with season 24. Targets (issue 8, item 3):
the chosen models' mean MASE is at most seasonal naive's, and 80% intervals cover 70-90% of held-out hours.
MASE here is computed independently of the library (in-sample seasonal-naive scale on the training hours).
The exit status is 0 even when a target is missed: this is a benchmark, not a test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from capacity.forecasting import backtest, forecast  # noqa: E402 - needs the repository root on sys.path

DATA = ROOT.parent / "shared" / "data" / "gpu-demand" / "helios_earth_hourly_4tenants.csv"
SEASON = 24
HOLDOUT = 7 * 24
HOLDOUTS = {"last 7 days": 0, "7 days before": HOLDOUT}  # hours cut from the end before the holdout
COVERAGE_TARGET = (0.70, 0.90)


def load_demand(path: Path) -> dict[str, pd.Series]:
    frame = pd.read_csv(path, parse_dates=["hour"])
    frame["demand"] = frame["running_gpu_num_mean"] + frame["pending_gpu_num_mean"]
    return {tenant: rows.set_index("hour")["demand"].sort_index() for tenant, rows in frame.groupby("vc")}


def mase(actual: np.ndarray, predicted: np.ndarray, training: np.ndarray) -> float:
    scale = np.mean(np.abs(training[SEASON:] - training[:-SEASON]))
    return float(np.mean(np.abs(actual - predicted)) / scale)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.divide(2 * np.abs(actual - predicted), denominator, out=np.zeros_like(actual), where=denominator > 0)
    return float(100 * terms.mean())


def coverage(actual: np.ndarray, result: pd.DataFrame, level: int) -> float:
    inside = (actual >= result[f"lower_{level}"].to_numpy()) & (actual <= result[f"upper_{level}"].to_numpy())
    return float(inside.mean())


def main() -> int:
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
        print(f"Forecast accuracy, {DATA.name}: horizon {HOLDOUT} h, season {SEASON}\n")
        print(table.drop(columns="fallback").to_string(index=False))
        for row in table[table["fallback"] != ""].itertuples():
            print(f"  fallback for {row.tenant} / {row.holdout}: {row.fallback}")
        means = table[["mase", "naive_mase", "smape", "coverage_80", "coverage_95"]].mean()
        print("\nmean:", "  ".join(f"{name} {value:.3f}" for name, value in means.items()))

        per_model = pd.concat(candidate_scores, axis=1)
        print("\nHoldout MASE per candidate (backtest, one fold = the holdout), mean over the 8 cases:")
        print(per_model.mean(axis=1).sort_values().to_string(float_format="{:.3f}".format))

    mase_ok = means["mase"] <= means["naive_mase"]
    low, high = COVERAGE_TARGET
    coverage_ok = low <= means["coverage_80"] <= high
    print(
        f"\nTarget 1 (chosen mean MASE <= seasonal naive mean MASE): {means['mase']:.3f} vs "
        f"{means['naive_mase']:.3f} -> {'MET' if mase_ok else '*** MISSED ***'}"
    )
    print(
        f"Target 2 (80% intervals cover {low:.0%}-{high:.0%} of held-out hours): {means['coverage_80']:.1%} -> "
        f"{'MET' if coverage_ok else '*** MISSED ***'}"
    )
    print(f"({len(rows)} forecasts and {len(rows)} backtests in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
