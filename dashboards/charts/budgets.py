"""The Budgets page's figure: a period's burn-down. A DataFrame in, a figure out (floats for drawing only)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

BUDGET_COLOUR = "#eb5757"


def budget_burn_down(
    actual: pd.DataFrame, forecast: pd.DataFrame, *, amount: Decimal, period_start: date, period_end: date
) -> go.Figure:
    """Cumulative spend over the period: actual (solid) through the complete days, the forecast (dashed) from
    there to the period's end, and the budget amount as a horizontal line.

    `actual` and `forecast` have columns day (date), cost (Decimal); the forecast continues the actual's total.
    """
    figure = go.Figure()
    actual = actual.sort_values("day")
    running = actual["cost"].astype(float).cumsum()
    # Each point is the spend at the end of its day.
    ends = [day + timedelta(days=1) for day in actual["day"]]
    figure.add_scatter(
        x=[period_start, *ends], y=[0.0, *running], mode="lines+markers", name="Actual",
        line={"color": PALETTE[0], "width": 2.5}, marker={"size": 4},
        hovertemplate="%{y:$,.2f} by %{x|%Y-%m-%d}<extra>actual</extra>",
    )  # fmt: skip
    if not forecast.empty:
        forecast = forecast.sort_values("day")
        last = float(running.iloc[-1]) if len(running) else 0.0
        start = ends[-1] if ends else period_start
        figure.add_scatter(
            x=[start, *(day + timedelta(days=1) for day in forecast["day"])],
            y=[last, *(last + forecast["cost"].astype(float).cumsum())],
            mode="lines", name="Forecast", line={"color": PALETTE[1], "width": 2, "dash": "dash"},
            hovertemplate="%{y:$,.2f} by %{x|%Y-%m-%d}<extra>forecast</extra>",
        )  # fmt: skip
    figure.add_scatter(
        x=[period_start, period_end], y=[float(amount), float(amount)], mode="lines", name="Budget",
        line={"color": BUDGET_COLOUR, "width": 1.5, "dash": "dot"},
        hovertemplate="Budget %{y:$,.2f}<extra></extra>",
    )  # fmt: skip
    figure.update_layout(
        height=260,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "USD, cumulative", "tickformat": ",.0f", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date", "range": [period_start, period_end]},
        plot_bgcolor="#fff",
    )
    return figure
