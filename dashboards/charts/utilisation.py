"""A resource's hourly utilisation, drawn on the Capacity page (a clicked resource) and the Recommendations page
(the hours a recommendation was judged on)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts.base import PALETTE

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
