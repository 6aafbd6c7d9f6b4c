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


PEAK_COLOURS = {"hourly": PALETTE[2], "average": PALETTE[1], "inventory": "#9aa5b1"}


def gpu_peaks(frame: pd.DataFrame) -> go.Figure:
    """The fleet's peak concurrent GPUs per day, in whole GPUs, as separate series that are never joined: the peak
    of the hourly data (days partly covered marked with hollow markers) and, on days without hourly data, the
    estimate from the day's average concurrency; the GPUs in inventory each day above them.

    `frame` has gpu_fleet_peaks' columns: day, peak_gpus, source ("hourly" | "average"), peak_hour,
    hours_with_data, inventory_gpus.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    days = pd.to_datetime(frame["day"])
    hourly = (frame["source"] == "hourly").to_numpy()

    def only(mask):  # the series on every day, None elsewhere, so that lines break where the kind changes
        return [int(value) if keep else None for value, keep in zip(frame["peak_gpus"], mask, strict=True)]

    figure.add_scatter(
        x=days, y=frame["inventory_gpus"].astype(int), mode="lines", name="GPUs in inventory",
        line={"color": PEAK_COLOURS["inventory"], "width": 1, "shape": "hv"},
        hovertemplate="%{y:,d} GPUs in inventory<extra>%{x|%Y-%m-%d}</extra>",
    )  # fmt: skip
    if (~hourly).any():
        figure.add_scatter(
            x=days, y=only(~hourly), mode="lines+markers", connectgaps=False,
            name="Estimate: average concurrency (no hourly data)",
            line={"color": PEAK_COLOURS["average"], "width": 1.5, "dash": "dot"}, marker={"size": 3},
            hovertemplate="about %{y:,d} GPUs on average (billed GPU-hours ÷ 24)<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
    if hourly.any():
        figure.add_scatter(
            x=days, y=only(hourly), mode="lines", connectgaps=False, name="Peak GPUs (hourly data)",
            line={"color": PEAK_COLOURS["hourly"], "width": 2},
            customdata=[[int(hours or 0)] for hours in frame["hours_with_data"]],
            hovertemplate="%{y:,d} GPUs at the peak hour (%{customdata[0]} of 24 hours with data)"
            "<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
        partial = hourly & (frame["hours_with_data"] < 24).to_numpy()
        if partial.any():
            figure.add_scatter(
                x=days[partial], y=frame["peak_gpus"][partial].astype(int), mode="markers",
                name="Hourly data for part of the day",
                marker={"color": "#fff", "size": 8, "line": {"color": PEAK_COLOURS["hourly"], "width": 2}},
                customdata=[[int(hours)] for hours in frame["hours_with_data"][partial]],
                hovertemplate="%{y:,d} GPUs over %{customdata[0]} of 24 hours<extra>%{x|%Y-%m-%d}</extra>",
            )  # fmt: skip
    figure.update_layout(
        height=260,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.25},
        yaxis={"title": "GPUs", "gridcolor": "#eef1f4", "rangemode": "tozero", "tickformat": ",d"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
    )
    return figure
