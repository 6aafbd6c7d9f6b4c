"""The Anomalies page's figure: a dimension value's daily cost against its baseline. A DataFrame in, a figure out."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

ANOMALY_COLOUR = "#eb5757"


def anomaly_series(frame: pd.DataFrame, *, day: date, end_day: date | None = None) -> go.Figure:
    """Daily cost (bars; the anomalous day, or days, in red), the baseline (median of the same weekday over the
    previous weeks) and the score threshold above it.

    `frame` has columns day, actual, expected, upper (Decimal), as finops.selectors.anomalies.cost_anomaly_series.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    last = end_day or day
    colours = [ANOMALY_COLOUR if day <= when <= last else PALETTE[0] for when in frame["day"]]
    figure.add_bar(
        x=frame["day"], y=frame["actual"].astype(float), name="Cost", marker_color=colours,
        hovertemplate="%{y:$,.2f}<extra>%{x|%a %Y-%m-%d}</extra>",
    )  # fmt: skip
    figure.add_scatter(
        x=frame["day"], y=frame["expected"].astype(float), mode="lines+markers", name="Baseline (same weekday)",
        line={"color": PALETTE[2], "width": 2}, marker={"size": 4},
        hovertemplate="expected %{y:$,.2f}<extra></extra>",
    )  # fmt: skip
    figure.add_scatter(
        x=frame["day"], y=frame["upper"].astype(float), mode="lines", name="Anomaly threshold",
        line={"color": PALETTE[1], "width": 1, "dash": "dot"},
        hovertemplate="threshold %{y:$,.2f}<extra></extra>",
    )  # fmt: skip
    figure.update_layout(
        height=300,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "USD per day", "tickformat": ",.0f", "gridcolor": "#eef1f4"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
        bargap=0.2,
    )
    return figure
