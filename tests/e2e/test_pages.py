"""Every page in the URLconf opens for a signed-in user: no server error, no failed static asset."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.e2e.browser import assert_charts_drawn

# Routes that are not pages a person opens: API endpoints, the admin, health, metrics, auth actions.
NOT_PAGES = ("api/", "admin/", "healthz", "metrics", "accounts/", "static/")


def page_routes() -> list[str]:
    """Every parameterless route of the URLconf that renders a page."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                if "<" in route or "(?P" in route or "^" in route or route.startswith(NOT_PAGES):
                    continue
                found.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def test_it_finds_the_navigation_pages_in_the_urlconf():
    routes = page_routes()
    for expected in ("/", "/allocation/", "/unit-economics/", "/capacity/", "/recommendations/", "/schedules/"):
        assert expected in routes


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_opens_every_page_without_errors(signed_in_page, live_server, tmp_path):
    page = signed_in_page
    routes = page_routes() + ["/api/docs/"]
    for route in routes:
        response = page.goto(f"{live_server.url}{route}")
        assert response is not None and response.status == 200, f"{route} answered {response and response.status}"
        page.wait_for_load_state("networkidle")
        assert_charts_drawn(page)
        assert page.locator("header.topbar").count() == 1 or route.startswith("/api/"), route
        page.screenshot(path=str(tmp_path / f"{route.strip('/').replace('/', '_') or 'overview'}.png"), full_page=True)
    assert len(list(tmp_path.glob("*.png"))) == len(routes)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_an_honest_empty_overview(signed_in_page):
    assert signed_in_page.get_by_role("heading", name="No cost data yet").is_visible()
    nav = signed_in_page.locator("nav.mainnav a")
    assert nav.all_inner_texts() == [
        "Overview",
        "Allocation",
        "Unit economics",
        "Capacity",
        "Capacity plan",
        "Recommendations",
        "Policies",
        "Alerts",
        "Budgets",
        "Anomalies",
        "Accounts",
    ]
