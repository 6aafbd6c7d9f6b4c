"""The Overview page's figure: daily spend per service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE


def daily_spend_by_service(
    frame: pd.DataFrame, *, top: int = 8, estimated: Sequence[tuple[date, date]] = ()
) -> go.Figure:
    """Stacked daily bars per service; services beyond the `top` largest are summed into "Other".

    `frame` has columns day, service, cost (Decimal). `estimated`: day ranges (end exclusive) whose billing period
    is not final yet, shaded and labelled "estimated" behind their bars.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    frame = frame.assign(cost=frame["cost"].astype(float))
    totals = frame.groupby("service")["cost"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    frame = frame.assign(service=frame["service"].where(frame["service"].isin(keep), "Other"))
    pivot = frame.pivot_table(index="day", columns="service", values="cost", aggfunc="sum", fill_value=0.0)
    order = [name for name in totals.index if name in pivot.columns] + (["Other"] if "Other" in pivot.columns else [])
    for index, service in enumerate(order):
        figure.add_bar(
            x=pivot.index, y=pivot[service], name=service or "(no service)", marker_color=PALETTE[index % len(PALETTE)]
        )
    for start, end in estimated:
        # A day's bar is centred on its date: the shading runs from half a day before the first to half after the last.
        half = timedelta(hours=12)
        figure.add_vrect(
            x0=datetime.combine(start, time.min) - half,
            x1=datetime.combine(end, time.min) - half,
            fillcolor="#9aa0a6",
            opacity=0.18,
            line_width=0,
            layer="below",
            annotation_text="estimated",
            annotation_position="top left",
            name="estimated",
        )
    figure.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "USD", "tickformat": ",.0f"},
        plot_bgcolor="#fff",
    )
    return figure
