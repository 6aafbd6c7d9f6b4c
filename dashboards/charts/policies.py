"""The Policies page's figure: announced and planned policy actions on a timeline. A DataFrame in, a figure out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

# One colour per action kind, the same on every render (the off kinds warm, the on kinds green).
KIND_COLOURS = {
    "stop": "#eb5757",
    "delete": "#bb6bd9",
    "scale_to_zero": "#f2994a",
    "start": "#27ae60",
    "recreate": "#2f80c9",
    "restore": "#56ccf2",
}


def upcoming_actions_timeline(frame: pd.DataFrame, *, now: datetime) -> go.Figure:
    """One row per resource: a bar for each action's grace period (announced at → runs at), its colour the kind,
    with a line at `now`.

    `frame` has columns resource (label), policy, kind, kind_label, state, announced_at, runs_at (aware datetimes;
    announced_at may be missing: the bar then starts an hour before it runs).
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    frame = frame.copy()
    frame["runs_at"] = pd.to_datetime(frame["runs_at"], utc=True)
    announced = pd.to_datetime(frame["announced_at"], utc=True)
    frame["announced_at"] = announced.where(announced.notna() & (announced < frame["runs_at"]),
                                            frame["runs_at"] - timedelta(hours=1))  # fmt: skip
    frame["label"] = frame["resource"] + " · " + frame["policy"]
    order = list(dict.fromkeys(frame.sort_values(["runs_at", "label"])["label"]))
    for index, (kind, rows) in enumerate(frame.groupby("kind", sort=True)):
        colour = KIND_COLOURS.get(kind, PALETTE[index % len(PALETTE)])
        duration_ms = (rows["runs_at"] - rows["announced_at"]).dt.total_seconds() * 1000
        figure.add_bar(
            y=rows["label"],
            x=duration_ms,
            base=rows["announced_at"].dt.tz_localize(None),
            orientation="h",
            name=str(rows["kind_label"].iloc[0]),
            marker_color=colour,
            opacity=0.85,
            customdata=list(zip(rows["state"], rows["runs_at"].dt.strftime("%Y-%m-%d %H:%M"), strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]}, runs at %{customdata[1]} UTC<extra>" + str(kind) + "</extra>",
        )
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    figure.add_vline(x=now_utc, line_width=1, line_dash="dot", line_color="#828282")
    figure.add_annotation(x=now_utc, y=1, yref="paper", text="now", showarrow=False, yshift=8,
                          font={"size": 11, "color": "#828282"})  # fmt: skip
    figure.update_layout(
        barmode="overlay",
        showlegend=True,
        height=max(180, 60 + 34 * len(order)),
        margin={"l": 40, "r": 10, "t": 20, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        xaxis={"type": "date", "title": "UTC", "gridcolor": "#eef1f4", "automargin": True},
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(order)), "automargin": True},
        plot_bgcolor="#fff",
    )
    return figure
