"""The Allocation page's figures: allocated cost per key value and period, and tag coverage per day."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE
from dashboards.tables.columns import UNALLOCATED_LABEL, key_value_label

UNALLOCATED_COLOUR = "#a0a8b3"
OTHER_LABEL = "Other"


def allocation_by_period(frame: pd.DataFrame, *, key: str, top: int = 9) -> go.Figure:
    """Stacked bars of allocated cost per key value and period: the direct part solid, the shared part
    (from shared-cost rules) hatched in the same colour. `__unallocated__` is "Unallocated" in grey, last;
    values beyond the `top` largest are summed into "Other".

    `frame` has columns `key`, period, cost, shared_cost (Decimal), as finops.allocation.allocate returns.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    frame = pd.DataFrame(
        {
            "value": frame[key].map(key_value_label),
            "period": pd.to_datetime(frame["period"]),
            "direct": (frame["cost"] - frame["shared_cost"]).astype(float),
            "shared": frame["shared_cost"].astype(float),
        }
    )
    frame["total"] = frame["direct"] + frame["shared"]
    totals = frame[frame["value"] != UNALLOCATED_LABEL].groupby("value")["total"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    frame["value"] = frame["value"].where(frame["value"].isin(keep | {UNALLOCATED_LABEL}), OTHER_LABEL)
    order = [value for value in totals.index if value in keep]
    order += [value for value in (OTHER_LABEL, UNALLOCATED_LABEL) if (frame["value"] == value).any()]
    pivot = frame.pivot_table(index="period", columns="value", values=["direct", "shared"], aggfunc="sum")
    pivot = pivot.fillna(0.0)
    any_shared = bool((frame["shared"] != 0).any())
    for index, value in enumerate(order):
        colour = UNALLOCATED_COLOUR if value == UNALLOCATED_LABEL else PALETTE[index % (len(PALETTE) - 1)]
        figure.add_bar(
            x=pivot.index,
            y=pivot[("direct", value)],
            name=value,
            legendgroup=value,
            marker_color=colour,
            hovertemplate=f"{value}: %{{y:$,.2f}}<extra>%{{x|%Y-%m-%d}}</extra>",
        )
        if any_shared and (pivot[("shared", value)] != 0).any():
            figure.add_bar(
                x=pivot.index,
                y=pivot[("shared", value)],
                name=f"{value} (shared)",
                legendgroup=value,
                showlegend=False,
                marker={
                    "color": colour,
                    "opacity": 0.55,
                    "pattern": {"shape": "/", "fgcolor": "#fff", "solidity": 0.3},
                },
                hovertemplate=f"{value}, shared: %{{y:$,.2f}}<extra>%{{x|%Y-%m-%d}}</extra>",
            )
    figure.update_layout(
        barmode="relative",
        height=360,
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "USD", "tickformat": ",.0f", "gridcolor": "#eef1f4"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
        bargap=0.25,
    )
    return figure


def tag_coverage_by_day(frame: pd.DataFrame) -> go.Figure:
    """The share of usage cost carrying the tag per day, cost-weighted across accounts, in percent.

    `frame` has columns period, account, cost, tagged_cost (Decimal), as finops.allocation.tag_coverage returns.
    """
    figure = go.Figure()
    daily = frame.groupby("period", sort=True)[["cost", "tagged_cost"]].sum() if not frame.empty else frame
    daily = daily[daily["cost"] > 0] if not frame.empty else daily
    if daily.empty:
        return figure
    coverage = (daily["tagged_cost"] / daily["cost"]).astype(float) * 100
    figure.add_scatter(
        x=pd.to_datetime(daily.index),
        y=coverage,
        mode="lines+markers",
        name="Coverage",
        line={"color": PALETTE[0], "width": 2},
        marker={"size": 5},
        hovertemplate="%{y:.1f}% of usage cost tagged<extra>%{x|%Y-%m-%d}</extra>",
    )
    figure.update_layout(
        height=260,
        margin={"l": 50, "r": 10, "t": 10, "b": 30},
        yaxis={"title": "% of usage cost", "range": [0, 101], "ticksuffix": "%", "gridcolor": "#eef1f4"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
        showlegend=False,
    )
    return figure
