from __future__ import annotations

import pytest

from finops.roles import user_can_approve_for_team, user_can_view, user_is_operator
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

PAGES = [
    "/",
    "/allocation/",
    "/unit-economics/",
    "/capacity/",
    "/recommendations/",
    "/schedules/",
    "/accounts/",
    "/reconciliation/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_sends_anonymous_users_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_forbids_a_signed_in_user_without_a_role(client, nobody, path):
    client.force_login(nobody)
    response = client.get(path)
    assert response.status_code == 403
    assert b"You have no role in Costplane yet" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_shows_every_page_to_a_viewer(client, viewer, path):
    client.force_login(viewer)
    response = client.get(path)
    assert response.status_code == 200
    assert b"Sign out" in response.content


@pytest.mark.django_db
def test_it_keeps_api_data_from_anonymous_and_roleless_users(api_client, nobody):
    team = TeamFactory(name="Vision")
    anonymous = api_client.get("/api/v1/teams/")
    assert anonymous.status_code in (401, 403)
    assert "Vision" not in anonymous.content.decode()
    api_client.force_authenticate(nobody)
    roleless = api_client.get("/api/v1/teams/")
    assert roleless.status_code == 403
    assert team.name not in roleless.content.decode()


@pytest.mark.django_db
def test_it_lets_only_the_teams_approvers_and_admins_approve(admin_user, operator, viewer):
    vision, speech = TeamFactory(name="Vision"), TeamFactory(name="Speech")
    approver = TeamMembershipFactory(team=vision, user=UserFactory(username="val")).user
    assert user_can_approve_for_team(approver, vision.id)
    assert not user_can_approve_for_team(approver, speech.id)
    assert user_can_approve_for_team(admin_user, speech.id)
    assert not user_can_approve_for_team(operator, vision.id), "an operator is not an approver"
    assert not user_can_approve_for_team(viewer, vision.id)
    assert user_can_view(approver) and not user_is_operator(approver)
    assert user_is_operator(admin_user) and user_is_operator(operator) and not user_is_operator(viewer)
