"""The Recommendations page in a browser: a team's approver opens a recommendation's evidence and approves it."""

from __future__ import annotations

import pytest

from capacity.models import Action
from tests.dashboards.test_recommendations_page import recommendations_seed
from tests.factories import TeamMembershipFactory, UserFactory


@pytest.fixture
def approver_page(page, live_server):
    """Vision's approver, signed in through the login form."""
    recommendations = recommendations_seed()
    TeamMembershipFactory(team=recommendations["trainer"].team, user=UserFactory(username="val"))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "val")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page, recommendations


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_the_evidence_and_approves_as_the_teams_approver(approver_page, live_server, tmp_path):
    page, recommendations = approver_page
    trainer = recommendations["trainer"]
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(f"script error: {error}"))
    page.on("response", lambda response: failures.append(response.url) if response.status >= 400 else None)
    page.goto(f"{live_server.url}/recommendations/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#recommendations-table tbody tr").count() == 2
    assert page.locator("#kpi-open .value").inner_text() == "2"

    endpoint = recommendations["endpoint"]
    page.click(f'#recommendations-table tr[data-recommendation="{endpoint.pk}"] td:nth-child(2)')
    page.wait_for_selector("#recommendation-detail-name:has-text('asr-prod')")
    assert page.locator("#recommendation-candidates tbody tr").count() == 2
    assert page.locator("#decision-approve").count() == 0, "val approves for Vision, not Speech"
    page.locator("#recommendation-detail-panel").screenshot(path=str(tmp_path / "recommendation-evidence.png"))

    page.click(f'#recommendations-table tr[data-recommendation="{trainer.pk}"] td:nth-child(2)')
    page.wait_for_selector("#recommendation-detail-name:has-text('vision-trainer')")
    assert page.locator("#recommendation-options tbody tr").count() == 2
    assert page.locator("#recommendation-transitions tbody tr").count() == 1
    assert page.locator("#decision-approve button").is_visible()

    page.fill("#approve-reason", "agreed with vision")
    page.click("#decision-approve button")
    page.wait_for_selector(".messages li.success")
    page.wait_for_load_state("networkidle")
    assert page.locator("#recommendation-detail-state").inner_text() == "Approved"
    assert page.locator("#kpi-awaiting .value").inner_text() == "1"
    assert page.locator("#recommendation-transitions tbody tr").last.inner_text().split("\t")[1:] == [
        "val",
        "open → approved",
        "agreed with vision",
    ]
    assert "Planned" in page.locator("#recommendation-action").inner_text()
    assert page.locator("#decision-approve").count() == 0
    assert Action.objects.get(recommendation=trainer).state == "planned"
    page.screenshot(path=str(tmp_path / "recommendations.png"), full_page=True)
    assert failures == []
