"""The Capacity page's GPU demand figures: daily GPU-hours with the forecast and its bands, and daily peak GPUs."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

BAND_COLOURS = {80: "rgba(47, 128, 201, 0.28)", 95: "rgba(47, 128, 201, 0.13)"}


def gpu_demand_forecast(history: pd.DataFrame, points: pd.DataFrame) -> go.Figure:
    """The fleet's daily GPU-hours (history) followed by a forecast's mean with shaded 95% and 80% bands.

    `history` has columns day, gpu_hours (Decimal); `points` has day (ISO text), mean, lower_80, upper_80,
    lower_95, upper_95 (decimal strings), as GpuDemandForecast.points stores them.
    """
    figure = go.Figure()
    if not points.empty:
        days = pd.to_datetime(points["day"])
        for level in (95, 80):
            lower, upper = points[f"lower_{level}"].astype(float), points[f"upper_{level}"].astype(float)
            figure.add_scatter(
                x=days, y=upper, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                legendgroup=f"band{level}",
            )  # fmt: skip
            figure.add_scatter(
                x=days, y=lower, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=BAND_COLOURS[level],
                name=f"{level}% interval", legendgroup=f"band{level}",
                hovertemplate=f"{level}%: %{{y:,.0f}} GPU-h<extra>%{{x|%Y-%m-%d}}</extra>",
            )  # fmt: skip
        figure.add_scatter(
            x=days, y=points["mean"].astype(float), mode="lines", name="Forecast (mean)",
            line={"color": PALETTE[0], "width": 2, "dash": "dash"},
            hovertemplate="Forecast: %{y:,.0f} GPU-h<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
    if not history.empty:
        figure.add_scatter(
            x=pd.to_datetime(history["day"]), y=history["gpu_hours"].astype(float), mode="lines", name="GPU-hours",
            line={"color": "#1c2430", "width": 1.8},
            hovertemplate="%{y:,.0f} GPU-h<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
    figure.update_layout(
        height=360,
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "GPU-hours per day", "tickformat": ",.0f", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
        hovermode="x unified",
    )
    return figure


def gpu_peaks(frame: pd.DataFrame) -> go.Figure:
    """Peak concurrent GPUs per day; days where some slice had no hourly data (its peak is the day's average
    concurrency) are marked with hollow orange markers.

    `frame` has columns day, peak_gpus (Decimal), estimated (bool).
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    days = pd.to_datetime(frame["day"])
    peaks = frame["peak_gpus"].astype(float)
    figure.add_scatter(
        x=days, y=peaks, mode="lines", name="Peak GPUs", line={"color": PALETTE[2], "width": 1.8},
        hovertemplate="%{y:,.1f} GPUs<extra>%{x|%Y-%m-%d}</extra>",
    )  # fmt: skip
    estimated = frame["estimated"].astype(bool).to_numpy()
    if estimated.any():
        figure.add_scatter(
            x=days[estimated], y=peaks[estimated], mode="markers", name="Includes daily averages (no hourly data)",
            marker={"color": "#fff", "size": 7, "line": {"color": PALETTE[1], "width": 2}},
            hovertemplate="%{y:,.1f} GPUs, partly from daily averages<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
    figure.update_layout(
        height=240,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.25},
        yaxis={"title": "GPUs", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
    )
    return figure
