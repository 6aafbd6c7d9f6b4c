"""The Capacity plan page's figures: GPU demand with its forecast bands (base and a scenario's median beside it), and
one quota's demand against its limit, its reservations and the dates by which to ask for more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

BAND_COLOURS = {80: "rgba(47, 128, 201, 0.30)", 95: "rgba(47, 128, 201, 0.13)"}
HISTORY_COLOUR = "#1c2430"
BASE_COLOUR = PALETTE[0]
SCENARIO_COLOUR = PALETTE[3]
LIMIT_COLOUR = "#b42318"
RESERVED_COLOUR = PALETTE[1]
QUOTA_LIMIT = "Quota limit"
RESERVED_LINE = "Limit less unused reservations"


def _layout(figure: go.Figure, *, y_title: str, tick: str, height: int = 380) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 64, "r": 10, "t": 24, "b": 40},
        legend={"orientation": "h", "y": -0.14},
        yaxis={"title": y_title, "tickformat": tick, "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
        hovermode="x unified",
    )
    return figure


def gpu_demand_plan_forecast(
    history: pd.DataFrame, forecast: pd.DataFrame, scenario: pd.DataFrame | None, *, unit: str, scenario_name: str = ""
) -> go.Figure:
    """Daily demand (history), the base forecast's median with its filled 95% and 80% bands, and, when a scenario is
    chosen, the scenario's median (and its 95% upper bound) beside the base.

    `history`: columns day (ISO text), value (text or None for a gap); `forecast` and `scenario`: day, mean,
    lower_80, upper_80, lower_95, upper_95 (decimal strings), as gpu_demand_forecast answers them. `unit` labels the
    y axis ("GPU-hours per day", "peak GPUs").
    """
    figure = go.Figure()
    if not forecast.empty:
        days = pd.to_datetime(forecast["day"])
        for level in (95, 80):
            figure.add_scatter(
                x=days, y=forecast[f"upper_{level}"].astype(float), mode="lines", line={"width": 0},
                showlegend=False, hoverinfo="skip", legendgroup=f"band{level}",
            )  # fmt: skip
            figure.add_scatter(
                x=days, y=forecast[f"lower_{level}"].astype(float), mode="lines", line={"width": 0},
                fill="tonexty", fillcolor=BAND_COLOURS[level], name=f"{level}% interval", legendgroup=f"band{level}",
                hovertemplate=f"{level}% interval from %{{y:,.0f}}<extra></extra>",
            )  # fmt: skip
        figure.add_scatter(
            x=days, y=forecast["mean"].astype(float), mode="lines", name="Median (base)",
            line={"color": BASE_COLOUR, "width": 2, "dash": "dash"},
            hovertemplate="Median (base): %{y:,.1f}<extra></extra>",
        )  # fmt: skip
    if scenario is not None and not scenario.empty:
        days = pd.to_datetime(scenario["day"])
        label = f"Median ({scenario_name})" if scenario_name else "Median (scenario)"
        figure.add_scatter(
            x=days, y=scenario["mean"].astype(float), mode="lines", name=label,
            line={"color": SCENARIO_COLOUR, "width": 2.2},
            hovertemplate=f"{label}: %{{y:,.1f}}<extra></extra>",
        )  # fmt: skip
        if "upper_95" in scenario:
            figure.add_scatter(
                x=days, y=scenario["upper_95"].astype(float), mode="lines", name="Upper 95% (scenario)",
                line={"color": SCENARIO_COLOUR, "width": 1, "dash": "dot"},
                hovertemplate="Upper 95% (scenario): %{y:,.1f}<extra></extra>",
            )  # fmt: skip
    if not history.empty:
        values = [None if value is None else float(value) for value in history["value"]]
        figure.add_scatter(
            x=pd.to_datetime(history["day"]), y=values, mode="lines", name="History", connectgaps=False,
            line={"color": HISTORY_COLOUR, "width": 1.6},
            hovertemplate="History: %{y:,.1f}<extra></extra>",
        )  # fmt: skip
    return _layout(figure, y_title=unit, tick=",.0f")


@dataclass(frozen=True)
class DateMarker:
    """A vertical line at a day with a short label above the plot (a crossing, a request-by date, today)."""

    day: date
    label: str
    colour: str
    dash: str = "dash"


def quota_against_demand(
    history: pd.DataFrame,
    base: pd.DataFrame,
    scenario: pd.DataFrame | None,
    *,
    limit: float,
    unit: str,
    markers: list[DateMarker],
    scenario_name: str = "",
) -> go.Figure:
    """One quota's daily demand (history) and forecast (median and 95th percentile; the scenario's beside the base)
    against a horizontal line at the quota's limit and, where Capacity Reservations hold part of it unused, the line
    of what is left for demand (limit − unused reserved capacity that day: demand above it is a crossing); vertical
    markers at the crossing and request-by dates.

    `history`: columns day, demand; `base` and `scenario`: day, median, p95, unused_reserved (numbers).
    """
    figure = go.Figure()
    frames = [frame for frame in (history, base, scenario) if frame is not None and not frame.empty]
    if not frames:
        return _layout(figure, y_title=unit, tick=",.0f")
    if not history.empty:
        figure.add_scatter(
            x=pd.to_datetime(history["day"]), y=history["demand"].astype(float), mode="lines",
            name="Demand (history)", line={"color": HISTORY_COLOUR, "width": 1.6, "shape": "hv"},
            hovertemplate=f"Demand: %{{y:,.0f}} {unit}<extra></extra>",
        )  # fmt: skip
    paths = ((base, "base", BASE_COLOUR, False), (scenario, "scenario", SCENARIO_COLOUR, True))
    for frame, name, colour, solid in paths:
        if frame is None or frame.empty:
            continue
        label = scenario_name if name == "scenario" and scenario_name else name
        days = pd.to_datetime(frame["day"])
        figure.add_scatter(
            x=days, y=frame["median"].astype(float), mode="lines", name=f"Median ({label})",
            line={"color": colour, "width": 2, "dash": None if solid else "dash"},
            hovertemplate=f"Median ({label}): %{{y:,.0f}} {unit}<extra></extra>",
        )  # fmt: skip
        figure.add_scatter(
            x=days, y=frame["p95"].astype(float), mode="lines", name=f"95th percentile ({label})",
            line={"color": colour, "width": 1.2, "dash": "dot"},
            hovertemplate=f"95th percentile ({label}): %{{y:,.0f}} {unit}<extra></extra>",
        )  # fmt: skip
    start = min(pd.to_datetime(frame["day"]).min() for frame in frames)
    end = max(pd.to_datetime(frame["day"]).max() for frame in frames)
    figure.add_scatter(
        x=[start, end], y=[limit, limit], mode="lines", name=QUOTA_LIMIT,
        line={"color": LIMIT_COLOUR, "width": 2},
        hovertemplate=f"Quota limit: %{{y:,.0f}} {unit}<extra></extra>",
    )  # fmt: skip
    if not base.empty and (base["unused_reserved"].astype(float) > 0).any():
        figure.add_scatter(
            x=pd.to_datetime(base["day"]), y=limit - base["unused_reserved"].astype(float), mode="lines",
            name=RESERVED_LINE, line={"color": RESERVED_COLOUR, "width": 1.6, "shape": "hv", "dash": "dashdot"},
            customdata=base["unused_reserved"].astype(float),
            hovertemplate=f"Left for demand: %{{y:,.0f}} {unit} (%{{customdata:,.0f}} reserved, unused)<extra></extra>",
        )  # fmt: skip
    # Labels step down four rows, so that markers a few days apart (a crossing and today) stay readable.
    for index, marker in enumerate(sorted(markers, key=lambda marker: marker.day)):
        stamp = pd.Timestamp(marker.day)
        figure.add_shape(
            type="line", x0=stamp, x1=stamp, y0=0, y1=1, yref="paper",
            line={"color": marker.colour, "width": 1.4, "dash": marker.dash},
        )  # fmt: skip
        figure.add_annotation(
            x=stamp, y=1.0 - 0.075 * (index % 4), yref="paper", yanchor="bottom", text=marker.label,
            showarrow=False, font={"size": 11, "color": marker.colour}, bgcolor="rgba(255,255,255,0.85)",
        )  # fmt: skip
    return _layout(figure, y_title=unit, tick=",.0f", height=400)
