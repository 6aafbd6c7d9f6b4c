"""`forecast` picks a model by rolling-origin backtest on the history; `backtest` reports every model's scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from capacity.forecasting.evaluation import Evaluation, evaluate, forecast_all, recent_volatility
from capacity.forecasting.models import CANDIDATES, CANDIDATES_BY_NAME, Candidate
from capacity.forecasting.preparation import (
    PreparedSeries,
    detect_level_shift,
    fill_gaps,
    natural_season,
    prepare_series,
    season_length_for,
)

SELECTION_FOLDS = 5
MIN_POINTS = 10  # below this no backtest is meaningful: naive forecast with textbook intervals
# The best of a dozen backtest scores flatters its model (a few folds are a small sample), while a median of the
# best few is robust to any one of them failing on new data: a single model must beat the combination's backtest
# MASE by this share to be chosen over it.
COMBINATION_PREFERENCE = 0.05


def forecast(
    series: pd.Series, horizon: int, season_length: int | None = None, levels: tuple[int, ...] = (80, 95)
) -> pd.DataFrame:
    """Forecast `horizon` steps past the end of `series` with two-sided prediction intervals.

    Returns a frame indexed by the future timestamps with `mean` and `lower_L` / `upper_L` per level.
    `attrs` holds the chosen "model", every candidate's backtest "scores", the "season_length" used,
    "fallback" (a sentence when a simpler path was taken, else None), "notes" and "skipped" models.
    """
    levels = _checked(horizon, levels)
    prepared = prepare_series(series)
    future = prepared.future_index(horizon)
    nonnegative = prepared.nonnegative
    fallbacks: list[str] = []
    season = _season(prepared, season_length, fallbacks)
    context = {"season_length": season, "notes": prepared.notes, "scores": {}, "skipped": {}}

    values = fill_gaps(prepared.values, prepared.observed, season)
    shift = detect_level_shift(values, season)
    if shift is not None:
        fallbacks.append(
            f"Level shift detected at {prepared.index[shift]}: models were fitted on the "
            f"{len(values) - shift} points after it."
        )
        prepared, values = prepared.tail(shift), values[shift:]
        if season:
            season = context["season_length"] = _season(prepared, season, fallbacks)

    if (prepared.values[prepared.observed] == 0).all():
        fallbacks.append("All observed values are zero; the forecast is zero with zero-width intervals.")
        widths = {level: np.zeros(horizon) for level in levels}
        return _frame(future, np.zeros(horizon), widths, True, model="zeros", fallbacks=fallbacks, **context)

    if len(values) < MIN_POINTS:
        fallbacks.append(f"Only {len(values)} points (fewer than {MIN_POINTS}): naive forecast with normal intervals.")
        mean, widths = _naive(values, prepared.observed, horizon, levels)
        return _frame(future, mean, widths, nonnegative, model="naive", fallbacks=fallbacks, **context)

    candidates = [candidate for candidate in CANDIDATES if candidate.applies(len(values), season)]
    if len(values) < 2 * horizon:
        candidates = [candidate for candidate in candidates if candidate.simple]
        fallbacks.append(
            f"Only {len(values)} points for a horizon of {horizon} (fewer than twice the horizon): only simple "
            f"models ({', '.join(candidate.name for candidate in candidates)}) were considered."
        )
    evaluation = evaluate(
        values, prepared.observed, season, horizon, SELECTION_FOLDS, candidates, nonnegative, spaced=True
    )
    context["scores"] = evaluation.scores(levels)
    context["skipped"] = evaluation.failures
    for name in _ranking(evaluation):
        needed = _with_members(CANDIDATES_BY_NAME[name], evaluation.members)
        final, failures = forecast_all(needed, values, season, horizon, nonnegative, members=evaluation.members)
        if name in final:
            volatility = recent_volatility(values, prepared.observed, season, evaluation.fold_horizon)
            widths = evaluation.interval_half_widths(name, horizon, levels, volatility)
            return _frame(future, final[name], widths, nonnegative, model=name, fallbacks=fallbacks, **context)
        context["skipped"] = {**context["skipped"], **failures}

    fallbacks.append("No candidate model could be backtested and fitted: naive forecast with normal intervals.")
    mean, widths = _naive(values, prepared.observed, horizon, levels)
    return _frame(future, mean, widths, nonnegative, model="naive", fallbacks=fallbacks, **context)


def backtest(
    series: pd.Series,
    horizon: int,
    folds: int,
    levels: tuple[int, ...] = (80,),
    *,
    season_length: int | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest of every candidate: one row per model, columns mase, smape, coverage_L.

    The last fold ends with the series; earlier origins step back by `horizon` (closer, overlapping, when the
    history is short). Coverage is of intervals calibrated on the other folds, so it needs two folds or more.
    """
    levels = _checked(horizon, levels)
    if folds < 1:
        raise ValueError("folds must be at least 1")
    prepared = prepare_series(series)
    season = season_length_for(prepared, season_length)
    values = fill_gaps(prepared.values, prepared.observed, season)
    candidates = [candidate for candidate in CANDIDATES if candidate.applies(len(values), season)]
    evaluation = evaluate(values, prepared.observed, season, horizon, folds, candidates, prepared.nonnegative)
    if not evaluation.origins:
        raise ValueError(f"{len(values)} points are too few to backtest a horizon of {horizon}")
    scores = evaluation.scores(levels)
    frame = pd.DataFrame(
        {
            "mase": [scores[name]["mase"] for name in scores],
            "smape": [scores[name]["smape"] for name in scores],
            **{f"coverage_{level}": [scores[name]["coverage"][level] for name in scores] for level in levels},
        },
        index=pd.Index(list(scores), name="model"),
    )
    frame.attrs = {
        "season_length": season,
        "fold_horizon": evaluation.fold_horizon,
        "origins": [prepared.index[origin] for origin in evaluation.origins],
        "skipped": evaluation.failures,
    }
    return frame


def _checked(horizon: int, levels: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, not {horizon!r}")
    if not levels or any(not 0 < level < 100 for level in levels):
        raise ValueError(f"levels must be percentages strictly between 0 and 100, not {levels!r}")
    return tuple(sorted(set(levels)))


def _season(prepared: PreparedSeries, requested: int | None, fallbacks: list[str]) -> int | None:
    season = season_length_for(prepared, requested)
    wanted = requested if requested is not None else natural_season(prepared.freq)
    if season is None and wanted and wanted > 1:
        fallbacks.append(
            f"Season length {wanted} needs two full seasons ({2 * wanted} points) but there are "
            f"{len(prepared.values)}: no seasonality was modelled."
        )
    return season


def _ranking(evaluation: Evaluation) -> list[str]:
    order = {candidate.name: position for position, candidate in enumerate(CANDIDATES)}

    def key(name: str) -> tuple[float, int]:
        score = evaluation.mase(name)
        if name in evaluation.combinations:
            score *= 1 - COMBINATION_PREFERENCE
        # Rounding makes near-identical scores a tie, and ties go to the simpler (earlier) model.
        return round(score, 6), order[name]

    return sorted(evaluation.errors, key=key)


def _with_members(candidate: Candidate, members: Sequence[str]) -> list[Candidate]:
    if not candidate.is_combination:
        return [candidate]
    return [CANDIDATES_BY_NAME[member] for member in members] + [candidate]


def _naive(
    values: np.ndarray, observed: np.ndarray, horizon: int, levels: Sequence[int]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    real = values[observed]
    steps = np.diff(real)
    spread = float(np.std(steps, ddof=1)) if len(steps) > 1 else float(np.abs(real).mean())
    growth = np.sqrt(np.arange(1, horizon + 1))
    widths = {level: norm.ppf(0.5 + level / 200) * spread * growth for level in levels}
    return np.full(horizon, real[-1]), widths


def _frame(
    future: pd.Index,
    mean: np.ndarray,
    widths: dict[int, np.ndarray],
    nonnegative: bool,
    *,
    model: str,
    fallbacks: list[str],
    season_length: int | None,
    notes: list[str],
    scores: dict[str, dict[str, object]],
    skipped: dict[str, str],
) -> pd.DataFrame:
    floor = 0.0 if nonnegative else -np.inf
    mean = np.maximum(mean, floor)
    columns: dict[str, np.ndarray] = {"mean": mean}
    for level in sorted(widths):
        columns[f"lower_{level}"] = np.minimum(np.maximum(mean - widths[level], floor), mean)
        columns[f"upper_{level}"] = np.maximum(mean + widths[level], mean)
    frame = pd.DataFrame(columns, index=future)
    frame.attrs = {
        "model": model,
        "scores": scores,
        "season_length": season_length,
        "fallback": " ".join(fallbacks) or None,
        "notes": notes,
        "skipped": skipped,
    }
    return frame
