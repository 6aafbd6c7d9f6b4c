"""POST /api/v1/actions/{id}/replan: an approved change rehearsed in dry run runs for real once the account has
left dry run; only the team's approvers (and admins) may ask, and nothing changes for anyone else."""

from __future__ import annotations

import pytest

from capacity.models import Action
from capacity.services.approvals import recommendation_approve
from tests.dashboards.test_recommendations_page import recommendations_seed
from tests.factories import TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rehearsal(db):
    seeded = recommendations_seed()
    approver = TeamMembershipFactory(team=seeded["trainer"].team, user=UserFactory(username="val")).user
    action = recommendation_approve(recommendation_id=seeded["trainer"].pk, user=approver)
    Action.objects.filter(pk=action.pk).update(state="skipped", dry_run=True, result={"would": "stop"})
    return {"action": Action.objects.get(pk=action.pk), "approver": approver, "other_team": seeded["endpoint"].team}


def replan(api_client, user, action):
    api_client.force_authenticate(user)
    return api_client.post(f"/api/v1/actions/{action.pk}/replan")


def test_it_replans_for_the_teams_approver_once_the_account_left_dry_run(api_client, rehearsal):
    action = rehearsal["action"]
    response = replan(api_client, rehearsal["approver"], action)
    assert response.status_code == 400
    assert "still in dry run" in response.json()["errors"]["action"][0]

    action.account.dry_run = False
    action.account.save()
    response = replan(api_client, rehearsal["approver"], action)
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["dry_run"], body["result"]) == (
        "planned",
        False,
        {"dry_run_rehearsal": {"would": "stop"}},
    )
    assert body["transitions"][-1]["to_state"] == "planned"
    assert "realised_monthly_savings" in body and body["realised_monthly_savings"] is None


def test_a_viewer_and_another_teams_approver_get_403_and_nothing_changes(api_client, rehearsal, viewer):
    action = rehearsal["action"]
    action.account.dry_run = False
    action.account.save()
    other = TeamMembershipFactory(team=rehearsal["other_team"], user=UserFactory(username="sam")).user
    for user in (viewer, other):
        assert replan(api_client, user, action).status_code == 403
    action.refresh_from_db()
    assert (action.state, action.dry_run) == ("skipped", True)
    assert replan(api_client, rehearsal["approver"], Action(pk=999999)).status_code == 404
