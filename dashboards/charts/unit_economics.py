"""The Unit economics page's figures: cost per 1,000 predictions per model version, and its daily course."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE
from dashboards.templatetags.costplane import money, unit_price


def unit_cost_by_group(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars of cost per 1,000 predictions per model version (or endpoint), dearest on top, labelled as the
    table shows them (costplane.unit_price); the hover names the cost and the predictions it divides.

    `frame` has columns label, cost_with_predictions, predictions, cost_per_1000_predictions (Decimal; rows with
    unknown predictions left out).
    """
    figure = go.Figure()
    frame = frame[frame["cost_per_1000_predictions"].notna()]
    if frame.empty:
        return figure
    frame = frame.assign(value=frame["cost_per_1000_predictions"].astype(float)).sort_values("value")
    texts = [unit_price(value) for value in frame["cost_per_1000_predictions"]]
    figure.add_bar(
        x=frame["value"],
        y=frame["label"],
        orientation="h",
        marker_color=PALETTE[0],
        text=texts,
        textposition="outside",
        cliponaxis=False,
        customdata=[
            [text, money(cost), f"{count:,.0f}"]
            for text, cost, count in zip(texts, frame["cost_with_predictions"], frame["predictions"], strict=True)
        ],
        hovertemplate=(
            "%{y}: %{customdata[0]} per 1,000 predictions"
            "<br>%{customdata[1]} over %{customdata[2]} predictions<extra></extra>"
        ),
        name="Cost per 1,000 predictions",
    )
    figure.update_layout(
        height=max(160, 60 + 34 * len(frame)),
        margin={"l": 10, "r": 70, "t": 10, "b": 40},
        xaxis={"title": "USD per 1,000 predictions", "tickprefix": "$", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        yaxis={"automargin": True},
        plot_bgcolor="#fff",
        showlegend=False,
        bargap=0.35,
    )
    return figure


def unit_cost_daily(frame: pd.DataFrame) -> go.Figure:
    """One line per model version (or endpoint): daily cost per 1,000 predictions. A day whose predictions are
    unknown is a gap, never 0.

    `frame` has columns label, period (date), cost_per_1000_predictions (Decimal or None), in drawing order.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    days = pd.date_range(pd.Timestamp(frame["period"].min()), pd.Timestamp(frame["period"].max()), freq="D")
    known = frame["cost_per_1000_predictions"].dropna().astype(float)
    known = known[known > 0]
    # Models can differ by orders of magnitude; a log axis keeps the cheap ones from lying flat on zero.
    logarithmic = not known.empty and known.max() / known.min() > 20
    for index, label in enumerate(dict.fromkeys(frame["label"])):
        rows = frame[frame["label"] == label]
        values = {
            pd.Timestamp(period): None if value is None or pd.isna(value) else value
            for period, value in zip(rows["period"], rows["cost_per_1000_predictions"], strict=True)
        }
        figure.add_scatter(
            x=days,
            y=[None if values.get(day) is None else float(values[day]) for day in days],
            customdata=[unit_price(values.get(day)) for day in days],
            mode="lines+markers",
            name=label,
            connectgaps=False,
            line={"color": PALETTE[index % len(PALETTE)], "width": 2},
            marker={"size": 5},
            hovertemplate=f"{label}: %{{customdata}} per 1,000<extra>%{{x|%Y-%m-%d}}</extra>",
        )
    figure.update_layout(
        height=340,
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.18},
        yaxis={
            "title": "USD per 1,000 predictions" + (" (log scale)" if logarithmic else ""),
            "tickprefix": "$",
            "gridcolor": "#eef1f4",
            **({"type": "log"} if logarithmic else {"rangemode": "tozero"}),
        },
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
    )
    return figure
