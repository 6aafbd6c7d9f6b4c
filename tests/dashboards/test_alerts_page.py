from __future__ import annotations

from datetime import UTC, datetime

import pytest

from finops.models import Alert, Channel, Notification
from tests.conftest import PASSWORD
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def alert(kind: str, key: str, *, severity: str = "warning", state: str = "open", team=None) -> Alert:
    return Alert.objects.create(
        kind=kind,
        key=key,
        severity=severity,
        state=state,
        team=team,
        title=f"{kind} {key}",
        opened_at=NOW,
        last_seen_at=NOW,
        resolved_at=NOW if state == "resolved" else None,
    )


@pytest.mark.django_db
def test_it_shows_open_alerts_first_by_severity_then_resolved_ones_and_channels(client, viewer):
    alert("quota_headroom", "q1")
    alert("stale_ingestion", "a1", severity="critical")
    alert("cost_anomaly", "x", state="resolved")
    Channel.objects.create(name="finops-mail", email="finops@example.com")
    client.login(username=viewer.username, password=PASSWORD)

    page = client.get("/alerts/")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("stale_ingestion a1") < html.index("quota_headroom q1") < html.index("cost_anomaly x")
    assert "finops@example.com" in html
    assert "Acknowledge</button>" not in html, "a viewer cannot acknowledge"


@pytest.mark.django_db
def test_it_lets_the_teams_approver_acknowledge_its_alert_but_not_anothers(client):
    vision, speech = TeamFactory(slug="vision"), TeamFactory(slug="speech")
    approver = UserFactory(username="val")
    TeamMembershipFactory(team=vision, user=approver)
    own, other = alert("action_failed", "action:1", team=vision), alert("action_failed", "action:2", team=speech)
    client.login(username="val", password=PASSWORD)

    assert client.post("/alerts/", {"acknowledge": other.pk}).status_code == 403
    response = client.post("/alerts/", {"acknowledge": own.pk}, follow=True)

    own.refresh_from_db()
    other.refresh_from_db()
    assert own.acknowledged_by == approver and other.acknowledged_at is None
    assert "Acknowledged by val" in response.content.decode()


CHANNEL_POST = {
    "command": "channel_save",
    "name": "vision-slack",
    "webhook_url": "https://hooks.example.com/services/T0/B0/x",
    "email": "",
    "events": ["alert.opened", "action.announced"],
    "min_amount": "100",
    "enabled": "on",
}


@pytest.mark.django_db
def test_it_lets_a_teams_approver_add_edit_and_delete_its_teams_channel_on_the_page(client):
    vision, speech = TeamFactory(name="Vision", slug="vision"), TeamFactory(name="Speech", slug="speech")
    TeamMembershipFactory(team=vision, user=UserFactory(username="val"))
    client.login(username="val", password=PASSWORD)

    editor = client.get("/alerts/?channel=new").content.decode()
    assert 'id="channel-form"' in editor and "All teams (global)</option>" not in editor
    assert f'<option value="{speech.pk}"' not in editor, "only the approver's own teams are offered"

    added = client.post("/alerts/", {**CHANNEL_POST, "team": vision.pk}, follow=True)
    channel = Channel.objects.get()
    assert (channel.team, channel.events, channel.min_amount, channel.enabled) == (
        vision,
        ["alert.opened", "action.announced"],
        100,
        True,
    )
    assert "Added channel vision-slack." in added.content.decode()

    edit_form = client.get(f"/alerts/?channel={channel.pk}").content.decode()
    assert (
        "Edit channel vision-slack" in edit_form and 'value="https://hooks.example.com/services/T0/B0/x"' in edit_form
    )
    saved = client.post(
        "/alerts/",
        {**CHANNEL_POST, "channel": channel.pk, "team": vision.pk, "email": "vision@example.com", "enabled": ""},
        follow=True,
    )
    channel.refresh_from_db()
    assert (channel.email, channel.enabled) == ("vision@example.com", False)
    assert "Saved channel vision-slack (disabled: it sends nothing)." in saved.content.decode()

    deleted = client.post("/alerts/", {"command": "channel_delete", "channel": channel.pk}, follow=True)
    assert not Channel.objects.exists()
    assert "Deleted channel vision-slack." in deleted.content.decode()


@pytest.mark.django_db
def test_it_shows_the_reasons_next_to_the_fields_when_a_channel_is_not_valid(client, operator):
    client.login(username=operator.username, password=PASSWORD)

    response = client.post(
        "/alerts/", {**CHANNEL_POST, "webhook_url": "ftp://hooks.example.com/x", "team": "", "min_amount": ""}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="errors-webhook_url"' in html
    assert "The webhook URL must start with http:// or https:// and name a host." in html
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_it_lets_an_operator_add_a_global_channel_on_the_page(client, operator):
    client.login(username=operator.username, password=PASSWORD)
    response = client.post("/alerts/", {**CHANNEL_POST, "team": "", "events": []})
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert (channel.team, channel.events) == (None, [])


@pytest.mark.django_db
def test_it_refuses_channel_edits_to_others_and_changes_nothing(client, viewer):
    vision, speech = TeamFactory(slug="vision"), TeamFactory(slug="speech")
    TeamMembershipFactory(team=vision, user=UserFactory(username="val"))
    theirs = Channel.objects.create(team=speech, name="speech-oncall", email="speech@example.com")
    global_channel = Channel.objects.create(team=None, name="finops", email="finops@example.com")

    client.login(username=viewer.username, password=PASSWORD)
    page = client.get("/alerts/").content.decode()
    assert 'id="channel-form"' not in page and 'class="channel-test"' not in page and 'class="channel-edit"' not in page
    viewer_posts = [
        {**CHANNEL_POST, "team": vision.pk},
        {**CHANNEL_POST, "channel": theirs.pk, "team": speech.pk},
        {"command": "channel_delete", "channel": theirs.pk},
        {"command": "channel_test", "channel": theirs.pk},
    ]
    assert [client.post("/alerts/", data).status_code for data in viewer_posts] == [403] * 4

    client.login(username="val", password=PASSWORD)
    page = client.get("/alerts/").content.decode()
    assert 'id="channel-form"' in page, "val approves for vision: may add its channels"
    assert 'class="channel-test"' not in page and 'class="channel-edit"' not in page, (
        "but edits no channel of another team"
    )
    assert client.get(f"/alerts/?channel={theirs.pk}").status_code == 403
    approver_posts = [
        {**CHANNEL_POST, "team": speech.pk},
        {**CHANNEL_POST, "channel": theirs.pk, "team": speech.pk},
        {**CHANNEL_POST, "channel": theirs.pk, "team": vision.pk},
        {**CHANNEL_POST, "channel": global_channel.pk, "team": vision.pk},
        {"command": "channel_delete", "channel": global_channel.pk},
        {"command": "channel_test", "channel": theirs.pk},
    ]
    assert [client.post("/alerts/", data).status_code for data in approver_posts] == [403] * 6

    assert set(Channel.objects.values_list("name", "team__slug", "email", "enabled")) == {
        ("speech-oncall", "speech", "speech@example.com", True),
        ("finops", None, "finops@example.com", True),
    }
    assert not Notification.objects.exists()
