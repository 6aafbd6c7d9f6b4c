"""The Policies page in a browser: an operator writes a policy (a grammar error first), finds it in dry run and
previews it; a viewer sees no edit or snooze controls; a team's approver snoozes an announced action."""

from __future__ import annotations

from pathlib import Path

import pytest

from capacity.models import Action, Policy
from tests.dashboards.policies.support import ALWAYS_OFF, POLICIES_CLOCK, policies_seed, seed_actions
from tests.e2e.browser import assert_charts_drawn
from tests.factories import TeamMembershipFactory, UserFactory

SCREENSHOTS = Path("/tmp/policyui")
pytestmark = pytest.mark.clock(POLICIES_CLOCK)  # ALWAYS_OFF is built for that day


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def shoot(page, name: str, tmp_path: Path, *, locator: str | None = None) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for folder in (tmp_path, SCREENSHOTS):
        target = page.locator(locator) if locator else page
        target.screenshot(path=str(folder / f"{name}.png"), **({} if locator else {"full_page": True}))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_creates_a_policy_in_dry_run_through_the_editor_and_previews_it(page, live_server, tmp_path, browser_errors):
    # The editor answers a grammar error with the form and 400, which Chromium logs as a failed load.
    browser_errors.expect(r"status of 400 \(Bad Request\) \(at http://[^/]+/schedules/\)")
    seeded = policies_seed()
    UserFactory(username="olivia", roles=["operator"])
    sign_in(page, live_server, "olivia")
    page.goto(f"{live_server.url}/schedules/")
    page.click("#new-policy")
    page.wait_for_selector("#policy-editor details[open]")
    assert page.locator("#id_dry_run").is_checked(), "a new policy starts in dry run"

    page.fill("#id_name", "Vision nights")
    page.select_option("#id_action", "stop_start")
    page.check("#field-resource_kinds input[value=ec2_instance]")
    page.fill("#id_tag_filters", "team=vision")
    page.fill("#id_schedule", "off=(X-F,19)")
    page.click("#policy-save")
    page.wait_for_selector("#errors-schedule")
    assert "'X' in 'off=(X-F,19)' is not a day" in page.locator("#errors-schedule").inner_text()
    assert Policy.objects.count() == 1
    shoot(page, "policies-editor-error", tmp_path, locator="#policy-editor")

    page.fill("#id_schedule", ALWAYS_OFF)
    page.click("#policy-save")
    page.wait_for_selector(".messages li.success")
    assert "Created policy Vision nights, in dry run" in page.locator(".messages li.success").inner_text()
    created = Policy.objects.get(name="Vision nights")
    row = page.locator(f'#policies-table tr[data-policy="{created.pk}"]')
    assert row.locator("td").nth(2).inner_text() == "dry run"
    assert row.locator("td").nth(4).inner_text() == ALWAYS_OFF
    # The redirect opened the new policy's preview: Vision's running instances, the keep-alive one skipped.
    page.wait_for_selector("#policy-preview-name:has-text('Vision nights')")
    preview = page.locator("#policy-preview-table tbody tr")
    assert preview.count() == 3
    assert page.locator("#policy-preview-table tr.would-act").count() == 2
    assert "keep-alive" in page.locator("#policy-preview-table tr.would-skip").inner_text()
    assert "$2.01 an hour" in page.locator("#policy-preview-summary").inner_text()

    # Another policy's preview comes in place through htmx, without a page load.
    other = seeded["policy"]
    page.click(f'#policies-table tr[data-policy="{other.pk}"] .preview-button')
    page.wait_for_selector(f"#policy-preview-name:has-text('{other.name}')")
    errors = page.locator("#policy-preview-table tbody tr", has_text="speech-broken").inner_text()
    assert "tag costplane:schedule" in errors and "is not a day" in errors
    assert page.locator("#policy-preview-table tbody tr", has_text="Cap reached").count() == 1
    shoot(page, "policies-operator", tmp_path)
    assert not Action.objects.exists(), "previews act on nothing"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_shows_a_viewer_the_policies_without_edit_or_snooze_controls(page, live_server, tmp_path):
    seeded = policies_seed()
    seed_actions(seeded)
    UserFactory(username="vic", roles=["viewer"])
    sign_in(page, live_server, "vic")
    page.goto(f"{live_server.url}/schedules/")
    page.wait_for_load_state("networkidle")

    assert page.locator("#policies-table tbody tr").count() == 1
    assert page.locator("#upcoming-actions-table tbody tr").count() == 2
    assert_charts_drawn(page, at_least=1)
    assert page.locator("#upcoming-actions-chart .plot-container").count() == 1
    for control in ("#new-policy", "#policy-editor", ".edit-button", ".snooze-form", "button.snooze"):
        assert page.locator(control).count() == 0, control
    page.click(".preview-button")
    page.wait_for_selector("#policy-preview-table")
    # The evaluation already decided this off period: the preview says so instead of stopping anything twice; only
    # the resource the cap left for the next run would be acted on now.
    assert page.locator("#policy-preview-table tr.would-act").count() == 1
    assert page.locator("#policy-preview-table tr.would-act", has_text="vision-spare-gpu").count() == 1
    assert page.locator("#policy-preview-table tbody tr", has_text="Already handled for this boundary.").count() == 4
    shoot(page, "policies-viewer", tmp_path)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_lets_the_teams_approver_snooze_an_announced_action(page, live_server, tmp_path):
    seeded = policies_seed()
    announced = seed_actions(seeded)
    vision_action = next(action for action in announced if action.team == seeded["vision"])
    TeamMembershipFactory(team=seeded["vision"], user=UserFactory(username="val"))
    sign_in(page, live_server, "val")
    page.goto(f"{live_server.url}/schedules/")
    page.wait_for_load_state("networkidle")

    assert page.locator(".snooze-form").count() == 1, "only Vision's action offers a snooze to Vision's approver"
    row = page.locator(f'#upcoming-actions-table tr[data-action="{vision_action.pk}"]')
    before = row.locator("td").first.inner_text()
    until = (vision_action.run_after.replace(second=0, microsecond=0)).strftime("%Y-%m-%d %H:%M")
    assert before.startswith(until)
    later = page.locator(f"#snooze-until-{vision_action.pk}").input_value()
    row.locator("input[name=reason]").fill("demo tonight")
    shoot(page, "policies-approver-before", tmp_path, locator="#upcoming-actions")
    row.locator("button.snooze").click()

    page.wait_for_selector(".messages li.success")
    assert f"until {later.replace('T', ' ')} UTC" in page.locator(".messages li.success").inner_text()
    row = page.locator(f'#upcoming-actions-table tr[data-action="{vision_action.pk}"]')
    assert row.locator("td").first.inner_text().startswith(later.replace("T", " "))
    assert "Snoozed by val" in row.inner_text() and "demo tonight" in row.inner_text()
    first_history = page.locator("#policy-history-table tbody tr").first.inner_text()
    assert "val" in first_history and "announced → announced" in first_history
    vision_action.refresh_from_db()
    assert vision_action.run_after.strftime("%Y-%m-%dT%H:%M") == later
    shoot(page, "policies-approver-after", tmp_path)
