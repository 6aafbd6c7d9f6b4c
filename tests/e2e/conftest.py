"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium), never a downloaded browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.browser import BrowserErrors

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures in
# that same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def cookies_outlive_a_pinned_clock(clock, settings):
    """With the test clock pinned (tests/clock.py), Django dates its cookies by that clock while Chromium expires them
    by the real one: a session cookie that lasts two weeks from a pinned instant in the past is dropped at once. Under
    a pinned clock the session and CSRF cookies last as long as the browser instead; the server still checks the
    session's own expiry, by the pinned clock."""
    if clock is not None:
        settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
        settings.CSRF_COOKIE_AGE = None


@pytest.fixture
def browser_errors() -> BrowserErrors:
    """What went wrong in the browser during the test; a test that expects an error says so with `expect`."""
    return BrowserErrors()


@pytest.fixture
def page(browser, browser_errors):
    """A fresh tab. Any script error, console error, failed same-origin request or same-origin static or fragment
    response of 400 or more (a page answering 500 too) fails the test at teardown, unless the test expected it."""
    page = browser.new_page()
    browser_errors.watch(page)
    yield page
    page.close()
    problems = browser_errors.problems()
    if problems:
        pytest.fail("the browser saw errors:\n" + "\n".join(f"- {problem}" for problem in problems), pytrace=False)


@pytest.fixture
def signed_in_page(page, live_server, django_user_model):
    from tests.factories import UserFactory

    UserFactory(username="erin", roles=["viewer"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "erin")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page
