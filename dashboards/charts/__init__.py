"""Plotly figures: a DataFrame in, a figure out. Amounts become floats here, for drawing only."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from finops.reports import UNALLOCATED

PALETTE = ["#2f80c9", "#f2994a", "#27ae60", "#9b51e0", "#eb5757", "#56ccf2", "#f2c94c", "#6fcf97", "#bb6bd9", "#828282"]


def to_html(figure: go.Figure) -> str:
    return pio.to_html(
        figure, full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )


def daily_spend_by_service(frame: pd.DataFrame, *, top: int = 8) -> go.Figure:
    """Stacked daily bars per service; services beyond the `top` largest are summed into "Other".

    `frame` has columns day, service, cost (Decimal).
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
    figure.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "USD", "tickformat": ",.0f"},
        plot_bgcolor="#fff",
    )
    return figure


UNALLOCATED_COLOUR = "#a0a8b3"
UNALLOCATED_LABEL = "Unallocated"
OTHER_LABEL = "Other"


def _value_label(value: str) -> str:
    return UNALLOCATED_LABEL if value in (UNALLOCATED, "", None) else str(value)


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
            "value": frame[key].map(_value_label),
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


UTILISATION_METRICS = {"gpu": ("GPU", PALETTE[0]), "gpu_memory": ("GPU memory", PALETTE[3]), "cpu": ("CPU", PALETTE[1])}
VARIANT_DASHES = ["solid", "dot", "dash", "dashdot", "longdash"]
NO_DATA_LABEL = "no data (unknown)"


def _hourly(frame: pd.DataFrame, column: str, hours: pd.DatetimeIndex) -> list[float | None]:
    """The column on every hour of `hours`: None where no row or no value (a gap when drawn, never 0)."""
    values = {
        pd.Timestamp(hour): None if value is None or pd.isna(value) else float(value)
        for hour, value in zip(frame["hour"], frame[column], strict=True)
    }
    return [values.get(hour) for hour in hours]


def resource_utilisation(
    frame: pd.DataFrame, *, start: datetime, end: datetime, invocations: bool = False
) -> go.Figure:
    """Hourly average GPU, GPU memory and CPU utilisation (percent) of one resource per variant, and with
    `invocations` (SageMaker endpoints) a second panel of invocations per hour per variant.

    `frame` has columns metric, variant, hour, average, total (Decimal or None): resource_utilisation_frame's
    rows with their metric. Every hour in [start, end) is on the axis; an hour without data is a gap, never 0.
    An endpoint without any invocation data gets "no data (unknown)" in that panel rather than a flat line.
    """
    figure = go.Figure()
    rows = 2 if invocations else 1
    if invocations:
        figure.set_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.64, 0.36], vertical_spacing=0.1,
            subplot_titles=("Average utilisation per hour", "Invocations per hour"),
        )  # fmt: skip
        figure.update_annotations(font={"size": 13, "color": "#1c2430"})  # the two subplot titles
    hours = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="h", inclusive="left")
    variants = sorted(set(frame["variant"]), key=lambda name: (name not in ("", "primary", "AllTraffic"), name))
    many = len(variants) > 1
    for metric, (label, colour) in UTILISATION_METRICS.items():
        for index, variant in enumerate(variants):
            rows_of = frame[(frame["metric"] == metric) & (frame["variant"] == variant)]
            if rows_of.empty:
                continue
            name = f"{label} ({variant})" if many else label
            figure.add_scatter(
                x=hours, y=_hourly(rows_of, "average", hours), mode="lines", name=name, connectgaps=False,
                line={"color": colour, "width": 1.6, "dash": VARIANT_DASHES[index % len(VARIANT_DASHES)]},
                hovertemplate="%{y:.1f}%",
                **({"row": 1, "col": 1} if invocations else {}),
            )  # fmt: skip
    if invocations:
        counted = frame[frame["metric"] == "invocations"]
        known = counted["total"].notna().any() if not counted.empty else False
        for index, variant in enumerate(variants):
            rows_of = counted[counted["variant"] == variant]
            if not known or rows_of.empty:
                continue
            name = f"Invocations ({variant})" if many else "Invocations"
            figure.add_scatter(
                x=hours, y=_hourly(rows_of, "total", hours), mode="lines", name=name, connectgaps=False,
                line={"color": PALETTE[2], "width": 1.6, "dash": VARIANT_DASHES[index % len(VARIANT_DASHES)]},
                hovertemplate="%{y:,.0f}", row=2, col=1,
            )  # fmt: skip
        if not known:
            figure.add_annotation(
                text=NO_DATA_LABEL, xref="x2 domain", yref="y2 domain", x=0.5, y=0.5, showarrow=False,
                font={"color": "#5b6675", "size": 14},
            )  # fmt: skip
            figure.update_yaxes(showticklabels=False, row=2, col=1)
        figure.update_yaxes(title_text="per hour", rangemode="tozero", gridcolor="#eef1f4", row=2, col=1)
    percent_axis = {"range": [0, 101], "ticksuffix": "%", "gridcolor": "#eef1f4"}
    figure.update_yaxes(**percent_axis, **({"row": 1, "col": 1} if invocations else {}))
    window = [hours[0], hours[-1]] if len(hours) else None
    figure.update_xaxes(type="date", range=window, gridcolor="#eef1f4", hoverformat="%Y-%m-%d %H:00 UTC")
    figure.update_layout(
        height=440 if rows == 2 else 320,
        margin={"l": 60, "r": 10, "t": 30 if invocations else 10, "b": 40},
        legend={"orientation": "h", "y": -0.12 if invocations else -0.18},
        plot_bgcolor="#fff",
        hovermode="x unified",
    )
    return figure


# Unit economics page


def unit_cost_by_group(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars of cost per 1,000 predictions per model version (or endpoint), dearest on top.

    `frame` has columns label, cost_per_1000_predictions (Decimal; rows with unknown predictions left out).
    """
    figure = go.Figure()
    frame = frame[frame["cost_per_1000_predictions"].notna()]
    if frame.empty:
        return figure
    frame = frame.assign(value=frame["cost_per_1000_predictions"].astype(float)).sort_values("value")
    figure.add_bar(
        x=frame["value"],
        y=frame["label"],
        orientation="h",
        marker_color=PALETTE[0],
        text=[f"${value:,.4g}" for value in frame["value"]],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:$,.4f} per 1,000 predictions<extra></extra>",
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
            pd.Timestamp(period): None if value is None or pd.isna(value) else float(value)
            for period, value in zip(rows["period"], rows["cost_per_1000_predictions"], strict=True)
        }
        figure.add_scatter(
            x=days,
            y=[values.get(day) for day in days],
            mode="lines+markers",
            name=label,
            connectgaps=False,
            line={"color": PALETTE[index % len(PALETTE)], "width": 2},
            marker={"size": 5},
            hovertemplate=f"{label}: %{{y:$,.4f}}<extra>%{{x|%Y-%m-%d}}</extra>",
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


# Capacity page: GPU demand

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


def gpu_peaks(frame: pd.DataFrame) -> go.Figure:
    """Peak concurrent GPUs per day; days where some slice had no hourly data (its peak is the day's average
    concurrency) are marked with hollow orange markers.

    `frame` has columns day, peak_gpus (Decimal), estimated (bool).
    """
    figure = go.Figure()
    if frame.empty:
        return figure
    days = pd.to_datetime(frame["day"])
    peaks = frame["peak_gpus"].astype(float)
    figure.add_scatter(
        x=days, y=peaks, mode="lines", name="Peak GPUs", line={"color": PALETTE[2], "width": 1.8},
        hovertemplate="%{y:,.1f} GPUs<extra>%{x|%Y-%m-%d}</extra>",
    )  # fmt: skip
    estimated = frame["estimated"].astype(bool).to_numpy()
    if estimated.any():
        figure.add_scatter(
            x=days[estimated], y=peaks[estimated], mode="markers", name="Includes daily averages (no hourly data)",
            marker={"color": "#fff", "size": 7, "line": {"color": PALETTE[1], "width": 2}},
            hovertemplate="%{y:,.1f} GPUs, partly from daily averages<extra>%{x|%Y-%m-%d}</extra>",
        )  # fmt: skip
    figure.update_layout(
        height=240,
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.25},
        yaxis={"title": "GPUs", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        xaxis={"type": "date"},
        plot_bgcolor="#fff",
    )
    return figure
