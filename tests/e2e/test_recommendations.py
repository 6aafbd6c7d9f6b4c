"""The Recommendations page in a browser: a team's approver opens a recommendation's evidence and approves it."""

from __future__ import annotations

import csv

import pytest

from capacity.models import Action
from tests.dashboards.test_recommendations_page import recommendations_seed
from tests.e2e.browser import assert_charts_drawn
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
    page.goto(f"{live_server.url}/recommendations/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#recommendations-table tbody tr").count() == 2
    assert page.locator("#kpi-open .value").inner_text() == "2"

    endpoint = recommendations["endpoint"]
    page.click(f'#recommendations-table tr[data-recommendation="{endpoint.pk}"] td:nth-child(2)')
    page.wait_for_selector("#recommendation-detail-name:has-text('asr-prod')")
    assert page.locator("#recommendation-candidates tbody tr").count() == 2
    assert page.locator("#decision-approve").count() == 0, "val approves for Vision, not Speech"
    assert_charts_drawn(page)
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
    assert_charts_drawn(page)
    page.screenshot(path=str(tmp_path / "recommendations.png"), full_page=True)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_viewer_sees_the_evidence_and_no_decision_buttons(signed_in_page, live_server):
    page = signed_in_page
    recommendations = recommendations_seed()
    page.goto(f"{live_server.url}/recommendations/")
    page.wait_for_load_state("networkidle")
    for recommendation in recommendations.values():
        page.click(f'#recommendations-table tr[data-recommendation="{recommendation.pk}"] td:nth-child(2)')
        name = recommendation.resource.name if recommendation.resource else "asr-prod"
        page.wait_for_selector(f"#recommendation-detail-name:has-text('{name}')")
        assert page.locator("#recommendation-evidence, #recommendation-utilisation").count() >= 1
        assert page.locator("#recommendation-no-decision").is_visible()
        assert (
            page.locator(
                "#recommendation-decisions button, #decision-approve, #decision-reject, #decision-snooze"
            ).count()
            == 0
        )
    assert page.locator(".window-form").count() == 0, "a viewer sets no maintenance window"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_approver_sets_the_teams_maintenance_window(approver_page, live_server):
    page, recommendations = approver_page
    vision = recommendations["trainer"].team
    page.goto(f"{live_server.url}/recommendations/")
    field = page.locator(f"#window-{vision.pk}")
    field.fill("Mars 02:00-04:00 Europe/Berlin")
    page.locator('#maintenance-windows-table tr[data-team="vision"] button').click()
    page.wait_for_selector(".messages li.error")
    assert "Nothing changed for Vision" in page.locator(".messages li.error").inner_text()
    page.locator(f"#window-{vision.pk}").fill("Sun 02:00-04:00 Europe/Berlin")
    page.locator('#maintenance-windows-table tr[data-team="vision"] button').click()
    page.wait_for_selector(".messages li.success")
    assert page.locator('#maintenance-windows-table tr[data-team="vision"] td.window').inner_text() == (
        "Sun 02:00-04:00 Europe/Berlin"
    )
    assert page.locator('#maintenance-windows-table tr[data-team="speech"] .window-form').count() == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_filters_by_risk_and_downloads_the_filtered_list_as_csv(signed_in_page, live_server, tmp_path):
    page = signed_in_page
    trainer = recommendations_seed()["trainer"]
    page.goto(f"{live_server.url}/recommendations/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#recommendations-table tbody tr").count() == 2
    with page.expect_response(lambda response: "risk=1" in response.url):
        page.select_option("#filter-risk", "1")
    page.wait_for_url("**risk=1**")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#recommendations-table tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-recommendation") == str(trainer.pk)
    assert "1 of 4 (low)" in rows.first.inner_text()
    assert page.locator("#download-csv").get_attribute("href") == "/recommendations/?state=open&risk=1&format=csv"

    with page.expect_download() as download:
        page.click("#download-csv")
    assert download.value.suggested_filename == "recommendations.csv"
    saved = tmp_path / "recommendations.csv"
    download.value.save_as(saved)
    exported = list(csv.DictReader(saved.open(encoding="utf-8")))
    assert [(row["id"], row["performance_risk"], row["monthly_savings"]) for row in exported] == [
        (str(trainer.pk), "1", "1234.5678")
    ]
