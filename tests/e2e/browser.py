"""What every browser test checks beside its own assertions: no error in the browser (BrowserErrors, attached to the
`page` fixture), every chart drawn (`assert_charts_drawn`), every table inside its card (`tables_overflowing`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The browser reaches only the live server: anything else is another origin.
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# A navigation away (or a download) cancels what was still loading: Chromium reports those as aborted.
ABORTED = "net::ERR_ABORTED"


def _local(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS


class BrowserErrors:
    """Collects, per tab: script errors (pageerror), console messages of type error, same-origin requests that
    failed, same-origin static and fragment responses (scripts, styles, images, htmx/XHR) of 400 or more, and page
    responses of 500 or more. Chromium also logs a page answered with 400 or more as a console error ("Failed to load
    resource: ... status of 400"), so a form answered with 400 on purpose is an expected error too.

    A test that expects an error says so: `browser_errors.expect(r"regex")`; every expected pattern must match at
    least one error, and the errors it matches are not failures."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[re.Pattern[str]] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def _console(self, message) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.seen.append(f"console error: {message.text}" + (f" (at {where})" if where else ""))

    def _request_failed(self, request) -> None:
        failure = request.failure or ""
        if _local(request.url) and ABORTED not in failure:
            self.seen.append(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response) -> None:
        if not _local(response.url):
            return
        document = response.request.resource_type == "document"
        if response.status >= 500 or (response.status >= 400 and not document):
            kind = response.request.resource_type
            self.seen.append(f"{response.status} answered {response.request.method} {response.url} ({kind})")

    def problems(self) -> list[str]:
        """The errors nobody expected, then every expected pattern that matched nothing."""
        unexpected = [error for error in self.seen if not any(p.search(error) for p in self.expected)]
        missing = [
            f"expected an error matching {p.pattern!r}, saw none"
            for p in self.expected
            if not any(p.search(error) for error in self.seen)
        ]
        return unexpected + missing


# Each plotly chart (dashboards/charts/base.py to_html) is a div.plotly-graph-div that plotly.js fills with an
# svg.main-svg; its `data` holds the traces drawn.
CHARTS_STATE = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
  .filter(chart => chart.offsetParent !== null || chart.closest('details:not([open])') === null)
  .map(chart => ({
    id: chart.id,
    where: (chart.closest('[id]:not(.plotly-graph-div)') || {}).id || '',
    drawn: chart.querySelector('.main-svg') !== null,
    traces: Array.isArray(chart.data) ? chart.data.length : 0,
  }))"""


def charts_state(page) -> list[dict]:
    return page.evaluate(CHARTS_STATE)


def assert_charts_drawn(page, *, at_least: int = 0, timeout: float = 15_000) -> list[dict]:
    """Every chart container on the page holds a drawn plot (an svg.main-svg and at least one trace); returns them.
    Waits for the page's requests (htmx panels load after the page) and for plotly to draw, then names what is
    blank. `at_least`: how many charts the page must show."""
    page.wait_for_load_state("networkidle")
    try:
        page.wait_for_function(
            f"() => ({CHARTS_STATE})().every(chart => chart.drawn && chart.traces > 0)", timeout=timeout
        )
    except Exception:  # noqa: BLE001 - the assertion below says which chart is blank
        pass
    charts = charts_state(page)
    blank = [chart for chart in charts if not (chart.get("drawn") and chart.get("traces", 0) > 0)]
    assert not blank, f"{page.url}: blank charts (no svg or no trace): {blank}"
    assert len(charts) >= at_least, f"{page.url}: {len(charts)} charts drawn, expected at least {at_least}"
    return charts


# A table fits its card when it is no wider than the card's content box (its width less its padding).
TABLES_STATE = """() => Array.from(document.querySelectorAll('table'))
  .filter(table => table.offsetParent !== null && table.closest('.card'))
  .map(table => {
    const card = table.closest('.card');
    const style = getComputedStyle(card);
    const inner = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {
      table: table.id || (table.closest('[id]') || {}).id || table.className,
      card: card.id || card.className,
      table_width: table.scrollWidth,
      card_width: Math.floor(inner),
    };
  })"""


def tables_overflowing(page) -> list[dict]:
    """The visible tables inside a card that are wider than the card's content box (1 px of rounding allowed)."""
    return [table for table in page.evaluate(TABLES_STATE) if table["table_width"] > table["card_width"] + 1]
