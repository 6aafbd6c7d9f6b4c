"""Helpers for the Policies page tests: reading tables and KPIs out of the HTML, a policy form post, a seeded fleet."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

from django.urls import reverse
from django.utils import timezone

from capacity.models import Action, Price, Resource
from capacity.schedules import DAY_LETTERS
from capacity.services.policies import policy_create, policy_evaluate
from tests.clock import instant_parse
from tests.factories import CloudAccountFactory, TeamFactory, TeamMembershipFactory, UserFactory

URL = reverse("dashboards:schedules")


HTMX_PREVIEW = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "policy-preview"}
# Off from midnight UTC on today's weekday, on again three days later: the schedule is off now, and its next "on"
# is days away, so a snooze of a few hours never reaches it (one of a week does).


# The page's tests run at this instant, a Wednesday (tests/clock.py): ALWAYS_OFF is built from one day's weekday, and
# a test that ran past the next midnight found nothing announced (COSTPLANE_TEST_CLOCK=2026-11-30T23:59:59Z showed it).
POLICIES_CLOCK = "2026-11-18T10:00:00Z"
_TODAY = instant_parse(POLICIES_CLOCK).weekday()


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


def approver_client(client, team, username="val"):
    user = UserFactory(username=username)
    TeamMembershipFactory(team=team, user=user)
    client.force_login(user)
    return client


# The list and the editor
