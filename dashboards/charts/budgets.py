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


def spend_forecast_chart(ours: pd.DataFrame, aws: pd.DataFrame, teams: pd.DataFrame, *, currency: str) -> go.Figure:
    """Monthly effective cost ahead: our total (line) in its 95% and 80% bands (shaded), AWS's GetCostForecast
    (markers with its 80% interval) where available, and each team's mean (thin lines).

    `ours` and `aws` have columns month (date), mean, lower_80, upper_80, lower_95, upper_95 (Decimal); `teams` has
    team, month, mean. An empty `aws` draws no AWS trace.
    """
    figure = go.Figure()
    months = list(ours["month"])
    for level, opacity in ((95, 0.12), (80, 0.22)):
        figure.add_scatter(
            x=[*months, *reversed(months)],
            y=[*ours[f"upper_{level}"].astype(float), *reversed(list(ours[f"lower_{level}"].astype(float)))],
            fill="toself", fillcolor=f"rgba(47, 128, 201, {opacity})", line={"width": 0}, hoverinfo="skip",
            name=f"Costplane {level}% band",
        )  # fmt: skip
    figure.add_scatter(
        x=months, y=ours["mean"].astype(float), mode="lines+markers", name="Costplane forecast",
        line={"color": PALETTE[0], "width": 2.5},
        hovertemplate="%{y:,.2f} in %{x|%Y-%m}<extra>Costplane</extra>",
    )  # fmt: skip
    if not aws.empty:
        mean = aws["mean"].astype(float)
        figure.add_scatter(
            x=list(aws["month"]), y=mean, mode="markers+lines", name="AWS forecast",
            line={"color": PALETTE[1], "width": 1.5, "dash": "dash"}, marker={"size": 8, "symbol": "diamond"},
            error_y={
                "type": "data", "symmetric": False, "color": PALETTE[1],
                "array": aws["upper_80"].astype(float) - mean, "arrayminus": mean - aws["lower_80"].astype(float),
            },
            hovertemplate="%{y:,.2f} in %{x|%Y-%m}<extra>AWS (80% interval)</extra>",
        )  # fmt: skip
    for index, (team, rows) in enumerate(teams.groupby("team", sort=True)):
        figure.add_scatter(
            x=list(rows["month"]), y=rows["mean"].astype(float), mode="lines", name=f"team {team}",
            line={"color": PALETTE[(index + 2) % len(PALETTE)], "width": 1}, visible="legendonly",
            hovertemplate="%{y:,.2f} in %{x|%Y-%m}<extra>" + str(team) + "</extra>",
        )  # fmt: skip
    figure.update_layout(
        height=320,
        margin={"l": 70, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": f"{currency} per month", "tickformat": ",.0f", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date", "dtick": "M1", "tickformat": "%b %Y"},
        plot_bgcolor="#fff",
    )
    return figure
