"""The Recommendations page beyond decisions: the utilisation chart of the detail, estimated beside realised
savings, re-planning a dry-run rehearsal for real, and the teams' maintenance windows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import Action, ActionTransition, Resource, TeamSettings, UtilisationHour
from capacity.services.approvals import (
    RecommendationForbidden,
    RecommendationInputError,
    action_replan,
    recommendation_approve,
)
from tests.dashboards.test_recommendations_page import HTMX_DETAIL, messages_of, recommendations_seed, table_rows
from tests.factories import TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("dashboards:recommendations")


@pytest.fixture
def seeded(db):
    return recommendations_seed()


@pytest.fixture
def val(seeded):
    return TeamMembershipFactory(team=seeded["trainer"].team, user=UserFactory(username="val")).user


def rehearsed(recommendation, approver) -> Action:
    """An approved action the engine skipped as a dry run, as actions.py leaves it."""
    action = recommendation_approve(recommendation_id=recommendation.pk, user=approver)
    Action.objects.filter(pk=action.pk).update(
        state=Action.State.SKIPPED, dry_run=True, result={"stop": "DryRunOperation"}
    )
    return Action.objects.get(pk=action.pk)


def test_it_charts_the_resources_utilisation_over_the_look_back(client, seeded, viewer):
    trainer = seeded["trainer"]
    resource = Resource.objects.get(resource_id="i-0gpu")
    end = trainer.last_seen.replace(minute=0, second=0, microsecond=0)
    for hours_ago in (3, 30, 300):
        UtilisationHour.objects.create(
            resource=resource, metric="gpu", variant="", hour=end - timedelta(hours=hours_ago), average=Decimal("11.5")
        )
    client.force_login(viewer)
    html = client.get(URL, {"recommendation": trainer.pk}, **HTMX_DETAIL).content.decode()
    assert 'id="recommendation-utilisation-chart"' in html
    assert "recommendation-utilisation-missing" not in html
    assert (end - timedelta(days=14)).strftime("%Y-%m-%d %H:%M") in html

    endpoint_html = client.get(URL, {"recommendation": seeded["endpoint"].pk}, **HTMX_DETAIL).content.decode()
    assert 'id="recommendation-utilisation-missing"' in endpoint_html
    assert "inventory: no utilisation is stored" in endpoint_html


def test_it_shows_realised_savings_beside_the_estimate(client, seeded, val):
    action = recommendation_approve(recommendation_id=seeded["trainer"].pk, user=val)
    client.force_login(val)
    html = client.get(URL, {"recommendation": seeded["trainer"].pk}, **HTMX_DETAIL).content.decode()
    assert "measured after the change is done" in html
    Action.objects.filter(pk=action.pk).update(
        state=Action.State.DONE,
        realised_monthly_savings=Decimal("1100.25"),
        realised_measured_at=timezone.now(),
    )
    html = client.get(URL, {"recommendation": seeded["trainer"].pk}, **HTMX_DETAIL).content.decode()
    realised = html[html.index('id="action-realised"') :]
    assert "$1,100.25" in realised[:400]
    assert "$1,234.57" in html[html.index('id="action-savings"') :][:600]


def test_a_dry_run_rehearsal_is_planned_again_once_the_account_leaves_dry_run(client, seeded, val):
    action = rehearsed(seeded["trainer"], val)
    client.force_login(val)
    html = client.get(URL, {"recommendation": seeded["trainer"].pk}, **HTMX_DETAIL).content.decode()
    assert 'id="action-replan"' not in html, "the account is still in dry run"
    with pytest.raises(RecommendationInputError, match="still in dry run"):
        action_replan(action_id=action.pk, user=val)

    action.account.dry_run = False
    action.account.save()
    html = client.get(URL, {"recommendation": seeded["trainer"].pk}, **HTMX_DETAIL).content.decode()
    assert 'id="action-replan"' in html
    response = client.post(URL, {"command": "replan", "action": action.pk}, follow=True)
    assert any("planned again" in message for message in messages_of(response))
    action.refresh_from_db()
    assert (action.state, action.dry_run, action.result) == (
        "planned",
        False,
        {"dry_run_rehearsal": {"stop": "DryRunOperation"}},
    )
    last = ActionTransition.objects.filter(action=action).last()
    assert (last.from_state, last.to_state, last.actor) == ("skipped", "planned", "val")
    with pytest.raises(RecommendationInputError, match="is planned"):
        action_replan(action_id=action.pk, user=val)


def test_only_the_teams_approvers_may_re_plan(client, seeded, val, viewer):
    action = rehearsed(seeded["trainer"], val)
    action.account.dry_run = False
    action.account.save()
    speech_approver = TeamMembershipFactory(team=seeded["endpoint"].team, user=UserFactory(username="sam")).user
    for user in (viewer, speech_approver):
        with pytest.raises(RecommendationForbidden):
            action_replan(action_id=action.pk, user=user)
        client.force_login(user)
        assert client.post(URL, {"command": "replan", "action": action.pk}).status_code == 403
    action.refresh_from_db()
    assert action.state == "skipped"


def test_a_teams_approver_sets_its_window_and_only_its_own(client, seeded, val):
    vision, speech = seeded["trainer"].team, seeded["endpoint"].team
    client.force_login(val)
    rows = {row[0]: row for row in table_rows(client.get(URL).content.decode(), "maintenance-windows-table")}
    assert set(rows) == {"Vision", "Speech"}
    html = client.get(URL).content.decode()
    assert f'id="window-{vision.pk}"' in html and f'id="window-{speech.pk}"' not in html

    response = client.post(URL, {"command": "window", "team": vision.pk, "window": " Sun  02:00-04:00 Europe/Berlin"})
    assert response.status_code == 302
    assert TeamSettings.objects.get(team=vision).maintenance_window == "Sun 02:00-04:00 Europe/Berlin"

    response = client.post(
        URL, {"command": "window", "team": vision.pk, "window": "Sun 25:00-04:00 Mars/Olympus"}, follow=True
    )
    assert any("Nothing changed for Vision" in message for message in messages_of(response))
    assert TeamSettings.objects.get(team=vision).maintenance_window == "Sun 02:00-04:00 Europe/Berlin"

    response = client.post(URL, {"command": "window", "team": speech.pk, "window": "Sun 02:00-04:00 UTC"}, follow=True)
    assert any("Only an approver of the team" in message for message in messages_of(response))
    assert not TeamSettings.objects.filter(team=speech).exists()

    client.post(URL, {"command": "window", "team": vision.pk, "window": ""})
    assert TeamSettings.objects.get(team=vision).maintenance_window == ""


def test_a_viewer_sees_the_windows_without_forms(client, seeded, viewer):
    TeamSettings.objects.create(team=seeded["trainer"].team, maintenance_window="Sun 02:00-04:00 Europe/Berlin")
    client.force_login(viewer)
    html = client.get(URL).content.decode()
    rows = {row[0]: row[1] for row in table_rows(html, "maintenance-windows-table")}
    assert rows == {"Speech": "none: approved actions wait", "Vision": "Sun 02:00-04:00 Europe/Berlin"}
    assert "window-form" not in html
