"""The Capacity plan page: a hand-made quota with a linear forecast (fast), and the small sandbox collected, demand
computed and forecast (the plan the browser tests see, with a real crossing)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import numpy as np
import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from moto import mock_aws

from capacity.models import (
    CapacityReservation,
    CapacityScenario,
    GpuDemandForecast,
    InstanceTypeInfo,
    QuotaDemandDay,
    ScenarioProject,
    ServiceQuota,
)
from capacity.selectors.capacity_plan import capacity_plan
from capacity.selectors.forecasts import gpu_demand_forecast
from capacity.services.demand import gpu_demand_compute
from capacity.services.forecasts import gpu_demand_forecast_refresh
from capacity.services.inventory import inventory_collect
from capacity.services.quotas import quotas_refresh
from capacity.services.reservations import reservations_refresh
from capacity.services.utilisation import utilisation_collect
from finops.services.billing_import import billing_export_import
from sandbox.catalogue import ACCOUNT_IDS, ACCOUNTS
from sandbox.server import seed_exports, seed_machines
from tests.capacity.conftest import REGION, client_factory
from tests.clock import pinned as clock_pinned
from tests.dashboards.test_capacity_page import table_rows, text
from tests.factories import CloudAccountFactory, TeamFactory

# The small sandbox's quotas are tuned so that ml-research's "Running On-Demand P instances" crosses within 180 days
# of this day (tests/capacity/conftest.py NOW, a Monday at 10:00 UTC).
PLAN_CLOCK = "2025-06-16T10:00:00Z"
ML_RESEARCH = ACCOUNT_IDS["ml-research"]
P_QUOTA = "L-417A185B"
P_ROW = f"{ML_RESEARCH}:{REGION}:ec2:{P_QUOTA}"
PAGE = "/capacity/plan/"

pytestmark = pytest.mark.django_db


def sandbox_plan_collect(monkeypatch) -> date:
    """The small sandbox at the pinned clock's day, everything the plan reads: billing imported, inventory,
    utilisation, quotas and reservations collected per account, GPU demand computed and forecast 180 days ahead, as
    the nightly tasks would. The sandbox's own today is the clock's (COSTPLANE_SANDBOX_TODAY), so that its
    reservations and quotas are dated as the page sees them. Returns that day."""
    assert clock_pinned(), "the sandbox follows the clock: pin it with @pytest.mark.clock(PLAN_CLOCK)"
    now = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    today = now.date()
    monkeypatch.setenv("COSTPLANE_SANDBOX_TODAY", today.isoformat())
    monkeypatch.setattr(django_settings, "COSTPLANE_AWS", "sandbox")
    monkeypatch.setattr(django_settings, "COSTPLANE_SANDBOX_ENDPOINT", "")
    accounts = [CloudAccountFactory(account_id=account.id, name=account.name) for account in ACCOUNTS]
    for name in ("vision", "speech", "recsys", "platform"):
        TeamFactory(name=name.title(), slug=name, tag_values=[name])
    with mock_aws():
        seed_machines(None, "small", today, now=now)
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        seed_exports(s3, size="small", today=today)
        billing_export_import(location="s3://costplane-sandbox-exports/exports/costplane-focus/")
        for account in accounts:
            clients = client_factory(account.account_id)
            inventory_collect(account=account, region=REGION, client_factory=clients, now=now)
            utilisation_collect(account=account, region=REGION, until=now, client_factory=clients)
            quotas_refresh(account=account, region=REGION, client_factory=clients, now=now)
            reservations_refresh(account=account, region=REGION, client_factory=clients, now=now)
    gpu_demand_compute(start=today - timedelta(days=420), end=today)
    gpu_demand_forecast_refresh(horizon_days=180, today=today)
    return today


def chart_traces(html: str, container_id: str) -> list[dict]:
    """The plotly traces of the chart inside the element with this id (plotly.io.to_html's Plotly.newPlot call)."""
    block = html[html.index(f'id="{container_id}"') :]
    call = block[block.index("Plotly.newPlot(") :]
    data_start = call.index("[")
    traces, _ = json.JSONDecoder().raw_decode(call[data_start:])
    for trace in traces:
        for axis in ("x", "y", "customdata"):
            if isinstance(trace.get(axis), dict) and "bdata" in trace[axis]:  # plotly's typed-array encoding
                encoded = trace[axis]
                trace[axis] = np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist()
    return traces


def by_id(html: str, element_id: str) -> str:
    """The text of the element with this id, up to its first closing tag (a leaf, or a list's first item)."""
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element {element_id}"
    return text(match.group(1))


def plan_row_cells(html: str, key: str) -> list[str]:
    """The cells of the plan table's row for a quota key (account:region:service:code)."""
    table = html[html.index('id="plan-table"') :]
    row = re.search(rf'<tr[^>]*data-quota="{re.escape(key)}"[^>]*>(.*?)</tr>', table, re.S)
    assert row, f"no plan row {key}"
    return [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def headings(html: str) -> list[str]:
    table = html[html.index('id="plan-table"') :]
    head = table[table.index("<thead") : table.index("</thead>")]
    return [text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


def cell(html: str, key: str, heading: str) -> str:
    return plan_row_cells(html, key)[headings(html).index(heading)]


# A hand-made quota: P instances of 1,000 vCPUs, 400 in use, one idle p5.48xlarge reserved (192 vCPUs), a linear
# forecast (median 400 + 3d, p95 450 + 3d): the median crosses at d 137, the p95 at d 120, request by d 78.
ACCOUNT = "111122223333"


@pytest.fixture
def hand_plan(db):
    today = timezone.now().date()
    account = CloudAccountFactory(account_id=ACCOUNT, name="research")
    InstanceTypeInfo.objects.create(
        instance_type="p5.48xlarge", vcpus=192, memory_mib=2_097_152, accelerator_kind="gpu", gpu_count=8,
        gpu_model="H100", fetched_at=timezone.now(),
    )  # fmt: skip
    ServiceQuota.objects.create(
        account=account, region=REGION, service_code="ec2", quota_code=P_QUOTA, name="Running On-Demand P instances",
        value=Decimal(1000), usage=Decimal(400), unit="None", fetched_at=timezone.now(),
    )  # fmt: skip
    ServiceQuota.objects.create(
        account=account, region=REGION, service_code="ec2", quota_code="L-DB2E81BA",
        name="Running On-Demand G and VT instances", value=Decimal(64), usage=Decimal(0), unit="None",
        fetched_at=timezone.now(),
    )  # fmt: skip
    CapacityReservation.objects.create(
        account=account, region=REGION, reservation_id="cr-0aaa", instance_type="p5.48xlarge",
        total_instance_count=2, available_instance_count=1, state="active",
        start_date=datetime.combine(today - timedelta(30), datetime.min.time(), tzinfo=UTC), fetched_at=timezone.now(),
    )  # fmt: skip
    GpuDemandForecast.objects.create(
        group="quota", value=f"{ACCOUNT}:{REGION}:ec2:{P_QUOTA}", metric="quota_demand", generated_at=timezone.now(),
        history_start=today - timedelta(days=400), history_end=today, horizon_days=180, model="ets_aan",
        points=[
            {"day": (today + timedelta(days=d)).isoformat(), "mean": repr(400.0 + 3 * d),
             "lower_90": repr(350.0 + 3 * d), "upper_90": repr(450.0 + 3 * d)}
            for d in range(180)
        ],
    )  # fmt: skip
    for back in range(1, 31):
        QuotaDemandDay.objects.create(
            account=account, region=REGION, service_code="ec2", quota_code=P_QUOTA, day=today - timedelta(back),
            demand=Decimal(400 - back), source="hourly", computed_at=timezone.now(),
        )  # fmt: skip
    return today


HAND_ROW = f"{ACCOUNT}:{REGION}:ec2:{P_QUOTA}"


def scenario_post(client, *, name="p5 for vision", multiplier="1", projects=(), scenario_id=None, url=PAGE):
    data = {
        "command": "save",
        "name": name,
        "growth_multiplier": multiplier,
        "description": "",
        "projects-TOTAL_FORMS": str(len(projects) + 1),
        "projects-INITIAL_FORMS": "0",
        "projects-MIN_NUM_FORMS": "0",
        "projects-MAX_NUM_FORMS": "1000",
    }
    if scenario_id is not None:
        data["scenario_id"] = str(scenario_id)
    for index, project in enumerate(projects):
        for field, value in project.items():
            data[f"projects-{index}-{field}"] = value
    return client.post(url, data)


def p5_project(start: date, gpus: int = 16, **extra) -> dict:
    return {
        "team": "vision", "instance_type": "p5.48xlarge", "region": REGION, "gpus": str(gpus),
        "start": start.isoformat(), "months": "3", **extra,
    }  # fmt: skip


# Access


def test_it_sends_anonymous_visitors_to_the_login_page(client, hand_plan):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(PAGE, {"command": "delete"}).status_code == 302
    assert not CapacityScenario.objects.exists()


def test_it_forbids_a_signed_in_user_without_a_role(client, nobody, hand_plan):
    client.force_login(nobody)
    assert client.get(PAGE).status_code == 403


def test_a_viewer_reads_the_scenarios_but_cannot_post_the_editor(client, viewer, hand_plan):
    scenario = CapacityScenario.objects.create(name="Twice the demand", growth_multiplier=Decimal(2))
    client.force_login(viewer)
    html = client.get(PAGE).content.decode()
    assert "Twice the demand" in text(html[html.index('id="scenarios-table"') :])
    assert 'id="scenario-form"' not in html and 'id="plan-new-scenario"' not in html
    assert "Read-only: operators edit scenarios." in text(html)
    assert scenario_post(client, projects=[p5_project(hand_plan)]).status_code == 403
    response = client.post(PAGE, {"command": "delete", "scenario_id": str(scenario.pk)})
    assert response.status_code == 403
    assert list(CapacityScenario.objects.values_list("name", flat=True)) == ["Twice the demand"]


# The page over a hand-made plan


def test_it_shows_the_plan_rows_with_crossing_and_request_by_dates(client, viewer, hand_plan):
    today = hand_plan
    client.force_login(viewer)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    rows = table_rows(html, "plan-table")
    assert len(rows) == len(capacity_plan(today=today).items) == 2
    assert cell(html, HAND_ROW, "Median crosses") == (today + timedelta(137)).isoformat()
    assert cell(html, HAND_ROW, "P95 crosses") == (today + timedelta(120)).isoformat()
    assert cell(html, HAND_ROW, "Request by") == (today + timedelta(78)).isoformat()
    assert cell(html, HAND_ROW, "Status") == "ok"
    assert cell(html, HAND_ROW, "Limit") == "1,000 vCPU"
    assert cell(html, HAND_ROW, "Headroom") == "408"
    assert cell(html, HAND_ROW, "Reserved, unused") == "192"
    assert "Status (scenario)" not in headings(html), "no scenario chosen: the base alone"
    assert rows[0][0].startswith("research"), "the crossing quota sorts first"
    assert 'href="/api/v1/capacity-plan?format=csv"' in html


def test_its_capacity_chart_has_the_quota_limit_reservations_and_the_forecast(client, viewer, hand_plan):
    client.force_login(viewer)
    html = client.get(PAGE).content.decode()
    assert 'data-quota="111122223333:us-east-1:ec2:L-417A185B"' in html[html.index('id="plan-quota-chart"') :][:200]
    traces = {trace["name"]: trace for trace in chart_traces(html, "plan-quota-chart")}
    assert {"Quota limit", "Limit less unused reservations", "Demand (history)", "Median (base)"} <= set(traces)
    assert set(traces["Quota limit"]["y"]) == {1000.0}
    assert set(traces["Limit less unused reservations"]["y"]) == {1000.0 - 192}
    assert len(traces["Demand (history)"]["y"]) == 30
    assert traces["95th percentile (base)"]["y"][:2] == [450.0, 453.0]
    assert by_id(html, "plan-quota-request-by") == (hand_plan + timedelta(78)).isoformat()


def test_it_sorts_the_plan_table_by_a_column(client, viewer, hand_plan):
    client.force_login(viewer)
    ascending = table_rows(client.get(PAGE, {"sort": "headroom_now"}).content.decode(), "plan-table")
    descending = table_rows(client.get(PAGE, {"sort": "-headroom_now"}).content.decode(), "plan-table")
    assert [row[1] for row in ascending] == [row[1] for row in reversed(descending)]
    assert ascending[0][1].startswith("Running On-Demand G and VT instances"), "64 vCPUs of headroom, then 408"


def test_it_returns_a_quota_chart_to_htmx(client, viewer, hand_plan):
    client.force_login(viewer)
    key = f"{ACCOUNT}:{REGION}:ec2:L-DB2E81BA"
    response = client.get(PAGE, {"quota": key}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-quota")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert by_id(html, "plan-quota-name").startswith("Running On-Demand G and VT instances")
    assert 'id="plan-quota-chart"' not in html
    assert "No demand history and no forecast for this quota yet" in text(html)


def test_it_shows_a_chosen_scenario_beside_the_base(client, viewer, hand_plan):
    today = hand_plan
    scenario = CapacityScenario.objects.create(name="p5 for vision", growth_multiplier=Decimal(1))
    ScenarioProject.objects.create(
        scenario=scenario, team="vision", instance_type="p5.48xlarge", region=REGION, gpus=16,
        start=today + timedelta(days=30), months=2, account=ACCOUNT,
    )  # fmt: skip
    client.force_login(viewer)
    html = client.get(PAGE, {"scenario": scenario.pk}).content.decode()
    # 16 GPUs = 2 instances = 384 vCPUs from d 30: p95 450 + 90 + 384 + 192 > 1000 at d 30 already.
    assert cell(html, HAND_ROW, "P95 crosses") == (today + timedelta(120)).isoformat()
    assert cell(html, HAND_ROW, "P95 crosses (scenario)") == (today + timedelta(30)).isoformat()
    assert cell(html, HAND_ROW, "Request by (scenario)") == (today + timedelta(30 - 42)).isoformat()
    assert cell(html, HAND_ROW, "Status (scenario)") == "late"
    assert f'href="/api/v1/capacity-plan?format=csv&amp;scenario={scenario.pk}"' in html
    names = {trace["name"] for trace in chart_traces(html, "plan-quota-chart")}
    assert {"Median (base)", "Median (p5 for vision)", "Quota limit"} <= names
    assert "selected>p5 for vision</option>" in html


def test_it_says_so_when_a_scenario_id_is_unknown(client, viewer, hand_plan):
    client.force_login(viewer)
    html = client.get(PAGE, {"scenario": "9999"}).content.decode()
    assert "There is no scenario 9999: showing the base forecast." in text(html)
    assert "Status (scenario)" not in headings(html)


def test_it_shows_empty_states_without_quotas_or_forecasts(client, viewer, operator):
    client.force_login(viewer)
    html = client.get(PAGE).content.decode()
    assert "No GPU quotas collected yet" in html
    assert "No GPU demand yet" in text(html) and "nightly run" in text(html)
    assert 'id="plan-table"' not in html and 'id="plan-refresh-form"' not in html
    client.force_login(operator)
    html = client.get(PAGE).content.decode()
    assert 'id="plan-refresh-form"' in html


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_operators_recompute_from_the_page_and_the_api_runs_on_a_real_worker(client, operator):
    """The page's button and POST /api/v1/forecasts/gpu-demand/refresh queue the recompute; a worker runs it."""
    from capacity.models import CollectionRun
    from tests.integration_support import celery_worker, wait_for

    client.force_login(operator)

    def finished() -> int:
        return CollectionRun.objects.filter(kind=CollectionRun.Kind.FORECASTS, status="succeeded").count()

    with celery_worker(queues="compute", name="plan-refresh"):
        response = client.post(PAGE, {"command": "refresh"}, follow=True)
        assert "Queued a recompute of GPU demand" in response.content.decode()
        assert wait_for(lambda: finished() == 1, timeout=60, interval=0.5), "the page's recompute did not run"
        assert client.post("/api/v1/forecasts/gpu-demand/refresh").status_code == 202
        assert wait_for(lambda: finished() == 2, timeout=60, interval=0.5), "the API's recompute did not run"


# The editor


def test_an_operator_creates_edits_and_deletes_a_scenario(client, operator, hand_plan):
    today = hand_plan
    client.force_login(operator)
    html = client.get(PAGE, {"edit": "new"}).content.decode()
    assert 'id="scenario-form"' in html and "<details open>" in html

    created = scenario_post(client, projects=[p5_project(today + timedelta(days=30), account=ACCOUNT)])
    scenario = CapacityScenario.objects.get(name="p5 for vision")
    assert created.status_code == 302 and created["Location"] == f"{PAGE}?scenario={scenario.pk}"
    (project,) = scenario.projects.all()
    assert (project.gpus, project.instance_type, project.start, project.months, project.account) == (
        16, "p5.48xlarge", today + timedelta(days=30), 3, ACCOUNT,
    )  # fmt: skip
    html = client.get(created["Location"]).content.decode()
    assert "Created scenario p5 for vision" in html
    assert cell(html, HAND_ROW, "P95 crosses (scenario)") == (today + timedelta(30)).isoformat()

    html = client.get(PAGE, {"scenario": scenario.pk, "edit": scenario.pk}).content.decode()
    assert 'value="p5 for vision"' in html and 'name="projects-0-gpus" value="16"' in html
    edited = scenario_post(
        client, name="p5 later", multiplier="1.5", scenario_id=scenario.pk,
        projects=[p5_project(today + timedelta(days=60), gpus=8), p5_project(today + timedelta(days=90), gpus=24)],
    )  # fmt: skip
    assert edited.status_code == 302
    scenario.refresh_from_db()
    assert scenario.name == "p5 later" and scenario.growth_multiplier == Decimal("1.5")
    assert sorted(scenario.projects.values_list("gpus", flat=True)) == [8, 24]

    removed = scenario_post(
        client, name="p5 later", multiplier="1.5", scenario_id=scenario.pk,
        projects=[p5_project(today + timedelta(days=60), gpus=8, DELETE="on"), p5_project(today, gpus=24)],
    )  # fmt: skip
    assert removed.status_code == 302
    assert list(scenario.projects.values_list("gpus", flat=True)) == [24]

    deleted = client.post(PAGE, {"command": "delete", "scenario_id": str(scenario.pk)}, follow=True)
    assert not CapacityScenario.objects.exists() and not ScenarioProject.objects.exists()
    assert "Deleted scenario p5 later." in deleted.content.decode()


def test_a_bad_scenario_shows_each_error_next_to_its_field(client, operator, hand_plan):
    CapacityScenario.objects.create(name="Taken")
    client.force_login(operator)
    response = scenario_post(
        client, name="Taken", multiplier="0",
        projects=[
            p5_project(hand_plan),
            {"team": "", "instance_type": "m5.large", "region": REGION, "gpus": "0", "start": "2027-13-01",
             "months": "2"},
        ],
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert "a scenario named &#x27;Taken&#x27; exists" in by_id(html, "errors-name")
    assert "must be above 0" in by_id(html, "errors-growth_multiplier")
    assert "is required" in by_id(html, "errors-projects-1-team")
    assert "no accelerated instance type" in by_id(html, "errors-projects-1-instance_type")
    assert "whole number" in by_id(html, "errors-projects-1-gpus")
    assert "YYYY-MM-DD" in by_id(html, "errors-projects-1-start")
    assert 'id="errors-projects-0-' not in html, "the good project has no errors"
    assert 'name="projects-1-instance_type" value="m5.large"' in html, "what was typed is kept"
    assert list(CapacityScenario.objects.values_list("name", flat=True)) == ["Taken"]


# The small sandbox


@pytest.mark.clock(PLAN_CLOCK)
def test_the_sandbox_plan_page_shows_a_crossing_quota_its_chart_and_the_forecast_scores(client, viewer, monkeypatch):
    today = sandbox_plan_collect(monkeypatch)
    plan = capacity_plan(today=today)
    client.force_login(viewer)
    html = client.get(PAGE).content.decode()
    assert len(table_rows(html, "plan-table")) == len(plan.items) >= 5
    crossing = next(item for item in plan.items if item.account == ML_RESEARCH and item.quota_code == P_QUOTA)
    assert crossing.cross_date_p95 is not None and crossing.cross_date_p95 < today + timedelta(days=180)
    assert cell(html, P_ROW, "P95 crosses") == crossing.cross_date_p95.isoformat()
    assert cell(html, P_ROW, "Request by") == crossing.request_by.isoformat()
    assert cell(html, P_ROW, "Status") == crossing.status
    assert 'data-quota="' + P_ROW + '"' in html[html.index('id="plan-quota-chart"') :][:200], "the crossing is charted"
    traces = {trace["name"] for trace in chart_traces(html, "plan-quota-chart")}
    assert {"Quota limit", "Demand (history)", "Median (base)", "95th percentile (base)"} <= traces

    fleet = gpu_demand_forecast(params={"group": "fleet", "metric": "gpu_hours", "levels": "80,95"}, today=today)
    scores = text(html[html.index('id="plan-forecast-scores"') :].split("</ul>")[0])
    assert f"{fleet['scores']['mase']:.3f}" in scores and f"{fleet['scores']['snaive_mase']:.3f}" in scores
    names = {trace.get("name") for trace in chart_traces(html, "plan-forecast-chart")}
    assert {"History", "Median (base)", "80% interval", "95% interval"} <= names

    response = client.get(
        PAGE, {"group": "team", "value": "vision", "metric": "peak_gpus"}, HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="plan-forecast",
    )  # fmt: skip
    panel = response.content.decode()
    assert "<html" not in panel and "selected>Peak GPUs per day</option>" in panel
    assert "Peak GPUs per day of Team vision" in text(panel)
