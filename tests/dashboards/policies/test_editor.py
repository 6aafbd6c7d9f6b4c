"""The Policies page (/schedules/): the list, the editor (operators) and the preview."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from capacity.models import Action, Policy
from capacity.services.policies import policy_create
from tests.dashboards.policies.support import (
    ALWAYS_OFF,
    HTMX_PREVIEW,
    POLICIES_CLOCK,
    URL,
    policy_post,
    seed_actions,
    table_rows,
    text,
)
from tests.factories import CloudAccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.clock(POLICIES_CLOCK)]


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
    assert row[5] == "EC2 instance · ml-dev (314159265358) · us-east-1 · team=vision,speech"
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
    capped = [name for name, row in rows.items() if row[2] == "Cap reached (2 per run): left for the next run."]
    assert len(capped) == 1
    summary = text(re.search(r'id="policy-preview-summary">(.*?)</p>', html, re.S).group(1))
    assert (
        "6 resources selected · 2 would be acted on · 3 skipped · 1 over the cap, left for the next run · "
        "1 schedule error" in summary
    )
    assert "estimated saving $2.01 an hour" in summary
    assert not Action.objects.exists(), "a preview acts on nothing"


def test_it_opens_the_preview_in_the_full_page_from_its_link(viewer_client, seeded):
    html = viewer_client.get(URL, {"preview": seeded["policy"].pk}).content.decode()
    assert 'id="policy-preview-table"' in html
    assert viewer_client.get(URL, {"preview": "999999"}).status_code == 404


# Upcoming actions, snooze, history, savings
