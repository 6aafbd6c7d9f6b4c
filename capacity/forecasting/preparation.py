"""Turn a user's series into a regular grid: frequency, season length, gaps, level shifts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

# Seasonal models get expensive (and rarely help) beyond a week of hours.
MAX_SEASON_LENGTH = 168


@dataclass
class PreparedSeries:
    """A series on a regular grid. `values` has its gaps filled; `observed` marks the real points."""

    values: np.ndarray
    observed: np.ndarray
    index: pd.Index
    freq: pd.DateOffset | int | None
    notes: list[str] = field(default_factory=list)

    @property
    def nonnegative(self) -> bool:
        return bool(np.all(self.values[self.observed] >= 0))

    def future_index(self, horizon: int) -> pd.Index:
        last = self.index[-1]
        if isinstance(self.index, pd.DatetimeIndex):
            return pd.date_range(start=last + self.freq, periods=horizon, freq=self.freq, name=self.index.name)
        step = int(self.freq or 1)
        return pd.RangeIndex(last + step, last + step * (horizon + 1), step, name=self.index.name)

    def tail(self, start: int) -> PreparedSeries:
        return PreparedSeries(
            self.values[start:], self.observed[start:], self.index[start:], self.freq, list(self.notes)
        )


def prepare_series(series: pd.Series) -> PreparedSeries:
    """Sort, average duplicate timestamps, put the series on a regular grid and remember which points are real."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"series must be a pandas Series, not {type(series).__name__}")
    values = pd.to_numeric(series, errors="coerce").astype(float)
    values = values[~pd.isna(values.index)]
    values = values.groupby(level=0, sort=True).mean()
    valid = values.dropna()
    if valid.empty:
        raise ValueError("series has no observed (non-NaN) values")
    values = values.loc[valid.index[0] :]  # leading gaps carry no information

    if isinstance(values.index, pd.DatetimeIndex):
        freq = _infer_frequency(values.index)
        grid = pd.date_range(values.index[0], values.index[-1], freq=freq, name=series.index.name)
        if values.index.isin(grid).all():
            regular = values.reindex(grid)
        else:  # timestamps between grid points: average them into the bins of the grid
            regular = values.resample(freq).mean()
            regular.index.name = series.index.name
    elif pd.api.types.is_integer_dtype(values.index):
        steps = np.diff(values.index.to_numpy())
        freq = int(np.median(steps)) if len(steps) else 1
        grid = pd.RangeIndex(values.index[0], values.index[-1] + 1, freq, name=series.index.name)
        regular = values.reindex(grid)
    else:
        raise TypeError("series must be indexed by timestamps or integers")

    observed = regular.notna().to_numpy()
    notes = []
    missing = int((~observed).sum())
    if missing:
        notes.append(f"{missing} missing or NaN points were treated as gaps (filled for fitting, never scored).")
    return PreparedSeries(regular.to_numpy(dtype=float), observed, regular.index, freq, notes)


def _infer_frequency(index: pd.DatetimeIndex) -> pd.DateOffset:
    if len(index) < 2:
        return to_offset("D")
    if len(index) >= 3:
        inferred = pd.infer_freq(index)
        if inferred is not None:
            return to_offset(inferred)
    step = pd.Series(index).diff().median()
    days = step / pd.Timedelta(days=1)
    # Calendar frequencies have unequal spacing; recognise them by their typical step.
    for low, high, start, end in ((27, 32, "MS", "ME"), (88, 93, "QS", "QE"), (360, 367, "YS", "YE")):
        if low <= days <= high:
            if index.is_month_end.all():
                return to_offset(end)
            return to_offset(start)
    if days == 7:
        return to_offset(f"W-{index[-1].day_name()[:3].upper()}")
    return to_offset(step)


def infer_season_length(series: pd.Series) -> int | None:
    """The season length `forecast` would use for this series when none is given."""
    return season_length_for(prepare_series(series))


def season_length_for(prepared: PreparedSeries, requested: int | None = None) -> int | None:
    """Hourly 24, daily 7, weekly 52, monthly 12, quarterly 4; only when the history holds two full seasons."""
    season = requested if requested is not None else natural_season(prepared.freq)
    if season is None or season < 2 or len(prepared.values) < 2 * season:
        return None
    return int(season)


def natural_season(freq: pd.DateOffset | int | None) -> int | None:
    if not isinstance(freq, pd.DateOffset):
        return None  # an integer index carries no calendar
    if isinstance(freq, pd.offsets.Tick):
        step = pd.Timedelta(freq)
        if step == pd.Timedelta(days=1):
            return 7
        if step == pd.Timedelta(days=7):
            return 52
        if step < pd.Timedelta(days=1) and pd.Timedelta(days=1) % step == pd.Timedelta(0):
            per_day = pd.Timedelta(days=1) // step
            return per_day if per_day <= MAX_SEASON_LENGTH else None
        return None
    if freq.n != 1:
        return 4 if isinstance(freq, pd.offsets.MonthBegin | pd.offsets.MonthEnd) and freq.n == 3 else None
    if isinstance(freq, pd.offsets.BusinessDay):
        return 5
    if isinstance(freq, pd.offsets.Week):
        return 52
    if isinstance(freq, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        return 12
    if isinstance(freq, pd.offsets.QuarterBegin | pd.offsets.QuarterEnd):
        return 4
    return None


def fill_gaps(values: np.ndarray, observed: np.ndarray, season: int | None) -> np.ndarray:
    """Fill gaps with the same phase of the nearest season (seasonal) or by linear interpolation."""
    if observed.all():
        return values.copy()
    frame = pd.Series(np.where(observed, values, np.nan))
    if season:
        phase = np.arange(len(frame)) % season
        frame = frame.groupby(phase).transform(lambda column: column.ffill().bfill())
    return frame.interpolate(limit_direction="both").to_numpy()


def detect_level_shift(values: np.ndarray, season: int | None) -> int | None:
    """Position where a lasting step change starts in the second half of the series, or None.

    The rolling median over a window of one season (so the seasonal pattern cancels) is compared just after
    and just before each point; a step is an outlier among all those changes (a trend moves every change
    alike, so it is no outlier) and the series stays at the new level until its end (a one-off outage does not).
    """
    window = max(season or 0, 5)
    n = len(values)
    if n < 4 * window:
        return None
    rolling = pd.Series(values).rolling(window).median().to_numpy()
    before = np.full(n, np.nan)
    after = np.full(n, np.nan)
    before[window:] = rolling[window - 1 : n - 1]
    after[: n - window + 1] = rolling[window - 1 :]
    change = after - before
    valid = ~np.isnan(change)
    center = np.median(change[valid])
    spread = 1.4826 * np.median(np.abs(change[valid] - center))
    spread = max(spread, 1e-9 * (np.abs(values).max() + 1.0))
    score = np.where(valid, np.abs(change - center) / spread, 0.0)
    score[: n // 2] = 0.0
    position = int(np.argmax(score))
    if score[position] < 6.0:
        return None
    # Medians tie across a few points around a step, and a step less than a window before the end has no full
    # window after it: the means before and after (the last ones over at least 3 points) pinpoint the step.
    near = range(max(window, position - window), min(n - 3, position + window) + 1)
    mean_change = [abs(values[t : t + window].mean() - values[t - window : t].mean()) for t in near]
    position = near[int(np.argmax(mean_change))]
    step = np.median(values[position : position + window]) - np.median(values[position - window : position])
    lasting = np.median(values[position:]) - np.median(values[max(0, 2 * position - n) : position])
    if np.sign(lasting) != np.sign(step) or abs(lasting) < 0.5 * abs(step):
        return None
    return position
