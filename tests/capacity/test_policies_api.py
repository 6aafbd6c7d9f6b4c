"""The policies API: operators create and edit, everyone with a role reads, the preview, and snoozing an
announced policy action (the owning team's approvers or admins; others get 403 and nothing changes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.models import Action, Policy, Resource
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db

BERLIN = "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"
VALID = {"name": "dev nights", "action": "stop_start", "schedule": BERLIN, "tag_filters": {"environment": ["dev"]}}


@pytest.fixture
def account(db):
    return CloudAccountFactory(account_id="481516234202", name="ml-research")


def test_it_lets_an_operator_create_a_policy_that_starts_in_dry_run(api_client, operator, account):
    api_client.force_authenticate(operator)

    response = api_client.post("/api/v1/policies/", VALID | {"accounts": ["481516234202"]}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["dry_run"] is True and body["enabled"] is True
    assert body["accounts"] == ["481516234202"] and body["created_by"] == "otto"
    assert Policy.objects.get().schedule == BERLIN


def test_it_refuses_writes_to_a_viewer_and_changes_nothing(api_client, viewer, operator):
    api_client.force_authenticate(viewer)
    assert api_client.post("/api/v1/policies/", VALID, format="json").status_code == 403
    assert not Policy.objects.exists()

    api_client.force_authenticate(operator)
    policy_id = api_client.post("/api/v1/policies/", VALID, format="json").json()["id"]
    api_client.force_authenticate(viewer)
    assert api_client.patch(f"/api/v1/policies/{policy_id}/", {"dry_run": False}, format="json").status_code == 403
    assert api_client.delete(f"/api/v1/policies/{policy_id}/").status_code == 403
    assert Policy.objects.get().dry_run is True
    listed = api_client.get("/api/v1/policies/")
    assert listed.status_code == 200 and [item["name"] for item in listed.json()["results"]] == ["dev nights"]


def test_it_lets_an_operator_edit_and_answers_400_naming_the_field(api_client, operator):
    api_client.force_authenticate(operator)
    policy_id = api_client.post("/api/v1/policies/", VALID, format="json").json()["id"]

    bad = api_client.patch(
        f"/api/v1/policies/{policy_id}/", {"schedule": "off=(M-F,19);tz=Nowhere/Land"}, format="json"
    )
    assert bad.status_code == 400
    assert "'Nowhere/Land'" in bad.json()["errors"]["schedule"][0]
    wrong_kind = api_client.patch(
        f"/api/v1/policies/{policy_id}/", {"resource_kinds": ["eks_node_group"]}, format="json"
    )
    assert wrong_kind.status_code == 400 and "resource_kinds" in wrong_kind.json()["errors"]
    assert Policy.objects.get().schedule == BERLIN

    good = api_client.patch(f"/api/v1/policies/{policy_id}/", {"dry_run": False, "grace_minutes": 45}, format="json")
    assert good.status_code == 200
    assert (good.json()["dry_run"], good.json()["grace_minutes"]) == (False, 45)
    assert Policy.objects.get().updated_by.username == "otto"
    assert api_client.delete(f"/api/v1/policies/{policy_id}/").status_code == 204


def test_it_previews_a_policy_without_acting(api_client, viewer, operator, account):
    now = timezone.now()
    Resource.objects.create(
        account=account, region="us-east-1", kind="ec2_instance", resource_id="i-0123", name="dev-box",
        state="running", tags={"environment": "dev", "costplane:schedule": "off=(*,0);on=(*,0:01)"},
        first_seen=now, last_seen=now,
    )  # fmt: skip
    api_client.force_authenticate(operator)
    policy_id = api_client.post("/api/v1/policies/", VALID | {"schedule": ""}, format="json").json()["id"]
    api_client.force_authenticate(viewer)

    response = api_client.get(f"/api/v1/policies/{policy_id}/preview")

    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert item["resource"] == "dev-box" and item["would"] in ("stop", "none")
    assert item["next_transition"] is not None
    assert not Action.objects.exists()


@pytest.fixture
def announced(db, account):
    vision = TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    now = timezone.now()
    resource = Resource.objects.create(
        account=account, region="us-east-1", kind="ec2_instance", resource_id="i-0456", name="vision-box",
        state="running", tags={"team": "vision"}, team=vision, first_seen=now, last_seen=now,
    )  # fmt: skip
    policy = Policy.objects.create(name="p", action="stop_start", schedule="off=(*,0);on=(*,23:59)")
    return Action.objects.create(
        policy=policy, kind="stop", state="announced", account=account, region="us-east-1",
        resource_type="ec2_instance", resource_arn="i-0456", resource=resource, team=vision,
        run_after=now + timedelta(minutes=30), transition_at=now, created_at=now, reason="Off-hours",
    )  # fmt: skip


def test_it_lets_the_owning_teams_approver_snooze_an_announced_action(api_client, announced):
    approver = TeamMembershipFactory(team=announced.team).user
    api_client.force_authenticate(approver)
    until = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)

    response = api_client.post(
        f"/api/v1/actions/{announced.pk}/snooze", {"until": until.isoformat(), "reason": "demo"}, format="json"
    )

    assert response.status_code == 200, response.json()
    announced.refresh_from_db()
    assert announced.run_after == until
    assert announced.reason.startswith(f"Snoozed by {approver.username}")
    assert response.json()["run_after"] is not None


def test_it_refuses_a_snooze_to_a_viewer_and_another_teams_approver(api_client, viewer, announced):
    other = TeamMembershipFactory(team=TeamFactory(name="Speech", slug="speech", tag_values=["speech"])).user
    run_after = announced.run_after
    until = (timezone.now() + timedelta(hours=2)).isoformat()
    for user in (viewer, other):
        api_client.force_authenticate(user)
        response = api_client.post(f"/api/v1/actions/{announced.pk}/snooze", {"until": until}, format="json")
        assert response.status_code == 403
    announced.refresh_from_db()
    assert (announced.state, announced.run_after, announced.transitions.count()) == ("announced", run_after, 0)


def test_it_lets_an_admin_snooze_and_refuses_a_past_time(api_client, admin_user, announced):
    api_client.force_authenticate(admin_user)
    past = api_client.post(
        f"/api/v1/actions/{announced.pk}/snooze", {"until": (timezone.now() - timedelta(hours=1)).isoformat()},
        format="json",
    )  # fmt: skip
    assert past.status_code == 400 and "until" in past.json()["errors"]
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api_client.post(f"/api/v1/actions/{announced.pk}/snooze", {"until": later}, format="json").status_code == 200
