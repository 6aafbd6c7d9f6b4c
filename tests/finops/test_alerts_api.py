from __future__ import annotations

from datetime import UTC, datetime

import pytest

from finops.models import Alert, Channel, Notification
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory
from tests.webhook_receiver import webhook_receiver

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def alert(kind: str, key: str, *, state: str = "open", team=None) -> Alert:
    return Alert.objects.create(
        kind=kind,
        key=key,
        state=state,
        team=team,
        title=f"{kind} {key}",
        opened_at=NOW,
        last_seen_at=NOW,
        resolved_at=NOW if state == "resolved" else None,
    )


@pytest.mark.django_db
def test_it_lists_alerts_newest_first_filtered_by_state_kind_and_team(viewer_api):
    vision = TeamFactory(slug="vision")
    alert("quota_headroom", "q1")
    alert("stale_ingestion", "a1", state="resolved")
    alert("action_failed", "action:3", team=vision)

    everything = viewer_api.get("/api/v1/alerts/").json()
    assert everything["count"] == 3
    assert [item["key"] for item in everything["results"]] == ["action:3", "a1", "q1"]
    assert [item["key"] for item in viewer_api.get("/api/v1/alerts/", {"state": "open"}).json()["results"]] == [
        "action:3",
        "q1",
    ]
    assert viewer_api.get("/api/v1/alerts/", {"kind": "stale_ingestion"}).json()["count"] == 1
    only_vision = viewer_api.get("/api/v1/alerts/", {"team": "vision"}).json()["results"]
    assert [(item["key"], item["team"]) for item in only_vision] == [("action:3", "vision")]


@pytest.mark.django_db
def test_it_refuses_alerts_to_someone_without_a_role(api_client, nobody):
    api_client.force_authenticate(nobody)
    assert api_client.get("/api/v1/alerts/").status_code == 403


@pytest.mark.django_db
def test_it_lets_operators_edit_channels_and_everyone_read_them(api_client, operator, viewer):
    team = TeamFactory(slug="vision")
    api_client.force_authenticate(viewer)
    refused = api_client.post("/api/v1/channels/", {"name": "x", "email": "x@example.com"}, format="json")
    assert refused.status_code == 403

    api_client.force_authenticate(operator)
    created = api_client.post(
        "/api/v1/channels/",
        {
            "team": team.pk,
            "name": "vision-oncall",
            "webhook_url": "https://hooks.example.com/services/T0/B0/x",
            "events": ["alert.opened", "alert.resolved"],
            "min_amount": "250.00",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    channel = Channel.objects.get()
    assert (channel.team, channel.events, channel.min_amount) == (team, ["alert.opened", "alert.resolved"], 250)
    changed = api_client.patch(f"/api/v1/channels/{channel.pk}/", {"enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False

    api_client.force_authenticate(viewer)
    listed = api_client.get("/api/v1/channels/").json()
    assert [item["name"] for item in listed["results"]] == ["vision-oncall"]
    api_client.force_authenticate(operator)
    assert api_client.delete(f"/api/v1/channels/{channel.pk}/").status_code == 204
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_it_lets_a_teams_approver_edit_only_its_teams_channels_through_the_api(api_client):
    vision, speech = TeamFactory(slug="vision"), TeamFactory(slug="speech")
    approver = UserFactory(username="val")
    TeamMembershipFactory(team=vision, user=approver)
    theirs = Channel.objects.create(team=speech, name="speech-oncall", email="speech@example.com")
    global_channel = Channel.objects.create(team=None, name="finops", email="finops@example.com")
    api_client.force_authenticate(approver)

    created = api_client.post(
        "/api/v1/channels/",
        {"team": vision.pk, "name": "vision-slack", "webhook_url": "https://hooks.example.com/services/T0/B0/x"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    own = Channel.objects.get(name="vision-slack")
    assert api_client.patch(f"/api/v1/channels/{own.pk}/", {"enabled": False}, format="json").json()["enabled"] is False
    refusals = [
        api_client.post("/api/v1/channels/", {"team": speech.pk, "name": "x", "email": "x@example.com"}, format="json"),
        api_client.post("/api/v1/channels/", {"name": "global", "email": "x@example.com"}, format="json"),
        api_client.patch(f"/api/v1/channels/{theirs.pk}/", {"enabled": False}, format="json"),
        api_client.patch(f"/api/v1/channels/{own.pk}/", {"team": speech.pk}, format="json"),
        api_client.delete(f"/api/v1/channels/{global_channel.pk}/"),
    ]
    assert [response.status_code for response in refusals] == [403] * 5
    assert refusals[2].json() == {
        "errors": {"detail": ["Only operators, admins and the team's approvers edit a team's channels."]}
    }
    bad = api_client.patch(
        f"/api/v1/channels/{own.pk}/", {"webhook_url": "ftp://x.example.com", "events": ["alert.open"]}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"webhook_url", "events"}
    assert set(Channel.objects.values_list("name", "team__slug", "enabled")) == {
        ("vision-slack", "vision", False),
        ("speech-oncall", "speech", True),
        ("finops", None, True),
    }
    assert api_client.delete(f"/api/v1/channels/{own.pk}/").status_code == 204


@pytest.mark.django_db
def test_it_sends_a_test_message_to_one_channel_through_the_api(api_client, viewer):
    vision = TeamFactory(slug="vision", name="Vision")
    approver = UserFactory(username="val")
    TeamMembershipFactory(team=vision, user=approver)
    with webhook_receiver() as receiver:
        channel = Channel.objects.create(team=vision, name="vision-slack", webhook_url=receiver.url)
        api_client.force_authenticate(viewer)
        refused = api_client.post(f"/api/v1/channels/{channel.pk}/test")
        api_client.force_authenticate(approver)
        response = api_client.post(f"/api/v1/channels/{channel.pk}/test")

    assert refused.status_code == 403
    assert response.status_code == 200
    assert [(item["event"], item["medium"], item["status"]) for item in response.json()] == [
        ("channel.test", "webhook", "sent")
    ]
    assert receiver.texts() == [
        "Test message for vision-slack: This channel is set up: Costplane will send here for the Vision team."
    ]


@pytest.mark.django_db
def test_it_refuses_a_channel_with_nowhere_to_send(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post("/api/v1/channels/", {"name": "nowhere"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"webhook_url": ["Give a webhook URL, an email address or both."]}}


@pytest.mark.django_db
def test_it_lists_notifications_with_their_outcome(viewer_api):
    channel = Channel.objects.create(name="ops", email="ops@example.com")
    Notification.objects.create(
        channel=channel,
        event="alert.opened",
        subject="alert:1",
        medium="email",
        status="failed",
        attempts=2,
        error="SMTPServerDisconnected",
        created_at=NOW,
    )
    body = viewer_api.get("/api/v1/notifications/", {"status": "failed"}).json()
    assert body["count"] == 1
    item = body["results"][0]
    assert (item["subject"], item["status"], item["attempts"], item["error"]) == (
        "alert:1",
        "failed",
        2,
        "SMTPServerDisconnected",
    )
