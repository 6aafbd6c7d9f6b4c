"""What every page's figures share: the palette, and how a figure becomes HTML (plotly.js is served from static/,
so the HTML does not carry it). Figures are functions, a DataFrame in and a figure out; amounts become floats
there, for drawing only."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

PALETTE = ["#2f80c9", "#f2994a", "#27ae60", "#9b51e0", "#eb5757", "#56ccf2", "#f2c94c", "#6fcf97", "#bb6bd9", "#828282"]


def to_html(figure: go.Figure) -> str:
    return pio.to_html(
        figure, full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )
