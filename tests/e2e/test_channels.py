"""The channel editor on the Alerts page, in a browser: a team's approver adds its Slack-compatible webhook,
sends a test message that a local receiver gets once; a viewer sees the channels with no edit controls."""

from __future__ import annotations

import pytest

from finops.models import Channel, Notification
from tests.factories import TeamFactory, TeamMembershipFactory, UserFactory
from tests.webhook_receiver import webhook_receiver

PASSWORD = "correct horse battery staple"


@pytest.fixture
def receiver():
    with webhook_receiver() as receiver:
        yield receiver


def sign_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_lets_a_teams_approver_add_a_webhook_and_send_it_one_test_message(page, live_server, receiver, tmp_path):
    vision = TeamFactory(name="Vision", slug="vision")
    TeamFactory(name="Speech", slug="speech")
    TeamMembershipFactory(team=vision, user=UserFactory(username="val"))
    UserFactory(username="vera", roles=["viewer"])
    sign_in(page, live_server, "val")

    page.goto(f"{live_server.url}/alerts/")
    assert "No channel yet." in page.locator("#channels-table").inner_text()
    page.click("#channel-editor summary")
    assert page.locator("#id_team option").all_inner_texts() == ["Vision"]
    page.fill("#id_name", "vision-slack")
    page.fill("#id_webhook_url", receiver.url)
    page.check("#channel-form input[name=events][value='alert.opened']")
    page.check("#channel-form input[name=events][value='action.announced']")
    page.screenshot(path=str(tmp_path / "channels-editor.png"), full_page=True)
    page.click("#channel-save")
    page.wait_for_selector("ul.messages li:has-text('Added channel vision-slack.')")

    channel = Channel.objects.get()
    row = page.locator(f"#channel-{channel.pk}")
    assert "vision-slack" in row.inner_text() and "Vision" in row.inner_text()
    assert "alert.opened, action.announced" in row.inner_text()
    assert receiver.received == [], "adding a channel sends nothing"
    row.locator("button:has-text('Send test message')").click()
    page.wait_for_selector("ul.messages li:has-text('Sent a test message to vision-slack by webhook.')")

    assert len(receiver.received) == 1
    body = receiver.received[0]
    assert body["text"] == (
        "Test message for vision-slack: This channel is set up: Costplane will send here for the Vision team."
    )
    assert body["blocks"][0] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Test message for vision-slack*\n"
            "This channel is set up: Costplane will send here for the Vision team.",
        },
    }
    sent = page.locator("#notifications-table tbody tr").first
    assert "channel.test" in sent.inner_text() and sent.get_attribute("data-status") == "sent"
    assert Notification.objects.get().status == "sent"
    page.screenshot(path=str(tmp_path / "channels-approver.png"), full_page=True)

    sign_in(page, live_server, "vera")
    page.goto(f"{live_server.url}/alerts/")
    assert "vision-slack" in page.locator("#channels-table").inner_text()
    assert page.locator("#channel-editor").count() == 0
    assert page.locator("#channels-table button, #channels-table a.channel-edit").count() == 0
    assert len(receiver.received) == 1
