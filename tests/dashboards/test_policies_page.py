"""The Policies page (/schedules/): the list, the editor (operators), the preview, the upcoming actions and their
snooze (the owning team's approvers), the history and the savings to date."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.models import Action, ActionTransition, Policy, Price, Resource
from capacity.schedules import DAY_LETTERS
from capacity.services.policies import policy_create, policy_evaluate
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("dashboards:schedules")
HTMX_PREVIEW = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "policy-preview"}
# Off from midnight UTC on today's weekday, on again three days later: the schedule is off now, and its next "on"
# is days away, so a snooze of a few hours never reaches it (one of a week does).
_TODAY = timezone.now().astimezone(UTC).weekday()
ALWAYS_OFF = f"off=({DAY_LETTERS[_TODAY]},0);on=({DAY_LETTERS[(_TODAY + 3) % 7]},0)"
SCHEDULE_TAG = "costplane:schedule"


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, each a list of cell texts."""
    table = html[html.index(f'id="{table_id}"') :]
    body = table[table.index("<tbody") : table.index("</tbody>")]
    return [
        [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def kpi(html: str, kpi_id: str) -> str:
    block = html[html.index(f'id="{kpi_id}"') :]
    return text(re.search(r'<div class="value[^"]*"[^>]*>(.*?)</div>', block, re.S).group(1))


def policy_post(**overrides) -> dict:
    """The editor's fields as a browser posts them (unticked checkboxes are absent)."""
    data = {
        "command": "save",
        "name": "Dev GPUs off at night",
        "description": "",
        "enabled": "on",
        "dry_run": "on",
        "action": "stop_start",
        "trigger": "schedule",
        "resource_kinds": ["ec2_instance"],
        "regions": "us-east-1",
        "tag_filters": "team=vision,speech",
        "schedule": "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin",
        "schedule_tag_key": SCHEDULE_TAG,
        "idle_hours": "",
        "idle_gpu_percent": "",
        "idle_cpu_percent": "",
        "grace_minutes": "30",
        "max_actions_per_run": "10",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def policies_seed(now=None) -> dict:
    """A dev account with Vision's and Speech's EC2 GPU instances, each off-hours schedule in its tag, and a
    tag-driven stop/start policy (enabled, dry run, a cap of 2 per run): what the engine would stop now, what it
    skips (keep-alive, prod, a broken schedule tag, the cap), and a price for the stops' hourly saving."""
    now = now or timezone.now()
    account = CloudAccountFactory(account_id="314159265358", name="ml-dev")
    vision = TeamFactory(name="Vision", slug="vision", tag_values=["vision"])
    speech = TeamFactory(name="Speech", slug="speech", tag_values=["speech"])
    Price.objects.create(
        service="ec2", region="us-east-1", instance_type="g5.xlarge", operating_system="Linux", tenancy="Shared",
        hourly_usd=Decimal("1.006"), fetched_on=now.date(),
    )  # fmt: skip

    def instance(instance_id: str, name: str, team, **tags) -> Resource:
        return Resource.objects.create(
            account=account, region="us-east-1", kind="ec2_instance", resource_id=instance_id, name=name,
            instance_type="g5.xlarge", state="running", team=team,
            tags={"team": team.slug, SCHEDULE_TAG: ALWAYS_OFF, **tags}, first_seen=now, last_seen=now,
        )  # fmt: skip

    resources = {
        "notebook": instance("i-0aaa", "vision-dev-gpu", vision),
        "trainer": instance("i-0bbb", "speech-dev-gpu", speech),
        "spare": instance("i-0ccc", "vision-spare-gpu", vision),
        "kept": instance("i-0ddd", "vision-demo", vision, **{"costplane:keep-alive": "true"}),
        "prod": instance("i-0eee", "speech-serving", speech, environment="prod"),
        "broken": instance("i-0fff", "speech-broken", speech, **{SCHEDULE_TAG: "off=(X-F,19)"}),
    }
    operator = UserFactory(username="olga", roles=["operator"])
    policy = policy_create(
        user=operator,
        data={
            "name": "Dev GPUs by tag",
            "action": "stop_start",
            "trigger": "schedule",
            "resource_kinds": ["ec2_instance"],
            "schedule": "",
            "schedule_tag_key": SCHEDULE_TAG,
            "max_actions_per_run": 2,
            "accounts": [account],
        },
    )
    return {"account": account, "vision": vision, "speech": speech, "policy": policy, **resources}


def seed_actions(seeded: dict) -> list[Action]:
    """Let the engine evaluate the policy once: it announces stops for the first two running instances."""
    policy_evaluate(policy_id=seeded["policy"].pk)
    return list(Action.objects.filter(policy=seeded["policy"], state=Action.State.ANNOUNCED).order_by("pk"))


@pytest.fixture
def seeded(db):
    return policies_seed()


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def approver_client(client, team, username="val"):
    user = UserFactory(username=username)
    TeamMembershipFactory(team=team, user=user)
    client.force_login(user)
    return client


# The list and the editor


def test_it_shows_an_empty_state_to_a_viewer_when_there_is_no_policy(viewer_client):
    html = viewer_client.get(URL).content.decode()
    assert "No policies yet" in html
    assert 'id="policy-editor"' not in html


def test_it_lets_an_operator_create_a_policy_that_starts_in_dry_run(operator_client):
    account = CloudAccountFactory(account_id="314159265358", name="ml-dev")
    page = operator_client.get(URL).content.decode()
    assert 'id="policy-editor"' in page
    assert re.search(r'<input type="checkbox" name="dry_run"[^>]*checked', page), "a new policy is in dry run"

    response = operator_client.post(URL, policy_post(accounts=[str(account.pk)]), follow=True)

    policy = Policy.objects.get()
    assert (policy.name, policy.dry_run, policy.enabled, policy.action) == (
        "Dev GPUs off at night", True, True, "stop_start"
    )  # fmt: skip
    assert policy.schedule == "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"
    assert policy.tag_filters == {"team": ["vision", "speech"]}
    assert policy.regions == ["us-east-1"]
    assert list(policy.accounts.all()) == [account]
    assert policy.created_by.username == "otto"
    html = response.content.decode()
    assert "Created policy Dev GPUs off at night, in dry run: it only simulates." in html
    [row] = table_rows(html, "policies-table")
    assert row[0] == "Dev GPUs off at night not evaluated yet"
    assert row[1:4] == ["enabled", "dry run", "Stop and start (EC2 instances, notebook instances)"]
    assert row[4] == "off=(M-F,19);on=(M-F,7);tz=Europe/Berlin"
    assert row[5] == "EC2 instance · ml-dev · us-east-1 · team=vision,speech"
    assert row[6:9] == ["0", "none yet", "not measured yet"]
    assert f'id="policy-preview-name">{policy.name}<' in html, "the new policy's preview opens"


def test_it_creates_an_idle_policy_and_words_its_rule(operator_client):
    data = policy_post(
        name="Idle GPU boxes", trigger="idle", schedule="", resource_kinds=None,
        idle_hours="6", idle_gpu_percent="5", idle_cpu_percent="2.5",
    )  # fmt: skip
    response = operator_client.post(URL, data, follow=True)

    policy = Policy.objects.get()
    assert (policy.trigger, policy.idle_hours, policy.idle_gpu_percent) == ("idle", 6, Decimal("5"))
    [row] = table_rows(response.content.decode(), "policies-table")
    assert row[4] == "Idle rule: GPU < 5%, notebook CPU < 2.5% for 6 h"
    assert row[5] == "EC2 instance, SageMaker notebook instance · all accounts · us-east-1 · team=vision,speech"


def test_it_shows_the_schedule_grammar_error_next_to_the_field_and_saves_nothing(operator_client):
    response = operator_client.post(URL, policy_post(schedule="off=(X-F,19)"))

    assert response.status_code == 400
    assert not Policy.objects.exists()
    html = response.content.decode()
    errors = re.search(r'id="field-schedule".*?id="errors-schedule">(.*?)</ul>', html, re.S)
    assert errors, "the error is shown in the schedule field"
    assert "'X' in 'off=(X-F,19)' is not a day" in text(errors.group(1))
    assert 'value="off=(X-F,19)"' in html, "what was typed is kept"
    assert re.search(r"<details open>", html), "the editor stays open"


def test_it_shows_the_services_field_errors_for_an_idle_rule(operator_client):
    response = operator_client.post(URL, policy_post(trigger="idle", schedule="", idle_hours="6"))

    assert response.status_code == 400
    assert not Policy.objects.exists()
    html = response.content.decode()
    assert "GPU utilisation (%) a machine counts as idle" in text(
        re.search(r'id="errors-idle_gpu_percent">(.*?)</ul>', html, re.S).group(1)
    )


def test_it_lets_an_operator_edit_a_policy_and_leave_dry_run(operator_client, seeded):
    policy = seeded["policy"]
    form = operator_client.get(URL, {"edit": policy.pk}).content.decode()
    assert f'value="{policy.name}"' in form
    assert f'<input type="hidden" name="policy" value="{policy.pk}">' in form

    data = policy_post(policy=str(policy.pk), name=policy.name, schedule="", dry_run=None, max_actions_per_run="2")
    response = operator_client.post(URL, data, follow=True)

    policy.refresh_from_db()
    assert policy.dry_run is False
    assert policy.updated_by.username == "otto"
    assert f"Saved policy {policy.name}, for real: it will act on AWS." in response.content.decode()


def test_it_deletes_a_policy_without_history_and_keeps_one_with_actions(operator_client, seeded):
    unused = policy_create(user=seeded["policy"].created_by, data={"name": "Unused", "action": "scale_to_zero",
                                                                   "schedule": "off=(F,20);on=(M,6)"})  # fmt: skip
    response = operator_client.post(URL, {"command": "delete", "policy": unused.pk}, follow=True)
    assert "Deleted policy Unused." in response.content.decode()
    assert not Policy.objects.filter(pk=unused.pk).exists()

    seed_actions(seeded)
    response = operator_client.post(URL, {"command": "delete", "policy": seeded["policy"].pk}, follow=True)
    assert "This policy has actions (its audit trail): disable it instead of deleting." in text(
        response.content.decode()
    )
    assert Policy.objects.filter(pk=seeded["policy"].pk).exists()


def test_it_refuses_a_viewers_post_and_shows_no_edit_controls(viewer_client, seeded):
    html = viewer_client.get(URL).content.decode()
    assert table_rows(html, "policies-table")[0][0] == "Dev GPUs by tag not evaluated yet"
    for control in ('id="policy-editor"', 'id="new-policy"', "edit-button", 'name="command" value="save"'):
        assert control not in html
    assert "preview-button" in html, "viewers may still preview"

    response = viewer_client.post(URL, policy_post(name="Sneaky"))
    assert response.status_code == 403
    edit = viewer_client.post(URL, policy_post(policy=str(seeded["policy"].pk), name="Renamed"))
    assert edit.status_code == 403
    assert viewer_client.post(URL, {"command": "delete", "policy": seeded["policy"].pk}).status_code == 403
    assert list(Policy.objects.values_list("name", flat=True)) == ["Dev GPUs by tag"]


# The preview


def test_it_previews_what_the_policy_would_do_now_without_acting(viewer_client, seeded):
    response = viewer_client.get(URL, {"preview": seeded["policy"].pk}, **HTMX_PREVIEW)

    html = response.content.decode()
    assert "<html" not in html, "a fragment"
    rows = {row[0].split(" ")[0]: row for row in table_rows(html, "policy-preview-table")}
    assert set(rows) == {
        "vision-dev-gpu", "speech-dev-gpu", "vision-spare-gpu", "vision-demo", "speech-serving", "speech-broken"
    }  # fmt: skip
    would = {name: row[1] for name, row in rows.items()}
    assert sorted(would.values()) == ["would skip"] * 4 + ["would stop"] * 2
    stopping = [name for name, verb in would.items() if verb == "would stop"]
    assert all(f"Off-hours ({ALWAYS_OFF})" in rows[name][2] and rows[name][3] == "$1.01" for name in stopping)
    assert "Opt-out: tagged costplane:keep-alive=true." in rows["vision-demo"][2]
    assert "Prod guard" in rows["speech-serving"][2]
    assert "Resource speech-broken: tag costplane:schedule: 'X' in 'off=(X-F,19)' is not a day" in rows[
        "speech-broken"][2]  # fmt: skip
    capped = [name for name, row in rows.items() if row[2] == "Cap reached (2 per run)."]
    assert len(capped) == 1
    summary = text(re.search(r'id="policy-preview-summary">(.*?)</p>', html, re.S).group(1))
    assert "6 resources selected · 2 would be acted on · 4 skipped · 1 schedule error" in summary
    assert "estimated saving $2.01 an hour" in summary
    assert not Action.objects.exists(), "a preview acts on nothing"


def test_it_opens_the_preview_in_the_full_page_from_its_link(viewer_client, seeded):
    html = viewer_client.get(URL, {"preview": seeded["policy"].pk}).content.decode()
    assert 'id="policy-preview-table"' in html
    assert viewer_client.get(URL, {"preview": "999999"}).status_code == 404


# Upcoming actions, snooze, history, savings


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
    assert policy_row[6] == "5", "two announced, three skipped"
    history = table_rows(html, "policy-history-table")
    changes = [(row[1], row[3]) for row in history]
    assert changes.count(("policy", "created → announced")) == 2
    assert changes.count(("policy", "created → skipped")) == 3, "keep-alive, prod and the cap are recorded"
    assert any("Cap reached (2 per run)." in row[4] for row in history)


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
