"""Rolling-origin backtests: fold layout, MASE / sMAPE / coverage, and intervals from backtest errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from capacity.forecasting.models import Candidate, quiet, seasons_for

# Every fold trains on at least this share of the series, so early folds do not judge models on scraps.
MIN_TRAIN_SHARE = 1 / 3
MIN_TRAIN_POINTS = 10
# Fits see at most this much recent history: older data rarely helps and fitting time grows with it.
MAX_TRAINING_POINTS = 2_000
# Interval widths follow the series' recent volatility, measured over this many seasons (at least one horizon).
VOLATILITY_WINDOW_SEASONS = 4


@dataclass
class Evaluation:
    """Signed errors (actual - forecast; NaN on gaps) per model, shaped (folds, fold horizon)."""

    fold_horizon: int
    origins: list[int]
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    scales: list[float] = field(default_factory=list)
    volatility: list[float] = field(default_factory=list)
    smape: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    combinations: set[str] = field(default_factory=set)
    actuals: list[np.ndarray] = field(default_factory=list)  # held-out values per fold, NaN on gaps
    members: tuple[str, ...] = ()  # the combination's members, the best single models over every fold

    def mase(self, model: str, folds: Sequence[int] | None = None) -> float:
        chosen = list(range(len(self.origins)) if folds is None else folds)
        per_fold = np.nanmean(np.abs(self.errors[model][chosen]), axis=1) / np.asarray(self.scales)[chosen]
        return float(np.nanmean(per_fold))

    def best(self, count: int, folds: Sequence[int]) -> tuple[str, ...]:
        """The `count` single models with the lowest MASE over `folds` (ties to the earlier, simpler model)."""
        singles = [name for name in self.errors if name not in self.combinations]
        ranked = sorted(singles, key=lambda name: round(self.mase(name, folds), 6))
        return tuple(ranked[:count])

    def scores(self, levels: Sequence[int]) -> dict[str, dict[str, object]]:
        return {
            model: {
                "mase": self.mase(model),
                "smape": float(np.nanmean(self.smape[model])),
                "coverage": self.coverage(model, levels),
            }
            for model in self.errors
        }

    def relative_errors(self, model: str) -> np.ndarray:
        """Errors in units of the series' recent volatility at each fold's origin."""
        return self.errors[model] / np.asarray(self.volatility)[:, None]

    def interval_half_widths(
        self, model: str, horizon: int, levels: Sequence[int], volatility: float
    ) -> dict[int, np.ndarray]:
        """Half-widths for a forecast made where the series' recent volatility is `volatility`."""
        relative = half_widths(self.relative_errors(model), horizon, levels, self.weights())
        return {level: width * volatility for level, width in relative.items()}

    def coverage(self, model: str, levels: Sequence[int]) -> dict[int, float]:
        """Per level, the share of held-out points inside intervals calibrated on the other folds (NaN: one fold)."""
        errors = self.relative_errors(model)
        if len(errors) < 2:
            return {level: float("nan") for level in levels}
        inside = dict.fromkeys(levels, 0)
        total = 0
        for fold in range(len(errors)):
            others = [other for other in range(len(errors)) if other != fold]
            widths = half_widths(errors[others], self.fold_horizon, levels, self.weights(others))
            held_out = errors[fold]
            scored = ~np.isnan(held_out)
            for level in levels:
                inside[level] += int((np.abs(held_out[scored]) <= widths[level][scored] + 1e-9).sum())
            total += int(scored.sum())
        return {level: inside[level] / total if total else float("nan") for level in levels}

    def weights(self, folds: Sequence[int] | None = None) -> np.ndarray:
        """Per error, 1 / the number of the given folds that forecast the same time point.

        Overlapping folds would otherwise count one stretch of history (an outage, say) several times over.
        """
        chosen = range(len(self.origins)) if folds is None else folds
        targets = np.array([np.arange(self.origins[fold], self.origins[fold] + self.fold_horizon) for fold in chosen])
        _, inverse, counts = np.unique(targets, return_inverse=True, return_counts=True)
        return 1.0 / counts[inverse].reshape(targets.shape)


def fold_layout(
    points: int, horizon: int, folds: int, season: int | None, spaced: bool = False
) -> tuple[int, list[int]]:
    """Fold horizon and origins; the last fold ends with the series, earlier ones overlap when history is short.

    Every fold trains on two cycles of the longest season the final fit will model (the week of hourly data, when
    the history holds two weeks beyond the first two), so the folds judge the models the forecast will use: a fold
    fitted before the weekly season is in reach errs far more than the final fit does, and would widen its
    intervals and mislead the choice. `spaced` drops folds until origins lie at least a sixth of the fold horizon
    apart: folds that share most of their targets cost a full round of fits and add almost nothing to the
    comparison.
    """
    structure = 2 * (season or 0)  # two cycles of the season (what seasonal models need)
    seasons = seasons_for(season, points) if season else ()
    if len(seasons) > 1 and points - (2 * seasons[-1] + 1) >= horizon + 2 * max(1, horizon // 6):
        structure = 2 * seasons[-1] + 1  # MSTL models a season only with more than two cycles of it
    min_train = max(MIN_TRAIN_POINTS, structure, int(points * MIN_TRAIN_SHARE))
    fold_horizon = min(horizon, points - min_train)
    if fold_horizon < 1 or folds < 1:
        return 0, []
    last = points - fold_horizon
    first = max(min_train, last - (folds - 1) * fold_horizon)
    if spaced and folds > 1:
        spacing = max(1, fold_horizon // 6)
        folds = max(2, min(folds, (last - first) // spacing + 1))
    origins = sorted({int(round(origin)) for origin in np.linspace(first, last, folds)})
    return fold_horizon, origins


def mase_scale(history: np.ndarray, observed: np.ndarray, season: int | None) -> float:
    """In-sample mean absolute error of the seasonal naive forecast, over pairs of real points."""
    for lag in dict.fromkeys((season or 1, 1)):
        if len(history) > lag:
            both = observed[lag:] & observed[:-lag]
            differences = np.abs(history[lag:] - history[:-lag])[both]
            if differences.size and differences.mean() > 0:
                return float(differences.mean())
    level = np.abs(history[observed]).mean() if observed.any() else 0.0
    return float(level) if level > 0 else 1.0


def recent_volatility(history: np.ndarray, observed: np.ndarray, season: int | None, horizon: int) -> float:
    """The MASE scale of the latest stretch of history: how much the series has been moving lately."""
    window = max(VOLATILITY_WINDOW_SEASONS * (season or 1), horizon, MIN_TRAIN_POINTS)
    return mase_scale(history[-window:], observed[-window:], season)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent (0-200); a point where both are zero counts as a perfect forecast."""
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.divide(2 * np.abs(actual - predicted), denominator, out=np.zeros_like(actual), where=denominator > 0)
    return float(100 * terms.mean()) if terms.size else float("nan")


def run_model(candidate: Candidate, history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    with quiet():
        predicted = np.asarray(candidate.forecaster(history[-MAX_TRAINING_POINTS:], season, horizon), dtype=float)
    if predicted.shape != (horizon,) or not np.isfinite(predicted).all():
        raise ValueError("the fit produced non-finite forecasts")
    return predicted


def forecast_all(
    candidates: Sequence[Candidate],
    history: np.ndarray,
    season: int | None,
    horizon: int,
    nonnegative: bool,
    members: Sequence[str] = (),
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Point forecasts of every candidate; failures are reported by name, never dropped silently.

    A combination candidate is the median of `members`' forecasts (each fitted here when it is not a candidate).
    """
    forecasts: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    for candidate in candidates:
        if candidate.is_combination:
            continue
        try:
            predicted = run_model(candidate, history, season, horizon)
        except Exception as error:  # any failed fit disqualifies the model; the reason is reported
            failures[candidate.name] = f"{type(error).__name__}: {error}"
            continue
        forecasts[candidate.name] = np.maximum(predicted, 0.0) if nonnegative else predicted
    for candidate in candidates:
        if candidate.is_combination:
            missing = [member for member in members if member not in forecasts]
            if not members or missing:
                failures[candidate.name] = f"members unavailable: {', '.join(missing) or 'none ranked'}"
                continue
            forecasts[candidate.name] = np.median([forecasts[member] for member in members], axis=0)
    return forecasts, failures


def evaluate(
    values: np.ndarray,
    observed: np.ndarray,
    season: int | None,
    horizon: int,
    folds: int,
    candidates: Sequence[Candidate],
    nonnegative: bool,
    spaced: bool = False,
) -> Evaluation:
    fold_horizon, origins = fold_layout(len(values), horizon, folds, season, spaced)
    evaluation = Evaluation(fold_horizon, origins)
    if not origins:
        return evaluation
    single = [candidate for candidate in candidates if not candidate.is_combination]
    runs: dict[str, list[np.ndarray]] = {}
    for origin in origins:
        actual = values[origin : origin + fold_horizon]
        scored = observed[origin : origin + fold_horizon]
        evaluation.actuals.append(np.where(scored, actual, np.nan))
        evaluation.scales.append(mase_scale(values[:origin], observed[:origin], season))
        evaluation.volatility.append(recent_volatility(values[:origin], observed[:origin], season, fold_horizon))
        forecasts, failures = forecast_all(single, values[:origin], season, fold_horizon, nonnegative)
        for name, reason in failures.items():
            evaluation.failures.setdefault(name, reason)
        for name, predicted in forecasts.items():
            runs.setdefault(name, []).append(np.where(scored, actual - predicted, np.nan))
    for candidate in single:  # a model that failed in any fold cannot be compared with the others
        if candidate.name not in evaluation.failures and candidate.name in runs:
            evaluation.errors[candidate.name] = np.vstack(runs[candidate.name])
    for candidate in candidates:
        if candidate.is_combination:
            _evaluate_combination(evaluation, candidate)
    for name, errors in evaluation.errors.items():
        evaluation.smape[name] = [
            smape(actual[~np.isnan(actual)], (actual - error)[~np.isnan(actual)])
            for actual, error in zip(evaluation.actuals, errors, strict=True)
        ]
    return evaluation


def _evaluate_combination(evaluation: Evaluation, candidate: Candidate) -> None:
    """Backtest the median of the best models honestly: each fold's members are ranked on the other folds only.

    The median of forecasts leaves the actual minus the median of the members' errors, so no refit is needed.
    The final members are the best on every fold.
    """
    folds = len(evaluation.origins)
    if folds < 2:
        evaluation.failures[candidate.name] = "one fold cannot rank the members out of sample"
        return
    if len(evaluation.errors) < candidate.combination_size:
        evaluation.failures[candidate.name] = f"fewer than {candidate.combination_size} models could be backtested"
        return
    evaluation.combinations.add(candidate.name)
    rows = []
    for fold in range(folds):
        others = [other for other in range(folds) if other != fold]
        members = evaluation.best(candidate.combination_size, others)
        rows.append(np.median([evaluation.errors[member][fold] for member in members], axis=0))
    evaluation.errors[candidate.name] = np.vstack(rows)
    evaluation.members = evaluation.best(candidate.combination_size, range(folds))


def half_widths(
    errors: np.ndarray, horizon: int, levels: Sequence[int], weights: np.ndarray | None = None
) -> dict[int, np.ndarray]:
    """Interval half-widths per step from absolute backtest errors (cross-conformal calibration).

    `errors` come in units of recent volatility, so calm and turbulent stretches of history calibrate alike.
    Each step gets a robust error scale (the median absolute error of nearby steps across folds, made
    non-decreasing in the step). One weighted quantile of errors relative to that scale, pooled over all steps
    and folds, turns scales into widths; each fold's errors are measured against the scale of the other folds,
    as a new forecast's errors will be against the scale of all of them. A scale fitted to the very errors it
    judges makes intervals too narrow whenever folds differ (a calm fold beside a turbulent one), and a few folds
    always differ. Pooling keeps the quantile stable with a few folds, and the median keeps a one-off outage in
    one fold from widening every later step. Steps beyond the backtested ones grow like sqrt(step).
    """
    absolute = np.abs(np.atleast_2d(errors))
    folds, steps = absolute.shape
    scale = _step_scale(absolute)
    known = ~np.isnan(absolute)
    if not known.any() or scale.max() == 0:
        return {level: np.zeros(horizon) for level in levels}
    if folds > 1:
        reference = np.vstack([_step_scale(np.delete(absolute, fold, axis=0)) for fold in range(folds)])
    else:
        reference = np.broadcast_to(scale, absolute.shape)
    relative = absolute[known] / np.maximum(reference[known], 1e-12 * scale.max())
    weight = np.ones_like(absolute) if weights is None else np.broadcast_to(weights, absolute.shape)
    if horizon > steps:
        scale = np.concatenate([scale, scale[-1] * np.sqrt(np.arange(steps + 1, horizon + 1) / steps)])
    scale = scale[:horizon]
    return {level: _weighted_quantile(relative, weight[known], level / 100) * scale for level in levels}


def _step_scale(absolute: np.ndarray) -> np.ndarray:
    reach = max(1, absolute.shape[1] // 12)
    return _increasing(_fill_nan(_typical_per_step(absolute, reach)))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, quantile: float) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    position = np.searchsorted(cumulative, quantile * cumulative[-1] - 1e-12)
    return float(values[order][min(position, len(values) - 1)])


def _increasing(values: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit (pool adjacent violators): a running maximum would ratchet up on noise."""
    blocks: list[list[float]] = []  # [mean, count]
    for value in values:
        blocks.append([float(value), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            previous = blocks[-1]
            previous[0] = (previous[0] * previous[1] + mean * count) / (previous[1] + count)
            previous[1] += count
    return np.concatenate([np.full(int(count), mean) for mean, count in blocks])


def _typical_per_step(absolute: np.ndarray, reach: int) -> np.ndarray:
    """Per step, the median absolute error of the steps within `reach` across folds (their mean if that is 0)."""
    folds, steps = absolute.shape
    padded = np.pad(absolute, ((0, 0), (reach, reach)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1, axis=1)  # (folds, steps, window)
    pools = windows.transpose(1, 0, 2).reshape(steps, -1)
    known = ~np.isnan(pools)
    typical = np.full(steps, np.nan)
    some = known.any(axis=1)
    if some.any():
        medians = np.nanmedian(pools[some], axis=1)
        means = np.nanmean(pools[some], axis=1)
        typical[some] = np.where(medians > 0, medians, means)
    return typical


def _fill_nan(width: np.ndarray) -> np.ndarray:
    if np.isnan(width).all():
        return np.zeros_like(width)
    known = ~np.isnan(width)
    return np.interp(np.arange(len(width)), np.flatnonzero(known), width[known])
