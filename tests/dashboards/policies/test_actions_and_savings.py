"""The Policies page (/schedules/): the upcoming actions and their snooze (the owning team's approvers), the history
and the savings to date."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from capacity.models import Action, ActionTransition
from capacity.services.policies import policy_create, policy_evaluate
from tests.dashboards.policies.support import (
    ALWAYS_OFF,
    POLICIES_CLOCK,
    URL,
    approver_client,
    kpi,
    seed_actions,
    table_rows,
)
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.clock(POLICIES_CLOCK)]


def test_it_shows_announced_actions_on_the_timeline_and_in_the_history(viewer_client, seeded):
    announced = seed_actions(seeded)
    assert len(announced) == 2

    html = viewer_client.get(URL).content.decode()

    assert kpi(html, "kpi-upcoming") == "2"
    assert 'id="upcoming-actions-chart"' in html and "plotly" in html
    rows = table_rows(html, "upcoming-actions-table")
    assert len(rows) == 2
    for row, action in zip(rows, announced, strict=True):
        assert row[0].startswith(action.run_after.strftime("%Y-%m-%d %H:%M"))
        assert row[1].startswith(action.resource.name)
        assert row[2] == "Stop dry run"
        assert row[3:6] == ["Dev GPUs by tag", action.team.name, "Announced"]
        assert row[6] == "$1.01"
    [policy_row] = table_rows(html, "policies-table")
    assert re.fullmatch(r"Dev GPUs by tag evaluated \S+ \S+ UTC · 1 error", policy_row[0]), "speech-broken's tag"
    assert policy_row[6] == "4 1 over the cap, not counted", "two announced, two skipped; the cap skip apart"
    history = table_rows(html, "policy-history-table")
    changes = [(row[1], row[3]) for row in history]
    assert changes.count(("policy", "created → announced")) == 2
    assert changes.count(("policy", "created → skipped")) == 3, "keep-alive, prod and the cap are recorded"
    assert any("Cap reached (2 per run): left for the next run." in row[4] for row in history)


def test_a_resource_the_cap_held_back_is_acted_on_by_the_next_run_and_not_counted_as_an_action(viewer_client, seeded):
    policy = seeded["policy"]
    seed_actions(seeded)
    [capped] = Action.objects.filter(policy=policy, capped=True)
    assert capped.state == Action.State.SKIPPED

    preview = table_rows(viewer_client.get(URL, {"preview": policy.pk}).content.decode(), "policy-preview-table")
    [row] = [row for row in preview if row[0].startswith(capped.resource.name)]
    assert row[1:3] == ["would stop", f"Off-hours ({ALWAYS_OFF})"], "not 'Already handled for this boundary'"

    policy_evaluate(policy_id=policy.pk)

    acted = Action.objects.get(policy=policy, resource=capped.resource, capped=False)
    assert (acted.state, acted.transition_at) == (Action.State.ANNOUNCED, capped.transition_at)
    assert ActionTransition.objects.filter(action=capped).count() == 1, "the cap record and its audit row stay"
    html = viewer_client.get(URL).content.decode()
    [policy_row] = table_rows(html, "policies-table")
    assert policy_row[6] == "5 1 over the cap, not counted"
    assert kpi(html, "kpi-upcoming") == "3"


def test_it_lets_the_teams_approver_snooze_an_announced_action(client, seeded):
    announced = seed_actions(seeded)
    vision_action = next(action for action in announced if action.team == seeded["vision"])
    speech_action = next(action for action in announced if action.team == seeded["speech"])
    client = approver_client(client, seeded["vision"])

    html = client.get(URL).content.decode()
    assert f'id="snooze-{vision_action.pk}"' in html
    assert f'id="snooze-{speech_action.pk}"' not in html, "Vision's approver snoozes Vision's actions only"

    until = (vision_action.run_after + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        URL, {"command": "snooze", "action": vision_action.pk, "until": until, "reason": "demo tonight"}, follow=True
    )

    vision_action.refresh_from_db()
    page = response.content.decode()
    assert vision_action.run_after.strftime("%Y-%m-%dT%H:%M") == until
    # The schedule turns on again only days later, so the snooze keeps it announced, due later.
    assert vision_action.state == Action.State.ANNOUNCED
    assert f"Snoozed the stop of {vision_action.resource.name} until {until.replace('T', ' ')} UTC." in page
    last = ActionTransition.objects.filter(action=vision_action).latest("at", "id")
    assert (last.actor, last.from_state, last.to_state) == ("val", "announced", "announced")
    assert "demo tonight" in last.reason
    history = table_rows(page, "policy-history-table")
    assert history[0][1] == "val" and "demo tonight" in history[0][4]


def test_it_skips_an_action_snoozed_past_the_end_of_its_off_period(client, seeded):
    vision_action = next(action for action in seed_actions(seeded) if action.team == seeded["vision"])
    client = approver_client(client, seeded["vision"])
    until = (timezone.now() + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(URL, {"command": "snooze", "action": vision_action.pk, "until": until}, follow=True)

    vision_action.refresh_from_db()
    assert vision_action.state == Action.State.SKIPPED
    html = response.content.decode()
    assert "Snoozed the stop of vision-dev-gpu: the off period ends before then, so it is skipped." in html
    assert f'data-action="{vision_action.pk}"' not in html, "no longer upcoming"
    assert kpi(html, "kpi-upcoming") == "1"


def test_it_refuses_a_snooze_from_anyone_but_the_teams_approvers(client, viewer, seeded):
    announced = seed_actions(seeded)
    vision_action = next(action for action in announced if action.team == seeded["vision"])
    until = (vision_action.run_after + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    snooze = {"command": "snooze", "action": vision_action.pk, "until": until}

    client.force_login(viewer)
    html = client.get(URL).content.decode()
    assert "snooze-form" not in html
    assert client.post(URL, snooze).status_code == 403

    approver_client(client, seeded["speech"], username="sam")
    assert client.post(URL, snooze).status_code == 403
    operator = UserFactory(username="ozzy", roles=["operator"])
    client.force_login(operator)
    assert client.post(URL, snooze).status_code == 403, "operators edit policies; they do not approve"

    vision_action.refresh_from_db()
    assert vision_action.run_after != until and vision_action.transitions.count() == 1


def test_it_shows_savings_to_date_and_says_when_nothing_is_measured_yet(viewer_client, seeded):
    now = timezone.now()
    done = Action.objects.create(
        policy=seeded["policy"], kind=Action.Kind.STOP, state=Action.State.DONE, account=seeded["account"],
        region="us-east-1", resource_type="ec2_instance", resource_arn="i-0aaa", resource=seeded["notebook"],
        team=seeded["vision"], dry_run=False, hourly_saving=Decimal("1.006"), transition_at=now - timedelta(hours=10),
        run_after=now - timedelta(hours=10), executed_at=now - timedelta(hours=10), result={"changed": True},
        created_at=now - timedelta(hours=10),
    )  # fmt: skip
    ActionTransition.objects.create(action=done, from_state="running", to_state="done", actor="policy",
                                    reason="Stopped", at=now - timedelta(hours=10))  # fmt: skip

    html = viewer_client.get(URL).content.decode()

    [row] = table_rows(html, "policy-savings-table")
    assert row[0] == "Dev GPUs by tag"
    assert row[1] == "1"
    assert row[2] == "10.0", "off for ten hours so far"
    assert row[3] == "$10.06", "ten hours at $1.006 an hour"
    assert row[4] == "not measured yet"
    assert kpi(html, "kpi-measured") == "not measured yet"
    assert kpi(html, "kpi-estimated") == "$10.06"
    [listed] = table_rows(html, "policies-table")
    assert listed[6:9] == ["1", "$10.06", "not measured yet"]


def test_it_shows_the_measured_monthly_saving_of_an_idle_policy(viewer_client, seeded):
    now = timezone.now()
    idle = policy_create(user=seeded["policy"].created_by, data={
        "name": "All idle GPUs", "action": "stop_start", "trigger": "idle", "resource_kinds": ["ec2_instance"],
        "idle_hours": 6, "idle_gpu_percent": Decimal("5"),
    })  # fmt: skip
    Action.objects.create(
        policy=idle, kind=Action.Kind.STOP, state=Action.State.DONE, account=seeded["account"], region="us-east-1",
        resource_type="ec2_instance", resource_arn="i-0bbb", resource=seeded["trainer"], team=seeded["speech"],
        dry_run=False, hourly_saving=None, transition_at=now - timedelta(days=9), executed_at=now - timedelta(days=9),
        result={"changed": True}, realised_monthly_savings=Decimal("712.5"), realised_measured_at=now,
        created_at=now - timedelta(days=9),
    )  # fmt: skip

    html = viewer_client.get(URL).content.decode()

    savings = table_rows(html, "policy-savings-table")
    assert [row[0] for row in savings] == ["All idle GPUs", "Dev GPUs by tag"], "by name"
    rows = {row[0]: row for row in savings}
    assert rows["All idle GPUs"][1:] == ["1", "216.0", "$0.00 + 1 action without a price", "$712.50 a month"]
    assert rows["Dev GPUs by tag"][4] == "not measured yet"
    assert kpi(html, "kpi-measured") == "$712.50"
