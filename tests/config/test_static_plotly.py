"""The vendored plotly.js bundle (static/vendor/plotly-basic.min.js, a partial build) draws every trace type that our
chart modules (dashboards/charts/) use: a chart using a type the bundle lacks would be blank in the browser."""

from __future__ import annotations

import ast
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType

from dashboards.charts.base import to_html

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "dashboards" / "charts"
BUNDLE = ROOT / "static" / "vendor" / "plotly-basic.min.js"

# Every trace class plotly.py knows, by the trace type the browser sees ("scatter", "bar", ...).
# (plotly.graph_objects imports its classes lazily: dir() lists them, vars() does not yet.)
TRACE_CLASSES = {
    name: getattr(go, name)
    for name in dir(go)
    if isinstance(getattr(go, name), type) and issubclass(getattr(go, name), BaseTraceType)
}
TRACE_TYPES = {cls._path_str: cls for cls in TRACE_CLASSES.values()}


def trace_types_used(source: str) -> set[str]:
    """Trace types a chart module draws: `figure.add_<type>(...)`, `go.<Trace>(...)`, and `type="<type>"` in a call
    or a dict (axis types such as "date" are not trace types, so they do not count)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name.startswith("add_") and name[4:] in TRACE_TYPES:
                used.add(name[4:])
            elif name in TRACE_CLASSES:
                used.add(TRACE_CLASSES[name]._path_str)
        if isinstance(node, ast.Call):
            used |= {
                keyword.value.value
                for keyword in node.keywords
                if keyword.arg == "type" and isinstance(keyword.value, ast.Constant)
            } & TRACE_TYPES.keys()
        if isinstance(node, ast.Dict):
            used |= {
                value.value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant)
            } & TRACE_TYPES.keys()
    return used


def chart_trace_types() -> dict[str, set[str]]:
    """Trace type -> the chart modules that draw it."""
    found: dict[str, set[str]] = {}
    for module in sorted(CHARTS.glob("*.py")):
        for trace_type in trace_types_used(module.read_text()):
            found.setdefault(trace_type, set()).add(module.name)
    return found


def sample_figure(trace_type: str) -> go.Figure:
    trace = TRACE_TYPES[trace_type]()
    if {"x", "y"} <= set(trace._valid_props):
        trace.update(x=["2026-11-30", "2026-12-01", "2026-12-02"], y=[3, 1, 2])
    elif {"labels", "values"} <= set(trace._valid_props):
        trace.update(labels=["a", "b", "c"], values=[3, 1, 2])
    else:
        pytest.fail(f"no sample data for a {trace_type} trace: teach sample_figure its data")
    return go.Figure(trace)


def test_it_reads_the_trace_types_a_chart_module_draws():
    source = """
figure.add_bar(x=x, y=y)
figure.add_trace(go.Heatmap(z=z))
figure.add_trace({"type": "pie", "values": v})
figure.update_xaxes(type="date")
figure.add_annotation(text="now")
"""
    assert trace_types_used(source) == {"bar", "heatmap", "pie"}


def test_our_charts_draw_scatter_and_bar_traces():
    assert {"scatter", "bar"} <= chart_trace_types().keys()


@pytest.mark.e2e
def test_the_vendored_bundle_registers_and_draws_every_trace_type_our_charts_use(tmp_path, browser):
    # `browser` (tests/conftest.py) is the process's one Chromium; without it the test skips, or fails under CI.
    used = chart_trace_types()
    charts = "\n".join(f'<div class="chart" data-type="{kind}">{to_html(sample_figure(kind))}</div>' for kind in used)
    page_file = tmp_path / "charts.html"
    page_file.write_text(
        f'<!doctype html><html><head><script src="{BUNDLE.as_uri()}"></script></head><body>{charts}</body></html>'
    )
    problems: list[str] = []
    page = browser.new_page()
    try:
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("console", lambda line: problems.append(line.text) if line.type in {"error", "warning"} else None)
        page.goto(page_file.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.chart .main-svg').length >= {len(used)}")
        registered = set(page.evaluate("Object.keys(Plotly.PlotSchema.get().traces)"))
        drawn = page.evaluate(
            """[...document.querySelectorAll('.chart')].map(chart => {
                const plot = chart.querySelector('.js-plotly-plot');
                return [chart.dataset.type, plot._fullData.map(trace => [trace.type, trace.visible])];
            })"""
        )
    finally:
        page.close()

    missing = {kind: sorted(modules) for kind, modules in used.items() if kind not in registered}
    assert missing == {}, f"trace types our charts use that {BUNDLE.name} does not register: {missing}"
    assert {kind: traces for kind, traces in drawn} == {kind: [[kind, True]] for kind in used}
    assert problems == []
