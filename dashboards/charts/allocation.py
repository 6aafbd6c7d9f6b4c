"""The Allocation page's figures: allocated cost per key value and period, and tag coverage per day."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE
from dashboards.tables.columns import UNALLOCATED_LABEL, key_value_label
from dashboards.templatetags.labels import PeriodBucket, account_label_text, enum_label
from finops.models import CostRecord
from finops.reports import UNALLOCATED

UNALLOCATED_COLOUR = "#a0a8b3"
OTHER_LABEL = "Other"


def value_label(value, *, key: str, account_names: dict[str, str] | None = None) -> str:
    """A key value as the chart's legend names it: accounts with their names, charge categories in words."""
    if value in (None, "", UNALLOCATED):
        return key_value_label(value)
    if key == "account":
        return account_label_text(value, account_names or {})
    if key == "charge_category":
        return enum_label(value, CostRecord.ChargeCategory.choices)
    return key_value_label(value)


def allocation_by_period(
    frame: pd.DataFrame,
    *,
    key: str,
    buckets: dict | None = None,
    account_names: dict[str, str] | None = None,
    top: int = 9,
) -> go.Figure:
    """Stacked bars of allocated cost per key value and period: the direct part solid, the shared part
    (from shared-cost rules) hatched in the same colour. `__unallocated__` is "Unallocated" in grey, last;
    values beyond the `top` largest are summed into "Other".

    Each bar is labelled by the dates its period holds in the window (`buckets`: {period: PeriodBucket}); a
    period the window cuts is drawn lighter and annotated "partial: 3 of 7 days", so that a short bucket does
    not read as a drop.

    `frame` has columns `key`, period, cost, shared_cost (Decimal), as finops.allocation.allocate returns.
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    buckets = buckets or {}
    frame = pd.DataFrame(
        {
            "value": frame[key].map(lambda value: value_label(value, key=key, account_names=account_names)),
            "period": frame["period"].map(lambda value: value.date() if isinstance(value, datetime) else value),
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
    pivot = frame.pivot_table(index="period", columns="value", values=["direct", "shared"], aggfunc="sum", dropna=False)
    pivot = pivot.fillna(0.0).sort_index()
    if buckets and None not in buckets:  # every period of the window, those without cost too
        pivot = pivot.reindex(list(buckets), fill_value=0.0)
    periods = list(pivot.index)
    labels = [_bucket_text(period, buckets.get(period)) for period in periods]
    partial = [bool(buckets.get(period) and buckets[period].partial) for period in periods]
    notes = [buckets[period].partial_note if flag else "" for period, flag in zip(periods, partial, strict=True)]
    # A partial bucket is drawn lighter: its bar holds fewer days than its neighbours.
    opacity = [0.45 if flag else 1.0 for flag in partial]
    any_shared = bool((frame["shared"] != 0).any())
    for index, value in enumerate(order):
        colour = UNALLOCATED_COLOUR if value == UNALLOCATED_LABEL else PALETTE[index % (len(PALETTE) - 1)]
        figure.add_bar(
            x=labels,
            y=pivot[("direct", value)],
            name=value,
            legendgroup=value,
            marker={"color": colour, "opacity": opacity},
            customdata=notes,
            hovertemplate=f"{value}: %{{y:$,.2f}}<extra>%{{x}} %{{customdata}}</extra>",
        )
        if any_shared and (pivot[("shared", value)] != 0).any():
            figure.add_bar(
                x=labels,
                y=pivot[("shared", value)],
                name=f"{value} (shared)",
                legendgroup=value,
                showlegend=False,
                marker={
                    "color": colour,
                    "opacity": [0.55 * level for level in opacity],
                    "pattern": {"shape": "/", "fgcolor": "#fff", "solidity": 0.3},
                },
                customdata=notes,
                hovertemplate=f"{value}, shared: %{{y:$,.2f}}<extra>%{{x}} %{{customdata}}</extra>",
            )
    totals_per_period = (pivot["direct"].sum(axis=1) + pivot["shared"].sum(axis=1)).tolist()
    for label, note, height in zip(labels, notes, totals_per_period, strict=True):
        if note:
            figure.add_annotation(
                x=label,
                y=max(height, 0),
                text=note,
                showarrow=False,
                yanchor="bottom",
                font={"size": 11, "color": "#5b6573"},
            )
    figure.update_layout(
        barmode="relative",
        height=360,
        margin={"l": 60, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "USD", "tickformat": ",.0f", "gridcolor": "#eef1f4"},
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
        plot_bgcolor="#fff",
        bargap=0.25,
    )
    return figure


def _bucket_text(period, bucket: PeriodBucket | None) -> str:
    """A bar's label: the dates it holds, or the period's first day when no bucket was given."""
    if bucket is not None:
        return bucket.label
    return "Window" if period is None else f"{period:%b} {period.day}"


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
