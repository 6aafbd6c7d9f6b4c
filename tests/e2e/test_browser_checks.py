"""The checks every browser test relies on (tests/e2e/browser.py) catch what they are for: a script error, a console
error and a failed fragment fail a test unless it expects them; a blank chart and a table wider than its card are
named."""

from __future__ import annotations

import pytest

from tests.e2e.browser import BrowserErrors, assert_charts_drawn, tables_overflowing


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_reports_script_and_console_errors_and_failed_same_origin_requests(browser, live_server):
    errors = BrowserErrors()
    page = browser.new_page()
    try:
        errors.watch(page)
        page.goto(f"{live_server.url}/accounts/login/")
        assert errors.problems() == [], "the login page itself is clean"
        page.evaluate("setTimeout(() => { throw new Error('boom') }, 0)")
        page.evaluate("console.error('something broke')")
        page.evaluate("fetch('/static/no-such-file.js').catch(() => null)")
        page.evaluate("fetch('/no-such-fragment/', {headers: {'HX-Request': 'true'}}).catch(() => null)")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)
    finally:
        page.close()
    problems = "\n".join(errors.problems())
    assert "script error: boom" in problems
    assert "console error: something broke" in problems
    assert "404 answered GET " in problems and "/static/no-such-file.js (fetch)" in problems
    assert "/no-such-fragment/ (fetch)" in problems


@pytest.mark.e2e
def test_an_expected_error_is_not_a_failure_but_an_expectation_that_never_happens_is(page, browser_errors):
    page.set_content("<script>console.error('expected: quota reached')</script>")
    browser_errors.expect(r"expected: quota reached")
    assert browser_errors.problems() == []
    browser_errors.expect(r"never logged")
    assert browser_errors.problems() == ["expected an error matching 'never logged', saw none"]
    browser_errors.expected.pop()  # so that this test's own page fixture passes at teardown


@pytest.mark.e2e
def test_it_names_a_blank_chart(page):
    page.set_content('<div class="card" id="panel"><div class="plotly-graph-div" id="blank-chart"></div></div>')
    with pytest.raises(AssertionError, match="blank-chart"):
        assert_charts_drawn(page, timeout=300)
    # A drawn one: an svg.main-svg and a trace.
    page.set_content(
        '<div class="card"><div class="plotly-graph-div" id="drawn"><svg class="main-svg"></svg></div></div>'
        "<script>document.getElementById('drawn').data = [{type: 'bar'}]</script>"
    )
    assert [chart["id"] for chart in assert_charts_drawn(page, at_least=1, timeout=300)] == ["drawn"]
    with pytest.raises(AssertionError, match="expected at least 2"):
        assert_charts_drawn(page, at_least=2, timeout=300)


@pytest.mark.e2e
def test_it_measures_tables_against_their_cards_content_box(page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.set_content(
        '<div class="card" id="narrow" style="width:300px;padding:20px;box-sizing:content-box">'
        '<div style="overflow-x:auto"><table id="wide" style="width:600px"><tr><td>x</td></tr></table></div></div>'
        '<div class="card" id="roomy" style="width:300px;padding:20px;box-sizing:content-box">'
        '<table id="fits" style="width:300px"><tr><td>x</td></tr></table></div>'
    )
    overflowing = tables_overflowing(page)
    assert [(table["table"], table["card"], table["table_width"], table["card_width"]) for table in overflowing] == [
        ("wide", "narrow", 600, 300)
    ]
